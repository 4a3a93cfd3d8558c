import { BasaltError, networkError } from "./errors.js";
import { toDoc } from "./documents.js";
import type { AnyDatabase, CollectionName, DataOf, Doc, Filter } from "./documents.js";
import type { CoreClient, WebSocketConstructor, WebSocketLike } from "./base.js";
import type { components } from "./generated/openapi.js";

export type { WebSocketConstructor, WebSocketLike } from "./base.js";

export type RealtimeStatus = "connecting" | "open" | "reconnecting" | "closed";

export type SubscriptionEvent<T> =
  | { type: "snapshot"; documents: Doc<T>[] }
  | { type: "change"; op: "create" | "update" | "delete"; document: Doc<T> }
  | { type: "reset"; documents: Doc<T>[] };

export interface SubscribeOptions {
  /** Start with the documents that match now (default false). */
  snapshot?: boolean;
  /** Called when the server refuses the subscription (after which it is gone). */
  onError?: (error: BasaltError) => void;
}

export interface Subscription {
  readonly id: string;
  /** Resolves when the server has registered the subscription; rejects if it refused it. */
  readonly ready: Promise<void>;
  unsubscribe(): void;
}

export interface PresenceEvent {
  joins: Record<string, unknown>;
  leaves: Record<string, unknown>;
}
export interface BroadcastEvent {
  event: string;
  payload: unknown;
  from: string;
}

interface SubState {
  id: string;
  collection: string;
  docId: string | undefined;
  where: unknown;
  wantSnapshot: boolean;
  lastSeq: number | undefined;
  resyncing: boolean;
  /** A snapshot was asked for and has not come yet (positions before it are not ours). */
  awaitingSnapshot: boolean;
  /** The callback has had a snapshot or a change (so a later snapshot is a reset). */
  delivered: boolean;
  /** The server has confirmed this subscription at least once. */
  wasLive: boolean;
  callback: (event: SubscriptionEvent<unknown>) => void;
  onError: ((e: BasaltError) => void) | undefined;
  resolveReady: () => void;
  rejectReady: (e: BasaltError) => void;
  settled: boolean;
}

/** A message from the server on `/v1/realtime`: generated from the server's OpenAPI document. */
export type RealtimeServerMessage = components["schemas"]["RealtimeServerMessage"];

type Generated = components["schemas"]["RealtimeClientMessage"];
/** Fields the server defaults (`snapshot`, `payload`) may be left out of what the client sends. */
type Defaulted<M> = M extends { type: "subscribe" } ? Omit<M, "snapshot"> & { snapshot?: boolean } : M extends { type: "broadcast" } ? Omit<M, "payload"> & { payload?: unknown } : M;
/** A message the client sends on `/v1/realtime`: generated from the server's OpenAPI document. */
export type RealtimeClientMessage = Defaulted<Generated>;

type Msg<T extends RealtimeServerMessage["type"]> = Extract<RealtimeServerMessage, { type: T }>;
type WireDocument = Parameters<typeof toDoc>[0];

function rtError(m: Msg<"error">): BasaltError {
  return new BasaltError({ status: 0, code: m.code || "internal", message: m.message || "realtime error" });
}

export interface RealtimeConfig {
  url: string;
  WebSocket: WebSocketConstructor | undefined;
  token: () => Promise<string | null>;
}

/** `basalt.realtime`: one socket per client, opened on first use, reconnecting by itself. */
export class Realtime {
  private _status: RealtimeStatus = "closed";
  private statusListeners = new Set<(s: RealtimeStatus) => void>();
  private ws: WebSocketLike | null = null;
  private subs = new Map<string, SubState>();
  private channels = new Map<string, Channel>();
  private nextId = 1;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private opening = false;
  private shut = false;
  /** Whether this server's `subscribed` carries `seq` (null until the first one is seen). */
  private seqInSubscribed: boolean | null = null;
  /** Messages sent while the socket is not open wait here (only `broadcast` is dropped). */

  constructor(private readonly config: RealtimeConfig) {}

  get status(): RealtimeStatus {
    return this._status;
  }

  onStatus(cb: (s: RealtimeStatus) => void): () => void {
    this.statusListeners.add(cb);
    return () => {
      this.statusListeners.delete(cb);
    };
  }

  /** Sends a fresh access token on the open socket (called after every refresh and sign-in). */
  sendToken(token: string | null): void {
    if (token && this.isOpen()) this.raw({ type: "auth", token });
  }

