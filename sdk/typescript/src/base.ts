import { Auth } from "./auth.js";
import { DocumentCollection, runBatch } from "./documents.js";
import type { AnyDatabase, BatchOperation, CollectionName, DataOf, Doc } from "./documents.js";
import { Core } from "./http.js";
import type { FetchLike, Hooks } from "./http.js";
import { Functions } from "./functions.js";
import { defaultStorage } from "./storage.js";
import type { AuthStorage } from "./storage.js";

/** The part of the WebSocket API the client uses (browsers' WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** Where the session is kept: memory on Node, localStorage in browsers, or your own. */
  storage?: AuthStorage;
  /** The key under which the session is stored (default `basalt.session:<url>`). */
  storageKey?: string;
  /** Defaults to globalThis.fetch. */
  fetch?: FetchLike;
  /** Defaults to globalThis.WebSocket (pass the `ws` package on Node 20). */
  WebSocket?: WebSocketConstructor | (new (url: string) => unknown);
  /** Refresh the session before it expires (default true). */
  autoRefresh?: boolean;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /** Hooks around every HTTP request. */
  hooks?: Hooks;
  /** Act with a service key (`bsk_…`) instead of a user session: for servers and scripts only. */
  serviceKey?: string;
}

/**
 * Auth, documents and functions: the client without realtime, storage and push, so a bundle that
 * does not use those does not carry them. `getRealtime(client)`, `getStorage(client)` and
 * `getPush(client)` (from `@basalt/client/realtime`, `@basalt/client/storage` and
 * `@basalt/client/push`) add them; `createClient` from `@basalt/client` has everything.
 */
export class CoreClient<DB extends AnyDatabase = AnyDatabase> {
  readonly url: string;
  readonly auth: Auth;
  readonly functions: Functions;
  /** @internal */
  readonly core: Core;
  /** @internal */
  readonly options: ClientOptions;
  private closers: (() => void)[] = [];

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.options = options;
    const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const serviceKey = options.serviceKey;
    this.core = new Core({
      url: this.url,
      fetch: fetchImpl,
      hooks: options.hooks ?? {},
      headers: options.headers ?? {},
      token: () => (serviceKey ? Promise.resolve(serviceKey) : this.auth.accessToken()),
    });
    this.auth = new Auth(this.core, {
      storage: options.storage ?? defaultStorage(),
      storageKey: options.storageKey ?? `basalt.session:${this.url}`,
      autoRefresh: options.autoRefresh ?? true,
    });
    this.functions = new Functions(this.core);
  }

  collection<K extends CollectionName<DB>>(name: K): DocumentCollection<DataOf<DB, K>>;
  collection<T extends object>(name: CollectionName<DB>): DocumentCollection<T>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  collection(name: string): DocumentCollection<any> {
    return new DocumentCollection<Record<string, unknown>>(this.core, name);
  }

  /** All the operations or none; one result per operation, in order (null for a delete). */
  batch(operations: readonly BatchOperation<DB>[]): Promise<(Doc | null)[]> {
    return runBatch(this.core, operations as readonly BatchOperation<AnyDatabase>[]);
  }

  /** @internal Runs `fn` when the client is closed (realtime and storage hook in here). */
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }

  /** Closes the socket and stops the refresh timer; the stored session stays. */
  close(): void {
    for (const fn of this.closers.splice(0)) fn();
    this.auth.close();
  }
}

/** A client with auth, documents and functions only (see `CoreClient`). */
export function createCoreClient<DB extends AnyDatabase = AnyDatabase>(url: string, options: ClientOptions = {}): CoreClient<DB> {
  return new CoreClient<DB>(url, options);
}
