import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createClient, BasaltError, type BasaltClient, type RealtimeStatus, type SubscriptionEvent, type PresenceEvent, type BroadcastEvent } from "../src/index.js";
import { startServer, uniqueEmail, sleep, waitFor, type Server } from "./helpers/server.js";
import { startProxy, type Proxy } from "./helpers/proxy.js";

interface Note {
  n: number;
  group: string;
}

let server: Server;
let proxy: Proxy;
let writer: BasaltClient;
beforeAll(async () => {
  server = await startServer({ args: ["--login-rate-limit", "0"] });
  await server.admin("POST", "/v1/db/collections", {
    name: "notes",
    rules: { read: "auth != ()", create: "auth != ()", update: "auth != ()", delete: "auth != ()" },
  });
  await server.admin("POST", "/v1/db/collections", { name: "locked", rules: {} });
  proxy = await startProxy(server.port);
  writer = createClient(server.url);
  await writer.auth.signUp({ email: uniqueEmail("w"), password: "correct horse battery" });
});
afterAll(async () => {
  writer?.close();
  await proxy?.close();
  await server?.stop();
});

async function subscriber(url: string): Promise<BasaltClient> {
  const c = createClient(url, { WebSocket });
  await c.auth.signUp({ email: uniqueEmail("s"), password: "correct horse battery" });
  return c;
}