  /** Reconnects now (for example after a sign-out, to continue as anonymous). */
  reconnect(): void {
    if (!this.ws) return;
    const ws = this.ws;
    this.dropSocket();
    ws.close(1000, "reconnect");
    this.setStatus("reconnecting");
    this.scheduleConnect(0);
  }

  subscribe<T>(
    collection: string,
    filter: { where?: Filter<T> | undefined; id?: string | undefined },
    callback: (event: SubscriptionEvent<T>) => void,
    opts: SubscribeOptions = {},
  ): Subscription {
    const id = `s${this.nextId++}`;
    let resolveReady!: () => void;
    let rejectReady!: (e: BasaltError) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    ready.catch(() => undefined);
    const state: SubState = {
      id,
      collection,
      docId: filter.id,
      where: filter.where,
      wantSnapshot: opts.snapshot === true,
      lastSeq: undefined,
      resyncing: false,
      awaitingSnapshot: false,
      delivered: false,
      wasLive: false,
      callback: callback as (event: SubscriptionEvent<unknown>) => void,
      onError: opts.onError,
      resolveReady,
      rejectReady,
      settled: false,
    };
    this.subs.set(id, state);
    if (this.isOpen()) this.sendSubscribe(state);
    else this.ensure();
    return {
      id,
      ready,
      unsubscribe: () => {
        if (!this.subs.delete(id)) return;
        if (this.isOpen()) this.raw({ type: "unsubscribe", id });
        this.maybeIdle();
      },
    };
  }

  live<T>(collection: string, filter: { where?: Filter<T> | undefined; id?: string | undefined }): LiveQuery<T> {
    return new LiveQuery<T>(this, collection, filter);
  }

