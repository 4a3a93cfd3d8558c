import { BasaltError, abortError, errorFromResponse, networkError } from "./errors.js";
import type { Core } from "./http.js";
import { buildUrl, encodePath, encodeSegment } from "./http.js";
import type { AnyDatabase } from "./documents.js";
import type { CoreClient } from "./base.js";

export interface ObjectInfo {
  bucket: string;
  path: string;
  size: number;
  contentType: string;
  etag: string;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

type WireObject = {
  bucket: string;
  path: string;
  size: number;
  content_type: string;
  etag: string;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
};

function toObject(o: WireObject): ObjectInfo {
  return {
    bucket: o.bucket,
    path: o.path,
    size: o.size,
    contentType: o.content_type,
    etag: o.etag,
    metadata: o.metadata ?? {},
    createdAt: o.created_at,
    updatedAt: o.updated_at,
  };
}

export interface UploadProgress {
  loaded: number;
  total: number | null;
}

export interface UploadOptions {
  contentType?: string;
  /** Becomes `x-basalt-meta-*` headers. */
  metadata?: Record<string, string>;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
}

export type UploadBody = Blob | Uint8Array | ArrayBuffer | string | ReadableStream<Uint8Array>;

const CHUNK = 64 * 1024;
const hasXhr = () => typeof (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest === "function";

function sizeOf(body: UploadBody): number | null {
  if (typeof body === "string") return new TextEncoder().encode(body).byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof Blob !== "undefined" && body instanceof Blob) return body.size;
  return null;
}

/** A stream over the body that counts the bytes as the request reads them. */
function countingStream(body: UploadBody, total: number | null, onProgress: (p: UploadProgress) => void): ReadableStream<Uint8Array> {
  let loaded = 0;
  let source: ReadableStream<Uint8Array>;
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) source = body;
  else if (typeof Blob !== "undefined" && body instanceof Blob) source = body.stream() as ReadableStream<Uint8Array>;
  else {
    const bytes =
      typeof body === "string" ? new TextEncoder().encode(body) : body instanceof ArrayBuffer ? new Uint8Array(body) : (body as Uint8Array);
    let offset = 0;
    source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.byteLength) {
          controller.close();
          return;
        }
        const end = Math.min(bytes.byteLength, offset + CHUNK);
        controller.enqueue(bytes.subarray(offset, end));
        offset = end;
      },
    });
  }
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      loaded += value.byteLength;
      onProgress({ loaded, total });
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** `basalt.storage.bucket(name)`: the files of one bucket. */
export class Bucket {
  constructor(
    private readonly core: Core,
    readonly name: string,
  ) {}

  private objectPath(path: string): string {
    return `/v1/storage/${encodeSegment(this.name)}/${encodePath(path)}`;
  }

  async upload(path: string, body: UploadBody, opts: UploadOptions = {}): Promise<ObjectInfo> {
    const headers: Record<string, string> = {};
    const type = opts.contentType ?? (typeof Blob !== "undefined" && body instanceof Blob && body.type ? body.type : "application/octet-stream");
    headers["content-type"] = type;
    for (const [k, v] of Object.entries(opts.metadata ?? {})) headers[`x-basalt-meta-${k}`] = v;
    if (opts.signal?.aborted) throw abortError(opts.signal.reason);
    if (hasXhr() && opts.onProgress) return this.uploadXhr(path, body, headers, opts);
    const total = sizeOf(body);
    let raw: BodyInit;
    if (opts.onProgress || (typeof ReadableStream !== "undefined" && body instanceof ReadableStream)) {
      raw = countingStream(body, total, opts.onProgress ?? (() => undefined));
    } else {
      raw = body as BodyInit;
    }
    if (total !== null && typeof ReadableStream !== "undefined" && raw instanceof ReadableStream) {
      headers["content-length"] = String(total);
    }
    const o = await this.core.send<WireObject>("put_storage_by_bucket_by_path", this.objectPath(path), {
      method: "PUT",
      rawBody: raw,
      headers,
      signal: opts.signal,
    });
    return toObject(o);
  }

