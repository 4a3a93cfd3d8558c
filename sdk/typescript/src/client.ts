import { Auth } from "./auth.js";
import { Collection, runBatch } from "./documents.js";
import type { AnyDatabase, BatchOperation, Doc } from "./documents.js";
import { Core } from "./http.js";
import type { FetchLike, Hooks } from "./http.js";
import { Functions } from "./functions.js";
import { Realtime } from "./realtime.js";
import type { Channel, WebSocketConstructor } from "./realtime.js";
import { StorageApi } from "./files.js";
import { defaultStorage } from "./storage.js";
import type { AuthStorage } from "./storage.js";

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

export class BasaltClient<DB extends AnyDatabase = AnyDatabase> {
  readonly url: string;
  readonly auth: Auth;
  readonly storage: StorageApi;
  readonly functions: Functions;
  /** @internal */
  readonly core: Core;
  private rt: Realtime | null = null;
  private readonly wsCtor: WebSocketConstructor | undefined;
  private unlisten: () => void;

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
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
    this.storage = new StorageApi(this.core);
    this.functions = new Functions(this.core);
    this.wsCtor = options.WebSocket as WebSocketConstructor | undefined;
    this.unlisten = this.auth.onChange((event, session) => {
      if (!this.rt) return;
      if (event === "signed_out") this.rt.reconnect();
      else if (event === "signed_in" || event === "token_refreshed") this.rt.sendToken(session?.accessToken ?? null);
    });
  }

  /** The realtime connection, opened on first use. */
  get realtime(): Realtime {
    if (!this.rt) {
      this.rt = new Realtime({ url: this.url, WebSocket: this.wsCtor, token: () => this.core.token() });
    }
    return this.rt;
  }

  collection<K extends keyof DB & string>(name: K): Collection<DB[K]>;
  collection<T = Record<string, unknown>>(name: string): Collection<T>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  collection(name: string): Collection<any> {
    return new Collection<Record<string, unknown>>(this.core, () => this.realtime, name);
  }

  /** All the operations or none; one result per operation, in order (null for a delete). */
  batch(operations: readonly BatchOperation[]): Promise<(Doc | null)[]> {
    return runBatch(this.core, operations);
  }

  channel(name: string): Channel {
    return this.realtime.channel(name);
  }

  /** Closes the socket and stops the refresh timer; the stored session stays. */
  close(): void {
    this.unlisten();
    this.rt?.close();
    this.auth.close();
  }
}

export function createClient<DB extends AnyDatabase = AnyDatabase>(url: string, options: ClientOptions = {}): BasaltClient<DB> {
  return new BasaltClient<DB>(url, options);
}