  channel(name: string): Channel {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = new Channel(this, name);
      this.channels.set(name, ch);
    }
    return ch;
  }

  /** Closes the socket for good; subscriptions and channels end. */
  close(): void {
    this.shut = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const ws = this.ws;
    this.dropSocket();
    ws?.close(1000, "closed");
    this.subs.clear();
    this.channels.clear();
    this.setStatus("closed");
  }

  // ---- internals used by Channel ----------------------------------------------------------

  /** @internal */
  isOpen(): boolean {
    return this._status === "open" && this.ws !== null;
  }

  /** @internal */
  raw(msg: RealtimeClientMessage): void {
    this.ws?.send(JSON.stringify(msg));
  }

  /** @internal */
  ensure(): void {
    if (this.shut) {
      this.shut = false;
    }
    if (this.ws || this.opening || this.retryTimer) return;
    this.setStatus("connecting");
    void this.open();
  }

  /** @internal */
  forgetChannel(name: string): void {
    this.channels.delete(name);
    this.maybeIdle();
  }

  // ---- the socket ---------------------------------------------------------------------------

  private maybeIdle(): void {
    // The socket stays open once used; an app that wants it gone calls close().
  }

  private setStatus(s: RealtimeStatus): void {
    if (this._status === s) return;
    this._status = s;
    for (const cb of [...this.statusListeners]) cb(s);
  }

  private scheduleConnect(delay: number): void {
    if (this.retryTimer || this.shut) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.open();
    }, delay);
    (this.retryTimer as { unref?: () => void }).unref?.();
  }

  private backoff(): number {
    const base = Math.min(10_000, 250 * 2 ** Math.min(this.attempt, 10));
    this.attempt++;
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  private async open(): Promise<void> {
    if (this.shut || this.ws || this.opening) return;
    this.opening = true;
    const Ctor = this.config.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) {
      this.opening = false;
      const err = networkError(new Error("no WebSocket: pass one in createClient options (the `ws` package on Node 20)"));
      for (const sub of [...this.subs.values()]) {
        this.subs.delete(sub.id);
        if (!sub.settled) {
          sub.settled = true;
          sub.rejectReady(err);
        }
        sub.onError?.(err);
      }
      for (const ch of [...this.channels.values()]) ch.failed(err);
      this.setStatus("closed");
      return;
    }
    let token: string | null = null;
    try {
      token = await this.config.token();
    } catch {
      token = null;
    }
    if (this.shut) {
      this.opening = false;
      return;
    }
    const url = this.config.url.replace(/^http/, "ws") + "/v1/realtime" + (token ? `?token=${encodeURIComponent(token)}` : "");
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url);
    } catch {
      this.opening = false;
      this.setStatus("reconnecting");
      this.scheduleConnect(this.backoff());
      return;
    }
    this.ws = ws;
    this.opening = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setStatus("open");
      for (const s of this.subs.values()) this.sendSubscribe(s);
      for (const ch of this.channels.values()) ch.rejoin();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const text = typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data as Uint8Array);
      let m: RealtimeServerMessage;
      try {
        m = JSON.parse(text) as RealtimeServerMessage;
      } catch {
        return;
      }
      if (m && typeof m === "object" && typeof m.type === "string") this.handle(m);
    };
    ws.onerror = () => {
      // onclose follows and decides
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.dropSocket();
      if (this.shut) {
        this.setStatus("closed");
        return;
      }
      this.setStatus("reconnecting");
      this.scheduleConnect(this.backoff());
    };
  }

  private dropSocket(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
    }
  }

  private sendSubscribe(s: SubState): void {
    const msg: Extract<RealtimeClientMessage, { type: "subscribe" }> = { type: "subscribe", id: s.id, collection: s.collection };
    if (s.docId !== undefined) msg.doc_id = s.docId;
    if (s.where !== undefined) msg.where = s.where;
    // Live before but no position known (a server without seq in `subscribed`, cut before any
    // change): what changed meanwhile is unknown, so the snapshot replaces everything (reset).
    if (s.lastSeq === undefined && s.wasLive) s.resyncing = true;
    if (s.lastSeq !== undefined && !s.resyncing) {
      msg.resume_from = s.lastSeq;
    } else if (s.wantSnapshot || s.resyncing || this.seqInSubscribed === false) {
      // A snapshot the app asked for, one that replaces what it had (reset), or, from a server
      // whose `subscribed` carries no seq, the one way to learn a position to resume from.
      msg.snapshot = true;
    }
    s.awaitingSnapshot = msg.snapshot === true;
    this.raw(msg);
  }

  /** Moves the resume position forward (never back, never past a snapshot still to come). */
  private advance(s: SubState, seq: unknown): void {
    if (typeof seq === "number" && !s.awaitingSnapshot && (s.lastSeq === undefined || seq > s.lastSeq)) s.lastSeq = seq;
  }

  private handle(m: RealtimeServerMessage): void {
    switch (m.type) {
      case "subscribed": {
        const s = this.subs.get(m.id);
        if (!s) return;
        s.wasLive = true;
        if (typeof m.seq === "number") {
          // Every change after `seq` reaches this subscription: a position to resume from, with
          // no snapshot needed to learn it. A snapshot that was asked for comes next.
          this.seqInSubscribed = true;
          this.advance(s, m.seq);
        } else if (this.seqInSubscribed === null) {
          this.seqInSubscribed = false;
        }
        if (!s.settled) {
          s.settled = true;
          s.resolveReady();
        }
        return;
      }
      case "checkpoint": {
        // Nothing at or before `seq` is still to come for this subscription: resume from there.
        const s = this.subs.get(m.id);
        if (s) this.advance(s, m.seq);
        return;
      }
      case "snapshot": {
        const s = this.subs.get(m.id);
        if (!s) return;
        const documents = (m.documents as WireDocument[]).map((d) => toDoc<unknown>(d));
        const first = !s.delivered;
        s.awaitingSnapshot = false;
        s.delivered = true;
        s.lastSeq = m.seq;
        if (s.resyncing) {
          s.resyncing = false;
          s.callback({ type: "reset", documents });
        } else if (first && s.wantSnapshot) {
          s.callback({ type: "snapshot", documents });
        } else if (!first) {
          s.callback({ type: "reset", documents });
        }
        return;
      }
      case "change": {
        const s = this.subs.get(m.id);
        if (!s) return;
        if (s.lastSeq !== undefined && m.seq <= s.lastSeq) return; // already seen
        s.lastSeq = m.seq;
        s.delivered = true;
        s.callback({ type: "change", op: m.op, document: toDoc<unknown>(m.document as WireDocument) });
        return;
      }
      case "error": {
        const s = m.id ? this.subs.get(m.id) : undefined;
        if (s && m.code === "resync_required") {
          s.resyncing = true;
          this.sendSubscribe(s);
          return;
        }
        if (s) {
          this.subs.delete(s.id);
          const err = rtError(m);
          if (!s.settled) {
            s.settled = true;
            s.rejectReady(err);
          }
          s.onError?.(err);
          return;
        }
        const channel = m.channel ? this.channels.get(m.channel) : undefined;
        if (channel) {
          channel.failed(rtError(m));
          return;
        }
        // A refusal that names no channel: hand it to the channel that is waiting for an answer.
        for (const ch of this.channels.values()) if (ch.failed(rtError(m))) return;
        return;
      }
      case "joined":
        this.channels.get(m.channel)?.joinedMsg(m);
        return;
      case "presence":
        this.channels.get(m.channel)?.presenceMsg(m);
        return;
      case "broadcast":
        this.channels.get(m.channel)?.broadcastMsg(m);
        return;
      case "left":
        this.channels.get(m.channel)?.leftMsg();
        return;
      case "unsubscribed":
      case "authenticated":
      case "pong":
        // Acknowledgements: unsubscribe, auth and ping need no answer from the client.
        return;
      default:
        // A message type newer than this SDK: ignored.
        return;
    }
  }
}

