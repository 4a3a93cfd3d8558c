import { CoreClient } from "./base.js";
import type { ClientOptions } from "./base.js";
import { DocumentCollection } from "./documents.js";
import type { AnyDatabase, CollectionName, DataOf, Filter } from "./documents.js";
import { getRealtime } from "./realtime.js";
import type { Channel, LiveQuery, Realtime, SubscribeOptions, Subscription, SubscriptionEvent } from "./realtime.js";
import { getStorage } from "./files.js";
import type { StorageApi } from "./files.js";
import { getPush } from "./push.js";
import type { Push } from "./push.js";

export type { ClientOptions } from "./base.js";

/** `basalt.collection(name)`: the documents of one collection, over HTTP and live. */
export class Collection<T = Record<string, unknown>> extends DocumentCollection<T> {
  constructor(
    private readonly client: CoreClient<AnyDatabase>,
    name: string,
  ) {
    super(client.core, name);
  }

  /** Watches one document (`id`) or the documents matching `where`. */
  subscribe(filter: { where?: Filter<T>; id?: string }, callback: (event: SubscriptionEvent<T>) => void, opts: SubscribeOptions = {}): Subscription {
    return getRealtime(this.client).subscribe<T>(this.name, filter, callback, opts);
  }

  /** A live query: `documents` stays current. */
  live(filter: { where?: Filter<T>; id?: string } = {}): LiveQuery<T> {
    return getRealtime(this.client).live<T>(this.name, filter);
  }
}

/** The whole client: auth, documents, realtime, storage, functions and push notifications. */
export class BasaltClient<DB extends AnyDatabase = AnyDatabase> extends CoreClient<DB> {
  readonly storage: StorageApi;
  /** This device's push notifications: `subscribe()` in a browser, `register()` in a mobile app. */
  readonly push: Push;

  constructor(url: string, options: ClientOptions = {}) {
    super(url, options);
    this.storage = getStorage(this as unknown as CoreClient<AnyDatabase>);
    this.push = getPush(this);
  }

  /** The realtime connection, opened on first use. */
  get realtime(): Realtime {
    return getRealtime(this as unknown as CoreClient<AnyDatabase>);
  }

  override collection<K extends CollectionName<DB>>(name: K): Collection<DataOf<DB, K>>;
  override collection<T extends object>(name: CollectionName<DB>): Collection<T>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override collection(name: string): Collection<any> {
    return new Collection<Record<string, unknown>>(this as unknown as CoreClient<AnyDatabase>, name);
  }

  channel(name: string): Channel {
    return this.realtime.channel(name);
  }
}

export function createClient<DB extends AnyDatabase = AnyDatabase>(url: string, options: ClientOptions = {}): BasaltClient<DB> {
  return new BasaltClient<DB>(url, options);
}