describe("realtime", () => {
  it("snapshot then changes, with status open; unsubscribe stops them", async () => {
    const c = await subscriber(server.url);
    const statuses: RealtimeStatus[] = [];
    c.realtime.onStatus((s) => statuses.push(s));
    const group = `g${Date.now()}`;
    const notes = c.collection<Note>("notes");
    await writer.collection<Note>("notes").create({ n: 0, group });
    const events: SubscriptionEvent<Note>[] = [];
    const sub = notes.subscribe({ where: [["group", "==", group]] }, (e) => events.push(e), { snapshot: true });
    await sub.ready;
    expect(c.realtime.status).toBe("open");
    expect(statuses).toEqual(["connecting", "open"]);
    const d = await writer.collection<Note>("notes").create({ n: 1, group });
    await writer.collection<Note>("notes").update(d.id, { data: { n: 2 } });
    await writer.collection<Note>("notes").delete(d.id);
    await waitFor(() => events.length === 4, 5000, "events");
    expect(events[0]).toMatchObject({ type: "snapshot" });
    expect((events[0] as { documents: unknown[] }).documents).toHaveLength(1);
    expect(events.slice(1).map((e) => (e.type === "change" ? `${e.op}:${e.document.data.n}` : e.type))).toEqual([
      "create:1",
      "update:2",
      "delete:2",
    ]);
    sub.unsubscribe();
    await writer.collection<Note>("notes").create({ n: 9, group });
    await sleep(300);
    expect(events).toHaveLength(4);
    c.close();
    expect(c.realtime.status).toBe("closed");
  });

  it("a refused subscription rejects ready with the server's code", async () => {
    const c = await subscriber(server.url);
    const locked = c.collection("locked").subscribe({}, () => undefined);
    await expect(locked.ready).rejects.toMatchObject({ code: "permission_denied" });
    const missing = c.collection("nosuch").subscribe({}, () => undefined);
    await expect(missing.ready).rejects.toMatchObject({ code: "not_found" });
    c.close();
  });

  it("an anonymous socket may not join a channel no pattern covers; no WebSocket is an error, not a hang", async () => {
    const anon = createClient(server.url, { WebSocket });
    await expect(anon.channel(`room:${Date.now()}`).join()).rejects.toMatchObject({ code: "permission_denied" });
    anon.close();
    const noWs = createClient(server.url);
    const sub = noWs.collection("notes").subscribe({}, () => undefined);
    await expect(sub.ready).rejects.toMatchObject({ code: "network" });
    expect(noWs.realtime.status).toBe("closed");
    noWs.close();
  });

  it("live() keeps documents current; one document by id", async () => {
    const c = await subscriber(server.url);
    const group = `l${Date.now()}`;
    const w = writer.collection<Note>("notes");
    const a = await w.create({ n: 1, group });
    const live = c.collection<Note>("notes").live({ where: [["group", "==", group]] });
    const one = c.collection<Note>("notes").live({ id: a.id });
    await live.ready;
    await one.ready;
    expect(live.documents.map((d) => d.data.n)).toEqual([1]);
    const b = await w.create({ n: 2, group });
    await w.update(a.id, { data: { n: 10 } });
    await waitFor(() => live.documents.length === 2 && live.documents.some((d) => d.data.n === 10), 5000, "live update");
    await w.delete(b.id);
    await waitFor(() => live.documents.length === 1, 5000, "live delete");
    expect(live.documents[0]!.data.n).toBe(10);
    await waitFor(() => one.documents[0]?.data.n === 10, 5000, "one doc");
    let calls = 0;
    live.on("change", () => calls++);
    await w.create({ n: 3, group });
    await waitFor(() => calls === 1, 5000, "live listener");
    live.close();
    one.close();
    c.close();
  });

  it("after a cut connection every change arrives exactly once, in order", async () => {
    const c = await subscriber(proxy.url);
    const statuses: RealtimeStatus[] = [];
    c.realtime.onStatus((s) => statuses.push(s));
    const group = `r${Date.now()}`;
    const seen: number[] = [];
    const sub = c.collection<Note>("notes").subscribe({ where: [["group", "==", group]] }, (e) => {
      if (e.type === "change") seen.push(e.document.data.n);
      if (e.type === "reset") throw new Error("unexpected reset");
    });
    await sub.ready;
    const w = writer.collection<Note>("notes");
    for (let i = 0; i < 3; i++) await w.create({ n: i, group });
    await waitFor(() => seen.length === 3, 5000, "first changes");
    proxy.cut();
    await waitFor(() => c.realtime.status === "reconnecting", 5000, "reconnecting");
    for (let i = 3; i < 10; i++) await w.create({ n: i, group });
    await sleep(400); // at least one reconnect attempt fails while the proxy is down
    proxy.restore();
    await waitFor(() => c.realtime.status === "open", 15000, "reopen");
    for (let i = 10; i < 13; i++) await w.create({ n: i, group });
    await waitFor(() => seen.length >= 13, 5000, "all changes");
    await sleep(200);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(statuses.slice(0, 3)).toEqual(["connecting", "open", "reconnecting"]);
    expect(statuses[statuses.length - 1]).toBe("open");
    c.close();
  });

  it("a cut in the middle of 500 writes: the subscriber gets exactly those 500 changes, in order, none twice", async () => {
    const c = await subscriber(proxy.url);
    const statuses: RealtimeStatus[] = [];
    c.realtime.onStatus((s) => statuses.push(s));
    const group = `m${Date.now()}`;
    const seen: number[] = [];
    const events: string[] = [];
    const sub = c.collection<Note>("notes").subscribe({ where: [["group", "==", group]] }, (e) => {
      events.push(e.type);
      if (e.type === "change") seen.push(e.document.data.n);
    });
    await sub.ready;
    const handshakes = () => proxy.requests.filter((r) => r.startsWith("GET /v1/realtime")).length;
    const before = handshakes();
    const w = writer.collection<Note>("notes");
    let seenAtCut = -1;
    let reopenedAt = -1;
    let written = 0;
    c.realtime.onStatus((s) => {
      if (s === "open" && seenAtCut >= 0 && reopenedAt < 0) reopenedAt = written;
    });
    for (let i = 0; i < 500; i++) {
      if (i === 200) {
        // Mid-stream: changes are in flight on the socket when it drops.
        await waitFor(() => seen.length > 0, 5000, "changes before the cut");
        seenAtCut = seen.length;
        proxy.cut();
      }
      if (i === 260) proxy.restore();
      // The resume happens while writes still go on: the last 100 are made after it.
      if (i === 400) await waitFor(() => reopenedAt >= 0, 15_000, "reopen during the writes");
      await w.create({ n: i, group });
      written++;
    }
    await waitFor(() => seen.length >= 500, 20_000, "all 500 changes");
    await sleep(300);
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(events.every((t) => t === "change")).toBe(true);
    // The cut came during the writes, and the client was back (through a new handshake) before they ended.
    expect(seenAtCut).toBeGreaterThan(0);
    expect(seenAtCut).toBeLessThanOrEqual(200);
    expect(statuses).toContain("reconnecting");
    expect(reopenedAt).toBeGreaterThan(200);
    expect(reopenedAt).toBeLessThanOrEqual(400);
    expect(handshakes() - before).toBeGreaterThanOrEqual(1);
    expect(c.realtime.status).toBe("open");
    c.close();
  }, 60_000);

  it("a new token is sent on the socket after a refresh", async () => {
    const c = await subscriber(proxy.url);
    const group = `t${Date.now()}`;
    const seen: number[] = [];
    const sub = c.collection<Note>("notes").subscribe({ where: [["group", "==", group]] }, (e) => {
      if (e.type === "change") seen.push(e.document.data.n);
    });
    await sub.ready;
    const before = proxy.requests.length;
    await c.auth.refresh();
    await sleep(100);
    // Still one socket (no new handshake through the proxy) and it still acts for the user.
    expect(proxy.requests.slice(before).filter((r) => r.includes("/v1/realtime"))).toEqual([]);
    await writer.collection<Note>("notes").create({ n: 1, group });
    await waitFor(() => seen.length === 1, 5000, "change after refresh");
    c.close();
  });

  it("channels: presence and broadcast, and a re-join with the last presence after a cut", async () => {
    const a = await subscriber(proxy.url);
    const b = await subscriber(server.url);
    const name = `room:${Date.now()}`;
    const roomA = a.channel(name);
    const roomB = b.channel(name);
    await roomA.join({ presence: { name: "Ada" } });
    const presenceB: PresenceEvent[] = [];
    const got: BroadcastEvent[] = [];
    roomB.on("presence", (e) => presenceB.push(e));
    roomB.on("broadcast", (e) => got.push(e));
    await roomB.join({ presence: { name: "Bo" } });
    expect(Object.values(roomB.presence)).toEqual(expect.arrayContaining([{ name: "Ada" }, { name: "Bo" }]));
    await waitFor(() => Object.keys(roomA.presence).length === 2, 5000, "A sees B");
    roomA.broadcast("cursor", { x: 1 });
    await waitFor(() => got.length === 1, 5000, "broadcast");
    expect(got[0]).toMatchObject({ event: "cursor", payload: { x: 1 }, from: roomA.memberId });
    const oldMember = roomA.memberId;
    presenceB.length = 0;
    proxy.cut();
    await waitFor(() => a.realtime.status === "reconnecting", 5000, "reconnecting");
    proxy.restore();
    await waitFor(() => a.realtime.status === "open" && roomA.memberId !== oldMember, 15000, "rejoined");
    await waitFor(() => Object.values(roomB.presence).filter((p) => (p as { name: string }).name === "Ada").length === 1 && !(oldMember! in roomB.presence), 5000, "B sees A rejoin");
    expect(roomB.presence[roomA.memberId!]).toEqual({ name: "Ada" });
    roomA.broadcast("cursor", { x: 2 });
    await waitFor(() => got.length === 2, 5000, "broadcast after rejoin");
    await roomA.leave();
    await waitFor(() => !(roomA.memberId! in roomB.presence) && Object.keys(roomB.presence).length === 1, 5000, "leave seen");
    expect(() => roomA.broadcast("x", 1)).toThrow(/not joined/);
    a.close();
    b.close();
  });
});