/** A broadcast channel with presence: `basalt.channel("room:1")`. */
export class Channel {
  presence: Record<string, unknown> = {};
  memberId: string | null = null;
  private state: "idle" | "joining" | "joined" = "idle";
  private myPresence: unknown = undefined;
  private waiters: { resolve: () => void; reject: (e: BasaltError) => void }[] = [];
  private leaveWaiters: (() => void)[] = [];
  private broadcastListeners = new Set<(e: BroadcastEvent) => void>();
  private presenceListeners = new Set<(e: PresenceEvent) => void>();

  constructor(
    private readonly rt: Realtime,
    readonly name: string,
  ) {}

  /** Joins (or updates this member's presence); resolves when the server confirms. */
  join(opts: { presence?: unknown } = {}): Promise<void> {
    if (opts.presence !== undefined) this.myPresence = opts.presence;
    if (this.state === "idle") this.state = "joining";
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.rt.isOpen()) this.sendJoin();
    else this.rt.ensure();
    return p;
  }

  on(event: "broadcast", cb: (e: BroadcastEvent) => void): () => void;
  on(event: "presence", cb: (e: PresenceEvent) => void): () => void;
  on(event: "broadcast" | "presence", cb: ((e: BroadcastEvent) => void) | ((e: PresenceEvent) => void)): () => void {
    const set = (event === "broadcast" ? this.broadcastListeners : this.presenceListeners) as Set<unknown>;
    set.add(cb);
    return () => {
      set.delete(cb);
    };
  }

  /** Sends to every other member connected now; nothing is stored or echoed. */
  broadcast(event: string, payload?: unknown): void {
    if (this.state !== "joined" || !this.rt.isOpen()) {
      throw new BasaltError({ status: 0, code: "failed_precondition", message: `not joined to ${this.name} right now` });
    }
    this.rt.raw({ type: "broadcast", channel: this.name, event, payload: payload ?? null });
  }

  async leave(): Promise<void> {
    const wasJoined = this.state !== "idle";
    this.state = "idle";
    this.myPresence = undefined;
    if (wasJoined && this.rt.isOpen()) {
      await new Promise<void>((resolve) => {
        this.leaveWaiters.push(resolve);
        this.rt.raw({ type: "leave", channel: this.name });
      });
    }
    this.presence = {};
    this.memberId = null;
    this.rt.forgetChannel(this.name);
  }

  /** @internal */
  rejoin(): void {
    if (this.state !== "idle") this.sendJoin();
  }

  private sendJoin(): void {
    const msg: Extract<RealtimeClientMessage, { type: "join" }> = { type: "join", channel: this.name };
    if (this.myPresence !== undefined) msg.presence = this.myPresence;
    this.rt.raw(msg);
  }

  /** @internal */
  joinedMsg(m: Msg<"joined">): void {
    const before = this.presence;
    const after = m.presence ?? {};
    const rejoin = this.state === "joined";
    this.state = "joined";
    this.memberId = typeof m.member_id === "string" ? m.member_id : this.memberId;
    this.presence = { ...after };
    const joins: Record<string, unknown> = {};
    const leaves: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(after)) if (!(k in before) || JSON.stringify(before[k]) !== JSON.stringify(v)) joins[k] = v;
    for (const [k, v] of Object.entries(before)) if (!(k in after)) leaves[k] = v;
    if (rejoin || Object.keys(before).length) this.emitPresence({ joins, leaves });
    else if (Object.keys(joins).length) this.emitPresence({ joins, leaves });
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** @internal */
  presenceMsg(m: Msg<"presence">): void {
    const joins = m.joins ?? {};
    const leaves = m.leaves ?? {};
    for (const k of Object.keys(leaves)) delete this.presence[k];
    Object.assign(this.presence, joins);
    this.emitPresence({ joins, leaves });
  }

  /** @internal */
  broadcastMsg(m: Msg<"broadcast">): void {
    const e: BroadcastEvent = { event: String(m.event), payload: m.payload, from: String(m.from) };
    for (const cb of [...this.broadcastListeners]) cb(e);
  }

  /** @internal */
  leftMsg(): void {
    for (const w of this.leaveWaiters.splice(0)) w();
  }

  /** @internal A refusal of a join; true when this channel was waiting for one. */
  failed(e: BasaltError): boolean {
    if (!this.waiters.length) return false;
    if (this.state === "joining") {
      this.state = "idle";
      this.rt.forgetChannel(this.name);
    }
    for (const w of this.waiters.splice(0)) w.reject(e);
    return true;
  }

  private emitPresence(e: PresenceEvent): void {
    for (const cb of [...this.presenceListeners]) cb(e);
  }
}