  /** Browsers: XMLHttpRequest, the one API that reports upload progress. */
  private async uploadXhr(path: string, body: UploadBody, headers: Record<string, string>, opts: UploadOptions): Promise<ObjectInfo> {
    const token = await this.core.token();
    const url = buildUrl(this.core.url, this.objectPath(path));
    return new Promise<ObjectInfo>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      for (const [k, v] of Object.entries({ ...this.core.headers, ...headers })) {
        if (k !== "content-length") xhr.setRequestHeader(k, v);
      }
      if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
      xhr.upload.onprogress = (e) => opts.onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : null });
      xhr.onload = () => {
        const requestId = xhr.getResponseHeader("x-request-id");
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            resolve(toObject(JSON.parse(xhr.responseText) as WireObject));
          } catch (e) {
            reject(new BasaltError({ status: xhr.status, code: "internal", message: "the answer is not JSON", requestId, cause: e }));
          }
        } else reject(errorFromResponse(xhr.status, requestId, xhr.responseText));
      };
      xhr.onerror = () => reject(networkError(new Error("upload failed")));
      xhr.onabort = () => reject(abortError(opts.signal?.reason));
      opts.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
      xhr.send(body as XMLHttpRequestBodyInit);
    });
  }

  /** The object's bytes: a Blob in browsers, a Uint8Array on Node. */
  async download(path: string): Promise<Blob | Uint8Array> {
    const isBrowser = typeof (globalThis as { document?: unknown }).document !== "undefined";
    return this.core.send<Blob | Uint8Array>("get_storage_by_bucket_by_path", this.objectPath(path), {
      headers: { accept: "*/*" },
      responseType: isBrowser ? "blob" : "bytes",
    });
  }

  /** The object's metadata (a `HEAD` request). */
  async info(path: string): Promise<ObjectInfo> {
    // HEAD answers headers only; the listing gives the full object, so ask it for this path.
    const page = await this.list({ prefix: path, limit: 1000 });
    const found = page.objects.find((o) => o.path === path);
    if (!found) throw new BasaltError({ status: 404, code: "not_found", message: `no object ${path} in bucket ${this.name}` });
    return found;
  }

  async list(opts: { prefix?: string; limit?: number; after?: string | null } = {}): Promise<{ objects: ObjectInfo[]; nextCursor: string | null }> {
    const r = await this.core.send<{ objects: WireObject[]; next_cursor: string | null }>(
      "get_storage_by_bucket",
      `/v1/storage/${encodeSegment(this.name)}`,
      { query: { prefix: opts.prefix, limit: opts.limit, after: opts.after } },
    );
    return { objects: r.objects.map(toObject), nextCursor: r.next_cursor ?? null };
  }

  async remove(path: string): Promise<void> {
    await this.core.send("delete_storage_by_bucket_by_path", this.objectPath(path), { method: "DELETE", responseType: "none" });
  }

  /** The object's address in a public bucket (no token needed). */
  url(path: string): string {
    return this.core.url + this.objectPath(path);
  }

  /** An absolute URL that downloads the object without a token until it expires. */
  async signedUrl(path: string, opts: { expiresIn: number }): Promise<string> {
    const r = await this.core.send<{ url: string }>("post_storage_by_bucket_by_path", this.objectPath(path), {
      method: "POST",
      query: { sign: "" },
      body: { expires_in: opts.expiresIn },
    });
    return new URL(r.url, this.core.url + "/").toString();
  }
}

export class StorageApi {
  constructor(private readonly core: Core) {}
  bucket(name: string): Bucket {
    return new Bucket(this.core, name);
  }
}

const apis = new WeakMap<CoreClient<AnyDatabase>, StorageApi>();

/** The file storage of a client: `getStorage(basalt).bucket("avatars")`. */
export function getStorage(client: CoreClient<AnyDatabase>): StorageApi {
  let api = apis.get(client);
  if (!api) {
    api = new StorageApi(client.core);
    apis.set(client, api);
  }
  return api;
}