describe("presence updates", () => {
  it("joining a joined channel again with new presence replaces this member's state for everyone", async () => {
    const a = await subscriber(server.url);
    const b = await subscriber(server.url);
    const name = `room:p${Date.now()}`;
    const roomA = a.channel(name);
    const roomB = b.channel(name);
    await roomA.join({ presence: { status: "here" } });
    await roomB.join({ presence: { status: "watching" } });
    await waitFor(() => Object.keys(roomB.presence).length === 2, 5000, "both members");
    const member = roomA.memberId!;
    await roomA.join({ presence: { status: "away" } });
    await waitFor(() => (roomB.presence[member] as { status?: string } | undefined)?.status === "away", 5000, "new presence seen");
    expect(roomA.memberId).toBe(member);
    expect(Object.keys(roomB.presence)).toHaveLength(2);
    a.close();
    b.close();
  });
});

describe("every collection", () => {
  it("a service-key client subscribes to \"*\" and gets the changes of every collection; a user may not", async () => {
    const ops = createClient(server.url, { serviceKey: server.serviceKey, WebSocket });
    const seen: string[] = [];
    const all = ops.realtime.subscribe("*", {}, (e) => {
      if (e.type === "change") seen.push(`${e.document.collection}:${e.op}`);
    });
    await all.ready;
    const d = await writer.collection<Note>("notes").create({ n: 1, group: "star" });
    await ops.collection("locked").create({ x: 1 });
    await writer.collection<Note>("notes").delete(d.id);
    await waitFor(() => seen.length === 3, 5000, "changes of two collections");
    expect(seen).toEqual(["notes:create", "locked:create", "notes:delete"]);
    const user = await subscriber(server.url);
    const refused = await user.realtime.subscribe("*", {}, () => undefined).ready.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BasaltError);
    expect((refused as BasaltError).code).toBe("permission_denied");
    ops.close();
    user.close();
  });
});

