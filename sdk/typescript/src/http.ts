import { BasaltError, abortError, errorFromResponse, networkError } from "./errors.js";
import type { operations } from "./generated/openapi.js";

/** The operationId of a route of the server's OpenAPI document. */
export type OperationId = keyof operations;

export type QueryValue = string | number | boolean | null | undefined;

export interface SendOptions {
  method?: string;
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  body?: unknown;
  /** A raw body (storage uploads); sent as is. */
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  /** Attach the current access token (default true). */
  auth?: boolean;
  signal?: AbortSignal | undefined;
  /** How to read a 2xx answer (default `json`; an empty body gives `undefined`). */
  responseType?: "json" | "text" | "bytes" | "blob" | "none";
}

export interface RequestContext {
  operation: OperationId;
  url: string;
  init: RequestInit & { headers: Record<string, string> };
}

export interface Hooks {
  /** Called before every request; may change `ctx.url` and `ctx.init` in place. */
  beforeSend?: (ctx: RequestContext) => void | Promise<void>;
  /** Called after every answer, 2xx or not, before it is read. */
  afterSend?: (ctx: RequestContext, response: Response) => void | Promise<void>;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface CoreConfig {
  url: string;
  fetch: FetchLike;
  hooks: Hooks;
  /** The token for the Authorization header (refreshed first when it is about to expire). */
  token: () => Promise<string | null>;
  headers: Record<string, string>;
}

/** Encodes each segment of a path on its own, so `/` stays a separator. */
/**
 * One path segment (an id, a collection or bucket name), encoded whole: a
 * `/` in it stays inside the segment. `.`, `..` and the empty string are
 * refused, since URL resolution would turn them into another route (one
 * that would receive the caller's token).
 */
export function encodeSegment(segment: string): string {
  if (segment === "" || segment === "." || segment === "..") {
    throw new BasaltError({
      status: 0,
      code: "invalid_argument",
      message: `${JSON.stringify(segment)} cannot be a path segment`,
    });
  }
  return encodeURIComponent(segment);
}

/** A path of several segments (a storage object's path): each encoded by `encodeSegment`. */
export function encodePath(path: string): string {
  return path.split("/").map(encodeSegment).join("/");
}

export function buildUrl(base: string, path: string, query?: Record<string, QueryValue>): string {
  let url = base + path;
  if (query) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      parts.push(v === "" ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    }
    if (parts.length) url += (url.includes("?") ? "&" : "?") + parts.join("&");
  }
  return url;
}

/** The one place that talks HTTP: every facade call goes through `send`. */
export class Core {
  readonly url: string;
  readonly fetch: FetchLike;
  readonly hooks: Hooks;
  readonly token: () => Promise<string | null>;
  readonly headers: Record<string, string>;

  constructor(config: CoreConfig) {
    this.url = config.url.replace(/\/+$/, "");
    this.fetch = config.fetch;
    this.hooks = config.hooks;
    this.token = config.token;
    this.headers = config.headers;
  }

  async send<T>(operation: OperationId, path: string, opts: SendOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...this.headers, ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.rawBody !== undefined) {
      body = opts.rawBody;
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] = "application/json";
    }
    if (opts.auth !== false) {
      const token = await this.token();
      if (token) headers["authorization"] = `Bearer ${token}`;
    }
    const init: RequestInit & { headers: Record<string, string>; duplex?: string } = {
      method: opts.method ?? "GET",
      headers,
    };
    if (body !== undefined) init.body = body;
    if (opts.signal) init.signal = opts.signal;
    if (body !== undefined && typeof ReadableStream !== "undefined" && body instanceof ReadableStream) {
      init.duplex = "half";
    }
    const ctx: RequestContext = { operation, url: buildUrl(this.url, path, opts.query), init };
    await this.hooks.beforeSend?.(ctx);
    let response: Response;
    try {
      response = await this.fetch(ctx.url, ctx.init);
    } catch (e) {
      if (opts.signal?.aborted) throw abortError(e);
      throw networkError(e);
    }
    await this.hooks.afterSend?.(ctx, response);
    return readResponse<T>(response, opts.responseType ?? "json", opts.signal);
  }
}

export async function readResponse<T>(
  response: Response,
  type: NonNullable<SendOptions["responseType"]>,
  signal?: AbortSignal,
): Promise<T> {
  const requestId = response.headers.get("x-request-id");
  try {
    if (!response.ok) {
      throw errorFromResponse(response.status, requestId, await response.text());
    }
    switch (type) {
      case "none":
        await response.body?.cancel();
        return undefined as T;
      case "text":
        return (await response.text()) as T;
      case "bytes":
        return new Uint8Array(await response.arrayBuffer()) as T;
      case "blob":
        return (await response.blob()) as T;
      default: {
        const text = await response.text();
        if (!text) return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch (e) {
          throw new BasaltError({
            status: response.status,
            code: "internal",
            message: "the server answered with something that is not JSON",
            requestId,
            cause: e,
          });
        }
      }
    }
  } catch (e) {
    if (e instanceof BasaltError) throw e;
    if (signal?.aborted) throw abortError(e);
    throw networkError(e);
  }
}
