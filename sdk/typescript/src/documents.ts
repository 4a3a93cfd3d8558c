import type { Core } from "./http.js";
import { encodeSegment } from "./http.js";
import type { components } from "./generated/openapi.js";

type WireDoc = { id: string; collection: string; version: number; created_at: string; updated_at: string; data: unknown };

/** A stored document, with camelCase metadata. */
export interface Doc<T = Record<string, unknown>> {
  id: string;
  collection: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  data: T;
}

export function toDoc<T>(d: WireDoc): Doc<T> {
  return {
    id: d.id,
    collection: d.collection,
    version: d.version,
    createdAt: d.created_at,
    updatedAt: d.updated_at,
    data: d.data as T,
  };
}

/** The collections of an app and the type of each one's `data`. */
export type AnyDatabase = Record<string, object>;

/** True when `DB` names its collections (a `Database` type), false for the untyped default. */
type Untyped<DB> = string extends keyof DB ? true : false;

/** The collection names a client accepts: those of `DB`, or any string without a `Database` type. */
export type CollectionName<DB> = Untyped<DB> extends true ? string : Extract<keyof DB, string>;

/** The type of `data` in collection `K` of `DB` (a plain JSON object without a `Database` type). */
export type DataOf<DB, K> = Untyped<DB> extends true ? Record<string, unknown> : K extends keyof DB ? DB[K] : never;

type Scalar = string | number | boolean | null;
type Meta = "id" | "created_at" | "updated_at";
type Depth = [never, 0, 1, 2, 3];

/** Dotted paths into T (up to four levels), arrays being leaves. */
type Paths<T, D extends number = 3> = [D] extends [never]
  ? never
  : T extends readonly unknown[]
    ? never
    : T extends object
      ? {
          [K in keyof T & string]: K | (NonNullable<T[K]> extends readonly unknown[] ? never : NonNullable<T[K]> extends object ? `${K}.${Paths<NonNullable<T[K]>, Depth[D]>}` : never);
        }[keyof T & string]
      : never;

/** A path a filter, `orderBy` or `select` may name: a dotted path of `T`, or `id`, `created_at`, `updated_at`. */
export type FieldPath<T> = Paths<T> | Meta;

/** The type of the value at dotted path `P` of `T`. */
export type PathValue<T, P extends string> = P extends Meta
  ? P extends keyof T
    ? T[P]
    : string
  : P extends keyof T
    ? T[P]
    : P extends `${infer K}.${infer R}`
      ? K extends keyof T
        ? PathValue<NonNullable<T[K]>, R>
        : unknown
      : unknown;

type ElementOf<V> = V extends readonly (infer E)[] ? E : unknown;

export type FilterOp =
  | "=="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">="
  | "in"
  | "not_in"
  | "array_contains"
  | "array_contains_any"
  | "exists"
  | "prefix";

/** One condition `[path, op, value]`, its value typed by the path and the operator. */
type Condition<P extends string, V> =
  | readonly [P, "==" | "!=", V | null]
  | readonly [P, "<" | "<=" | ">" | ">=", V]
  | readonly [P, "in" | "not_in", readonly (V | null)[]]
  | readonly [P, "array_contains", ElementOf<V>]
  | readonly [P, "array_contains_any", readonly ElementOf<V>[]]
  | readonly [P, "exists", boolean]
  | readonly [P, "prefix", string];

type Conditions<T> = { [P in FieldPath<T>]: Condition<P, NonNullable<PathValue<T, P>>> }[FieldPath<T>];

/** A filter: `[path, op, value]`, `{and: [...]}`, `{or: [...]}`, or a list of filters (AND). */
export type Filter<T = Record<string, unknown>> =
  | Conditions<T>
  | { and: readonly Filter<T>[] }
  | { or: readonly Filter<T>[] }
  | readonly Filter<T>[];

export interface Query<T> {
  where?: Filter<T>;
  orderBy?: readonly (readonly [FieldPath<T>, "asc" | "desc"])[] | FieldPath<T>;
  limit?: number;
  after?: string | null;
  select?: readonly FieldPath<T>[];
}

export interface Page<T> {
  documents: Doc<T>[];
  nextCursor: string | null;
}

export interface UpdateFields<T> {
  /** A JSON Merge Patch of `data`. */
  data?: Partial<T> | Record<string, unknown>;
  increment?: Record<string, number>;
  serverTime?: string[];
  arrayUnion?: Record<string, Scalar[] | unknown[]>;
  arrayRemove?: Record<string, Scalar[] | unknown[]>;
}

export interface WriteOptions {
  /** The version the stored document must have: sent as `If-Match`. */
  ifVersion?: number;
}

/** One operation of `basalt.batch`; with a `Database` type, `collection` and `data` are checked. */
export type BatchOperation<DB extends AnyDatabase = AnyDatabase> = {
  [K in CollectionName<DB>]:
    | { op: "create"; collection: K; id?: string; data: DataOf<DB, K> }
    | { op: "set"; collection: K; id: string; data: DataOf<DB, K>; ifVersion?: number }
    | ({ op: "update"; collection: K; id: string; ifVersion?: number } & UpdateFields<DataOf<DB, K>>)
    | { op: "delete"; collection: K; id: string; ifVersion?: number };
}[CollectionName<DB>];

function ifMatch(opts?: WriteOptions): Record<string, string> {
  return opts?.ifVersion !== undefined ? { "if-match": `"${opts.ifVersion}"` } : {};
}