describe("token expiry", () => {
  it("after each automatic refresh the socket gets the new token and keeps acting for the user", async () => {
    const short = await startServer({ args: ["--login-rate-limit", "0", "--access-token-ttl", "2"] });
    try {
      await short.admin("POST", "/v1/db/collections", {
        name: "notes",
        rules: { read: "auth != ()", create: "auth != ()", update: "auth != ()", delete: "auth != ()" },
      });
      const c = await subscriber(short.url);
      const refreshed: string[] = [];
      c.auth.onChange((e) => refreshed.push(e));
      const seen: number[] = [];
      const sub = c.collection<Note>("notes").subscribe({}, (e) => {
        if (e.type === "change") seen.push(e.document.data.n);
      });
      await sub.ready;
      // Write with a service key so the writer needs no refresh of its own.
      const w = createClient(short.url, { serviceKey: short.serviceKey });
      await sleep(4500); // two token lifetimes: the first token has long expired
      expect(refreshed.filter((e) => e === "token_refreshed").length).toBeGreaterThanOrEqual(2);
      await w.collection<Note>("notes").create({ n: 1, group: "t" });
      await waitFor(() => seen.length === 1, 5000, "change after the first token expired");
      expect(seen).toEqual([1]);
      c.close();
      w.close();
    } finally {
      await short.stop();
    }
  });
});