/** A query whose `documents` stay current: `posts.live({where})`. */
export class LiveQuery<T> {
  documents: Doc<T>[] = [];
  readonly ready: Promise<void>;
  private map = new Map<string, Doc<T>>();
  private listeners = new Set<(documents: Doc<T>[], event: SubscriptionEvent<T>) => void>();
  private sub: Subscription;

  constructor(rt: Realtime, collection: string, filter: { where?: Filter<T> | undefined; id?: string | undefined }) {
    this.sub = rt.subscribe<T>(collection, filter, (event) => this.apply(event), { snapshot: true });
    this.ready = this.sub.ready;
  }

  /** `change` fires after every snapshot, change or reset, with the current documents. */
  on(_event: "change", cb: (documents: Doc<T>[], event: SubscriptionEvent<T>) => void): () => void {
    this.listeners.add(cb);
    return () => {
      this.listeners.delete(cb);
    };
  }

  close(): void {
    this.sub.unsubscribe();
    this.listeners.clear();
  }

  private apply(event: SubscriptionEvent<T>): void {
    if (event.type === "change") {
      if (event.op === "delete") this.map.delete(event.document.id);
      else this.map.set(event.document.id, event.document);
    } else {
      this.map = new Map(event.documents.map((d) => [d.id, d]));
    }
    this.documents = [...this.map.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const cb of [...this.listeners]) cb(this.documents, event);
  }
}

const sockets = new WeakMap<CoreClient<AnyDatabase>, Realtime>();

/**
 * The realtime connection of a client (one per client, opened on first use). It sends each new
 * access token on the socket after a refresh and reconnects as anonymous after a sign-out.
 */
export function getRealtime(client: CoreClient<AnyDatabase>): Realtime {
  let rt = sockets.get(client);
  if (!rt) {
    const created = new Realtime({
      url: client.url,
      WebSocket: client.options.WebSocket as WebSocketConstructor | undefined,
      token: () => client.core.token(),
    });
    rt = created;
    sockets.set(client, created);
    const unlisten = client.auth.onChange((event, session) => {
      if (event === "signed_out") created.reconnect();
      else if (event === "signed_in" || event === "token_refreshed") created.sendToken(session?.accessToken ?? null);
    });
    client.onClose(() => {
      unlisten();
      created.close();
    });
  }
  return rt;
}

/** Watches documents of a collection of `client`: `subscribe(basalt, "posts", {where}, cb)`. */
export function subscribe<DB extends AnyDatabase, K extends CollectionName<DB>>(
  client: CoreClient<DB>,
  collection: K,
  filter: { where?: Filter<DataOf<DB, K>>; id?: string },
  callback: (event: SubscriptionEvent<DataOf<DB, K>>) => void,
  opts: SubscribeOptions = {},
): Subscription {
  return getRealtime(client as unknown as CoreClient<AnyDatabase>).subscribe<DataOf<DB, K>>(collection, filter, callback, opts);
}

/** A live query on a collection of `client`: `live(basalt, "posts", {where}).documents`. */
export function live<DB extends AnyDatabase, K extends CollectionName<DB>>(
  client: CoreClient<DB>,
  collection: K,
  filter: { where?: Filter<DataOf<DB, K>>; id?: string } = {},
): LiveQuery<DataOf<DB, K>> {
  return getRealtime(client as unknown as CoreClient<AnyDatabase>).live<DataOf<DB, K>>(collection, filter);
}