export function patchBody<T>(u: UpdateFields<T>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (u.data !== undefined) body["data"] = u.data;
  if (u.increment !== undefined) body["increment"] = u.increment;
  if (u.serverTime !== undefined) body["server_time"] = u.serverTime;
  if (u.arrayUnion !== undefined) body["array_union"] = u.arrayUnion;
  if (u.arrayRemove !== undefined) body["array_remove"] = u.arrayRemove;
  return body;
}

export function queryBody<T>(q: Query<T>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (q.where !== undefined) body["where"] = q.where;
  if (q.orderBy !== undefined) {
    body["order_by"] = typeof q.orderBy === "string" ? [[q.orderBy, "asc"]] : q.orderBy;
  }
  if (q.limit !== undefined) body["limit"] = q.limit;
  if (q.after !== undefined && q.after !== null) body["after"] = q.after;
  if (q.select !== undefined) body["select"] = q.select;
  return body;
}

/** `basalt.collection(name)` of a core client: the documents of one collection, over HTTP. */
export class DocumentCollection<T = Record<string, unknown>> {
  private readonly base: string;

  constructor(
    /** @internal */
    readonly core: Core,
    readonly name: string,
  ) {
    this.base = `/v1/db/${encodeSegment(name)}`;
  }

  async create(data: T, opts?: { id?: string }): Promise<Doc<T>> {
    const d = await this.core.send<WireDoc>("post_db_by_collection", this.base, {
      method: "POST",
      body: { data, ...(opts?.id !== undefined ? { id: opts.id } : {}) },
    });
    return toDoc<T>(d);
  }

  /** Rejects with code `not_found` when there is no such document (or the rule hides it). */
  async get(id: string): Promise<Doc<T>> {
    return toDoc<T>(await this.core.send<WireDoc>("get_db_by_collection_by_id", `${this.base}/${encodeSegment(id)}`));
  }

  /** Replaces (or creates) the document: `PUT`. */
  async set(id: string, data: T, opts?: WriteOptions): Promise<Doc<T>> {
    const d = await this.core.send<WireDoc>("put_db_by_collection_by_id", `${this.base}/${encodeSegment(id)}`, {
      method: "PUT",
      body: { data },
      headers: ifMatch(opts),
    });
    return toDoc<T>(d);
  }

  /** Changes parts of the document: merge patch, increments, server times, array union/remove. */
  async update(id: string, fields: UpdateFields<T>, opts?: WriteOptions): Promise<Doc<T>> {
    const d = await this.core.send<WireDoc>("patch_db_by_collection_by_id", `${this.base}/${encodeSegment(id)}`, {
      method: "PATCH",
      body: patchBody(fields),
      headers: ifMatch(opts),
    });
    return toDoc<T>(d);
  }

  async delete(id: string, opts?: WriteOptions): Promise<void> {
    await this.core.send("delete_db_by_collection_by_id", `${this.base}/${encodeSegment(id)}`, {
      method: "DELETE",
      headers: ifMatch(opts),
      responseType: "none",
    });
  }

  /** One page of a query. */
  async query(q: Query<T> = {}): Promise<Page<T>> {
    const r = await this.core.send<components["schemas"]["DocumentList"]>("post_db_by_collection_query", `${this.base}/query`, {
      method: "POST",
      body: queryBody(q),
    });
    return {
      documents: (r.documents as unknown as WireDoc[]).map((d) => toDoc<T>(d)),
      nextCursor: (r.next_cursor as string | null | undefined) ?? null,
    };
  }

  /** Every matching document, page after page. */
  async *queryAll(q: Omit<Query<T>, "after"> = {}): AsyncGenerator<Doc<T>, void, undefined> {
    let after: string | null = null;
    do {
      const page: Page<T> = await this.query({ ...q, after });
      for (const d of page.documents) yield d;
      after = page.nextCursor;
    } while (after);
  }

  /** The simple listing (`GET`): by id, or by one field (`order: "-age"`). */
  async list(opts: { limit?: number; after?: string | null; order?: string } = {}): Promise<Page<T>> {
    const r = await this.core.send<components["schemas"]["DocumentList"]>("get_db_by_collection", this.base, {
      query: { limit: opts.limit, after: opts.after, order: opts.order },
    });
    return {
      documents: (r.documents as unknown as WireDoc[]).map((d) => toDoc<T>(d)),
      nextCursor: (r.next_cursor as string | null | undefined) ?? null,
    };
  }

  async count(q: { where?: Filter<T> } = {}): Promise<number> {
    const r = await this.core.send<{ count: number }>("post_db_by_collection_count", `${this.base}/count`, {
      method: "POST",
      body: q.where !== undefined ? { where: q.where } : {},
    });
    return r.count;
  }
}

export async function runBatch(core: Core, operations: readonly BatchOperation<AnyDatabase>[]): Promise<(Doc | null)[]> {
  const wire = operations.map((o) => {
    const w: Record<string, unknown> = { op: o.op, collection: o.collection };
    if ("id" in o && o.id !== undefined) w["id"] = o.id;
    if ("ifVersion" in o && o.ifVersion !== undefined) w["if_version"] = o.ifVersion;
    if (o.op === "update") Object.assign(w, patchBody(o));
    else if ("data" in o && o.data !== undefined) w["data"] = o.data;
    return w;
  });
  const r = await core.send<{ results: (WireDoc | null)[] }>("post_db_batch", "/v1/db/batch", {
    method: "POST",
    body: { operations: wire },
  });
  return r.results.map((d) => (d ? toDoc(d) : null));
}