describe("resync", () => {
  it("when the feed no longer holds the gap, the subscriber gets reset with a fresh snapshot", async () => {
    const short = await startServer({ args: ["--login-rate-limit", "0", "--change-retention", "1"] });
    const p = await startProxy(short.port);
    try {
      await short.admin("POST", "/v1/db/collections", {
        name: "notes",
        rules: { read: "auth != ()", create: "auth != ()", update: "auth != ()", delete: "auth != ()" },
      });
      const w = createClient(short.url);
      await w.auth.signUp({ email: uniqueEmail(), password: "correct horse battery" });
      const c = await subscriber(p.url);
      const events: SubscriptionEvent<Note>[] = [];
      const sub = c.collection<Note>("notes").subscribe({}, (e) => events.push(e), { snapshot: true });
      await sub.ready;
      await w.collection<Note>("notes").create({ n: 1, group: "x" });
      await waitFor(() => events.length === 2, 5000, "first change");
      p.cut();
      // Two changes while cut: the feed always keeps its newest change, so only a gap of more
      // than one change can be swept away.
      await w.collection<Note>("notes").create({ n: 2, group: "x" });
      await w.collection<Note>("notes").create({ n: 3, group: "x" });
      // The feed keeps changes 1 s and is swept every 30 s. A probe socket straight to the server
      // asks to resume from the seq before the cut until the server says resync_required.
      const probe = new WebSocket(short.url.replace("http", "ws") + "/v1/realtime?token=" + encodeURIComponent(c.auth.session!.accessToken));
      await new Promise((r) => probe.once("open", r));
      const firstSeq = await new Promise<number>((resolve) => {
        probe.on("message", function onMsg(d: Buffer) {
          const m = JSON.parse(d.toString()) as { type: string; seq?: number };
          if (m.type === "snapshot") {
            probe.off("message", onMsg);
            resolve(m.seq!);
          }
        });
        probe.send(JSON.stringify({ type: "subscribe", id: "seq", collection: "notes", snapshot: true }));
      });
      let swept = false;
      probe.on("message", (d: Buffer) => {
        const m = JSON.parse(d.toString()) as { type: string; code?: string };
        if (m.type === "error" && m.code === "resync_required") swept = true;
      });
      for (let i = 0; i < 45 && !swept; i++) {
        probe.send(JSON.stringify({ type: "subscribe", id: `p${i}`, collection: "notes", resume_from: firstSeq - 2 }));
        await sleep(1000);
      }
      probe.close();
      expect(swept).toBe(true);
      p.restore();
      await waitFor(() => events.some((e) => e.type === "reset"), 15000, "reset");
      const r = events.find((e) => e.type === "reset") as { type: "reset"; documents: { data: Note }[] };
      expect(r).toBeTruthy();
      const ns = r.documents.map((d) => d.data.n).sort();
      expect(ns).toEqual([1, 2, 3]);
      // After the reset the subscription is live again from the snapshot's position: a new write
      // arrives as a change, and no second reset follows.
      await w.collection<Note>("notes").create({ n: 4, group: "x" });
      await waitFor(() => events.some((e) => e.type === "change" && e.document.data.n === 4), 5000, "change after the reset");
      await sleep(500);
      expect(events.filter((e) => e.type === "reset")).toHaveLength(1);
      expect(events.map((e) => (e.type === "change" ? `change:${e.document.data.n}` : e.type))).toEqual(["snapshot", "change:1", "reset", "change:4"]);
      // no change event repeats a document version seen before
      const keys = events.filter((e) => e.type === "change").map((e) => (e.type === "change" ? `${e.document.id}:${e.document.version}` : ""));
      expect(new Set(keys).size).toBe(keys.length);
      c.close();
      w.close();
    } finally {
      await p.close();
      await short.stop();
    }
  }, 60_000);
});

/** A `ws` WebSocket that records every message sent and received, as JSON. */
function spySocket() {
  const sent: Record<string, unknown>[] = [];
  const received: Record<string, unknown>[] = [];
  class Spy extends WebSocket {
    constructor(url: string) {
      super(url);
      this.on("message", (d: Buffer) => received.push(JSON.parse(d.toString()) as Record<string, unknown>));
    }
    override send(data: string): void {
      sent.push(JSON.parse(data) as Record<string, unknown>);
      super.send(data);
    }
  }
  return { Spy, sent, received };
}

