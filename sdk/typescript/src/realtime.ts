import { BasaltError, networkError } from "./errors.js";
import { toDoc } from "./documents.js";
import type { Doc, Filter } from "./documents.js";

export type RealtimeStatus = "connecting" | "open" | "reconnecting" | "closed";

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
  callback: (event: SubscriptionEvent<unknown>) => void;
  onError: ((e: BasaltError) => void) | undefined;
  resolveReady: () => void;
  rejectReady: (e: BasaltError) => void;
  settled: boolean;
}

type Msg = Record<string, unknown> & { type?: string };

function rtError(m: Msg): BasaltError {
  return new BasaltError({
    status: 0,
    code: typeof m["code"] === "string" ? m["code"] : "internal",
    message: typeof m["message"] === "string" ? m["message"] : "realtime error",
  });
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
  raw(msg: Record<string, unknown>): void {
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
      let m: Msg;
      try {
        m = JSON.parse(text) as Msg;
      } catch {
        return;
      }
      this.handle(m);
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
    const msg: Record<string, unknown> = { type: "subscribe", id: s.id, collection: s.collection };
    if (s.docId !== undefined) msg["doc_id"] = s.docId;
    if (s.where !== undefined) msg["where"] = s.where;
    if (s.lastSeq !== undefined && !s.resyncing) msg["resume_from"] = s.lastSeq;
    else msg["snapshot"] = true; // the snapshot's seq is where a later resume starts
    this.raw(msg);
  }

  private handle(m: Msg): void {
    const id = typeof m["id"] === "string" ? m["id"] : undefined;
    const channel = typeof m["channel"] === "string" ? this.channels.get(m["channel"]) : undefined;
    switch (m.type) {
      case "subscribed": {
        const s = id ? this.subs.get(id) : undefined;
        if (s && !s.settled) {
          s.settled = true;
          s.resolveReady();
        }
        return;
      }
      case "snapshot": {
        const s = id ? this.subs.get(id) : undefined;
        if (!s) return;
        const documents = (m["documents"] as Parameters<typeof toDoc>[0][]).map((d) => toDoc<unknown>(d));
        const first = s.lastSeq === undefined;
        s.lastSeq = Number(m["seq"]);
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
        const s = id ? this.subs.get(id) : undefined;
        if (!s) return;
        const seq = Number(m["seq"]);
        if (s.lastSeq !== undefined && seq <= s.lastSeq) return; // already seen
        s.lastSeq = seq;
        s.callback({
          type: "change",
          op: m["op"] as "create" | "update" | "delete",
          document: toDoc<unknown>(m["document"] as Parameters<typeof toDoc>[0]),
        });
        return;
      }
      case "error": {
        const code = m["code"];
        const s = id ? this.subs.get(id) : undefined;
        if (s && code === "resync_required") {
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
        if (typeof m["channel"] === "string" && channel) {
          channel.failed(rtError(m));
          return;
        }
        // A join/broadcast refusal carries no id: hand it to the channel that is waiting.
        for (const ch of this.channels.values()) if (ch.failed(rtError(m))) return;
        return;
      }
      case "joined":
        channel?.joinedMsg(m);
        return;
      case "presence":
        channel?.presenceMsg(m);
        return;
      case "broadcast":
        channel?.broadcastMsg(m);
        return;
      case "left":
        channel?.leftMsg();
        return;
      default:
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
    const msg: Record<string, unknown> = { type: "join", channel: this.name };
    if (this.myPresence !== undefined) msg["presence"] = this.myPresence;
    this.rt.raw(msg);
  }

  /** @internal */
  joinedMsg(m: Msg): void {
    const before = this.presence;
    const after = (m["presence"] as Record<string, unknown> | undefined) ?? {};
    const rejoin = this.state === "joined";
    this.state = "joined";
    this.memberId = typeof m["member_id"] === "string" ? m["member_id"] : this.memberId;
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
  presenceMsg(m: Msg): void {
    const joins = (m["joins"] as Record<string, unknown> | undefined) ?? {};
    const leaves = (m["leaves"] as Record<string, unknown> | undefined) ?? {};
    for (const k of Object.keys(leaves)) delete this.presence[k];
    Object.assign(this.presence, joins);
    this.emitPresence({ joins, leaves });
  }

  /** @internal */
  broadcastMsg(m: Msg): void {
    const e: BroadcastEvent = { event: String(m["event"]), payload: m["payload"], from: String(m["from"]) };
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