describe("resume positions", () => {
  it("subscribed carries seq: no hidden snapshot, and a subscription that saw no change resumes from it", async () => {
    const spy = spySocket();
    const c = createClient(proxy.url, { WebSocket: spy.Spy });
    await c.auth.signUp({ email: uniqueEmail("pos"), password: "correct horse battery" });
    const group = `p${Date.now()}`;
    const events: SubscriptionEvent<Note>[] = [];
    const sub = c.collection<Note>("notes").subscribe({ where: [["group", "==", group]] }, (e) => events.push(e));
    await sub.ready;
    const first = spy.sent.find((m) => m["type"] === "subscribe")!;
    expect(first["snapshot"]).toBeUndefined();
    expect(first["resume_from"]).toBeUndefined();
    const subscribed = spy.received.find((m) => m["type"] === "subscribed" && m["id"] === sub.id)!;
    expect(typeof subscribed["seq"]).toBe("number");
    proxy.cut();
    await waitFor(() => c.realtime.status === "reconnecting", 5000, "reconnecting");
    const w = writer.collection<Note>("notes");
    for (let i = 0; i < 3; i++) await w.create({ n: i, group });
    proxy.restore();
    await waitFor(() => events.length === 3, 15_000, "the changes made while cut");
    const resumed = spy.sent.filter((m) => m["type"] === "subscribe")[1]!;
    expect(resumed["resume_from"]).toBe(subscribed["seq"]);
    expect(resumed["snapshot"]).toBeUndefined();
    expect(events.map((e) => (e.type === "change" ? e.document.data.n : e.type))).toEqual([0, 1, 2]);
    expect(spy.received.filter((m) => m["type"] === "snapshot")).toEqual([]);
    c.close();
  });

  it("a checkpoint moves the resume position of a quiet subscription forward", async () => {
    // Retention 4 s: checkpoints come every second (a quarter of the retention).
    const short = await startServer({ args: ["--login-rate-limit", "0", "--change-retention", "4"] });
    const p = await startProxy(short.port);
    try {
      for (const name of ["notes", "quiet"]) {
        await short.admin("POST", "/v1/db/collections", { name, rules: { read: "auth != ()", create: "auth != ()" } });
      }
      const spy = spySocket();
      const c = createClient(p.url, { WebSocket: spy.Spy });
      await c.auth.signUp({ email: uniqueEmail("cp"), password: "correct horse battery" });
      const events: SubscriptionEvent<Note>[] = [];
      const sub = c.collection<Note>("quiet").subscribe({}, (e) => events.push(e));
      await sub.ready;
      const at = spy.received.find((m) => m["type"] === "subscribed")!["seq"] as number;
      // Writes elsewhere move the feed on; this subscription sees none of them.
      const w = createClient(short.url, { serviceKey: short.serviceKey }).collection<Note>("notes");
      for (let i = 0; i < 5; i++) await w.create({ n: i, group: "elsewhere" });
      const checkpoint = () => spy.received.filter((m) => m["type"] === "checkpoint" && m["id"] === sub.id && (m["seq"] as number) > at).at(-1);
      await waitFor(() => checkpoint() !== undefined, 10_000, "a checkpoint");
      const cp = checkpoint()!["seq"] as number;
      expect(cp).toBeGreaterThanOrEqual(at + 5);
      p.cut();
      await waitFor(() => c.realtime.status === "reconnecting", 5000, "reconnecting");
      p.restore();
      await waitFor(() => spy.sent.filter((m) => m["type"] === "subscribe").length === 2, 15_000, "resubscribe");
      const resumed = spy.sent.filter((m) => m["type"] === "subscribe")[1]!;
      expect(resumed["resume_from"]).toBeGreaterThanOrEqual(cp);
      await sub.ready;
      await createClient(short.url, { serviceKey: short.serviceKey }).collection<Note>("quiet").create({ n: 7, group: "q" });
      await waitFor(() => events.length === 1, 5000, "a change after the resume");
      expect(events[0]).toMatchObject({ type: "change", op: "create" });
      c.close();
    } finally {
      await p.close();
      await short.stop();
    }
  });
});
