// Two `basalt serve` nodes on one PostgreSQL database: what a client does on one node holds on
// the other. Skipped without PostgreSQL, unless BASALT_TEST_REQUIRE_POSTGRES=1 (CI), where an
// unreachable PostgreSQL fails.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createClient, memoryStorage, BasaltError, type BasaltClient, type SubscriptionEvent, type Session, type BroadcastEvent } from "../src/index.js";
import { startServer, uniqueEmail, sleep, totp, waitFor, type Server } from "./helpers/server.js";
import { startProxy, type Proxy } from "./helpers/proxy.js";
import { REQUIRE_POSTGRES, createDatabase, postgresProblem, type TestDatabase } from "./helpers/postgres.js";

const CLUSTER = ["--public-url", "http://basalt-cluster.test"];

const problem = postgresProblem();
if (problem && REQUIRE_POSTGRES) {
  throw new Error(`BASALT_TEST_REQUIRE_POSTGRES=1 but ${problem}`);
}
if (problem) console.warn(`skipping the two-node PostgreSQL tests: ${problem}`);

const PASSWORD = "correct horse battery";
interface Note {
  n: number;
  group: string;
}

let db: TestDatabase;
let a: Server;
let b: Server;
const clients: BasaltClient[] = [];

function client(url: string, opts: Parameters<typeof createClient>[1] = {}): BasaltClient {
  const c = createClient(url, { WebSocket, ...opts });
  clients.push(c);
  return c;
}

describe.skipIf(problem !== null)("two nodes on one PostgreSQL database", () => {
  beforeAll(async () => {
    db = createDatabase();
    // Nodes of one cluster share the public URL: it is the issuer of every token.
    a = await startServer({ databaseUrl: db.url, args: ["--login-rate-limit", "0", ...CLUSTER] });
    b = await startServer({ databaseUrl: db.url, joinWithKey: a.serviceKey, args: ["--login-rate-limit", "0", ...CLUSTER] });
    await a.admin("POST", "/v1/db/collections", {
      name: "notes",
      rules: { read: "auth != ()", create: "auth != ()", update: "auth != ()", delete: "auth != ()" },
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await a?.stop();
    await b?.stop();
    db?.drop();
  });

  it("the nodes are two processes on one database: an admin of A signs in on B, B sees A's collection", async () => {
    expect(a.port).not.toBe(b.port);
    const cols = await b.admin<{ collections: { name: string }[] }>("GET", "/v1/db/collections");
    expect(cols.collections.map((c) => c.name)).toContain("notes");
    const health = (await (await fetch(`${b.url}/v1/health/ready`)).json()) as { status: string };
    expect(health.status).toBe("ok");
  });

  it("a change written on node B reaches a subscriber on node A, and the other way round", async () => {
    const onA = client(a.url);
    const onB = client(b.url);
    await onA.auth.signUp({ email: uniqueEmail("pa"), password: PASSWORD });
    await onB.auth.signUp({ email: uniqueEmail("pb"), password: PASSWORD });
    const group = `x${Date.now()}`;
    const seenA: string[] = [];
    const seenB: string[] = [];
    const where = [["group", "==", group]] as const;
    const subA = onA.collection<Note>("notes").subscribe({ where }, (e) => {
      if (e.type === "change") seenA.push(`${e.op}:${e.document.data.n}`);
    });
    const subB = onB.collection<Note>("notes").subscribe({ where }, (e) => {
      if (e.type === "change") seenB.push(`${e.op}:${e.document.data.n}`);
    });
    await Promise.all([subA.ready, subB.ready]);
    const wB = onB.collection<Note>("notes");
    const d = await wB.create({ n: 1, group });
    await wB.update(d.id, { data: { n: 2 } });
    const wA = onA.collection<Note>("notes");
    await wA.create({ n: 3, group });
    await wA.delete(d.id);
    await waitFor(() => seenA.length === 4 && seenB.length === 4, 10_000, "changes on both nodes");
    expect(seenA).toEqual(["create:1", "update:2", "create:3", "delete:2"]);
    expect(seenB).toEqual(seenA);
  });

  it("a live query on A follows writes made on B", async () => {
    const onA = client(a.url);
    const onB = client(b.url);
    await onA.auth.signUp({ email: uniqueEmail("la"), password: PASSWORD });
    await onB.auth.signUp({ email: uniqueEmail("lb"), password: PASSWORD });
    const group = `l${Date.now()}`;
    const pre = await onB.collection<Note>("notes").create({ n: 0, group });
    const live = onA.collection<Note>("notes").live({ where: [["group", "==", group]] });
    await live.ready;
    await waitFor(() => live.documents.length === 1, 5000, "snapshot");
    for (let i = 1; i <= 5; i++) await onB.collection<Note>("notes").create({ n: i, group });
    await onB.collection<Note>("notes").delete(pre.id);
    await waitFor(() => live.documents.length === 5 && !live.documents.some((d) => d.data.n === 0), 10_000, "live on A");
    expect(live.documents.map((d) => d.data.n).sort()).toEqual([1, 2, 3, 4, 5]);
    live.close();
  });

  it("a socket cut from A resumes on B: every change exactly once, in order, no reset", async () => {
    let proxy: Proxy | null = null;
    try {
      proxy = await startProxy(a.port);
      const sub = client(proxy.url);
      await sub.auth.signUp({ email: uniqueEmail("ra"), password: PASSWORD });
      const writer = client(b.url, { serviceKey: a.serviceKey });
      const group = `r${Date.now()}`;
      const seen: number[] = [];
      const events: SubscriptionEvent<Note>[] = [];
      const s = sub.collection<Note>("notes").subscribe({ where: [["group", "==", group]] }, (e) => {
        events.push(e);
        if (e.type === "change") seen.push(e.document.data.n);
      });
      await s.ready;
      const w = writer.collection<Note>("notes");
      for (let i = 0; i < 3; i++) await w.create({ n: i, group });
      await waitFor(() => seen.length === 3, 10_000, "first changes");
      proxy.cut();
      await waitFor(() => sub.realtime.status === "reconnecting", 5000, "reconnecting");
      for (let i = 3; i < 8; i++) await w.create({ n: i, group });
      proxy.retarget(b.port); // the next connection lands on node B
      proxy.restore();
      await waitFor(() => sub.realtime.status === "open", 15_000, "reopened on B");
      for (let i = 8; i < 10; i++) await w.create({ n: i, group });
      await waitFor(() => seen.length >= 10, 10_000, "all changes");
      await sleep(300);
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(events.filter((e) => e.type === "reset")).toEqual([]);
    } finally {
      await proxy?.close();
    }
  });

  it("a session made on A refreshes on B; the old refresh token is spent on A too", async () => {
    const onA = client(a.url, { autoRefresh: false });
    const { session } = await onA.auth.signUp({ email: uniqueEmail("sa"), password: PASSWORD });
    const first = session!;
    // The same session, held by a client of node B (as a second device of one app would be).
    const storage = memoryStorage();
    storage.setItem("k", JSON.stringify(first));
    const onB = client(b.url, { storage, storageKey: "k", autoRefresh: false });
    await onB.auth.initialized();
    expect((await onB.auth.getUser()).id).toBe(first.user.id); // A's access token verifies on B
    const next = await onB.auth.refresh();
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect(next.user.id).toBe(first.user.id);
    // B's new token works on A, and A's old refresh token is refused (already used), never resent.
    const check = await fetch(`${a.url}/v1/auth/user`, { headers: { authorization: `Bearer ${next.accessToken}` } });
    expect(check.status).toBe(200);
    const err = await onA.auth.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BasaltError);
    expect((err as BasaltError).status).toBe(401);
    // A session listing on A shows the one session, refreshed on B.
    const listed = await onB.auth.sessions();
    expect(listed.filter((s) => s.current)).toHaveLength(1);
  });

  it("two clients sharing one storage, one on each node, refreshing at once stay signed in", async () => {
    const storage = memoryStorage();
    const onA = client(a.url, { storage, storageKey: "shared", autoRefresh: false });
    const onB = client(b.url, { storage, storageKey: "shared", autoRefresh: false });
    await onA.auth.signUp({ email: uniqueEmail("race"), password: PASSWORD });
    await onB.auth.initialized();
    for (let round = 0; round < 3; round++) {
      const [ra, rb] = await Promise.all([onA.auth.refresh(), onB.auth.refresh()]);
      expect(ra.refreshToken).toBe(rb.refreshToken);
    }
    expect((await onA.auth.getUser()).id).toBe((await onB.auth.getUser()).id);
  });

  it("signing out on A ends the session on B: B's refresh signs it out cleanly", async () => {
    const onA = client(a.url, { autoRefresh: false });
    const { session } = await onA.auth.signUp({ email: uniqueEmail("so"), password: PASSWORD });
    const storage = memoryStorage();
    storage.setItem("k", JSON.stringify(session as Session));
    const onB = client(b.url, { storage, storageKey: "k", autoRefresh: false });
    await onB.auth.initialized();
    const events: string[] = [];
    onB.auth.onChange((e) => events.push(e));
    await onA.auth.signOut();
    const err = await onB.auth.refresh().catch((e: unknown) => e);
    expect((err as BasaltError).status).toBe(401);
    expect(onB.auth.session).toBeNull();
    expect(events).toEqual(["signed_out"]);
    expect(await storage.getItem("k")).toBeNull();
  });

  it("auth flows split across nodes: sign up on A, sign in on B; MFA enrolled on A is verified on B", async () => {
    const email = uniqueEmail("mfa");
    const onA = client(a.url);
    const { user } = await onA.auth.signUp({ email, password: PASSWORD });
    const onB = client(b.url);
    const s = (await onB.auth.signIn({ email, password: PASSWORD })) as Session;
    expect(s.user.id).toBe(user.id);
    const enrol = await onA.auth.mfa.enroll({ currentPassword: PASSWORD });
    await onA.auth.mfa.confirm(totp(enrol.secret));
    const half = await onB.auth.signIn({ email, password: PASSWORD });
    expect(half).toMatchObject({ mfaRequired: true });
    const full = await onB.auth.mfa.verify({ mfaToken: (half as { mfaToken: string }).mfaToken, code: totp(enrol.secret, 1) });
    expect(full.user.mfaEnabled).toBe(true);
    // A's sessions() lists the sessions made on both nodes; A ends B's and B is out at once.
    const list = await onA.auth.sessions();
    expect(list.length).toBeGreaterThanOrEqual(2);
    for (const other of list.filter((x) => !x.current)) await onA.auth.endSession(other.id);
    const err = await onB.auth.getUser().catch((e: unknown) => e);
    expect((err as BasaltError).code).toBe("unauthenticated");
  });

  it("a magic link mailed by A signs in on B; a password reset on B ends the sessions made on A", async () => {
    const email = uniqueEmail("link");
    const onA = client(a.url);
    await onA.auth.sendMagicLink({ email });
    const token = await a.mailToken(email, /sign|link|magic/i);
    const onB = client(b.url);
    const s = (await onB.auth.verifyMagicLink(token)) as Session;
    expect(s.user.email).toBe(email);
    await onB.auth.updateUser({ password: PASSWORD });
    const signedInOnA = client(a.url);
    await signedInOnA.auth.signIn({ email, password: PASSWORD });
    await onB.auth.sendPasswordReset({ email });
    const reset = await b.mailToken(email, /reset|password/i);
    await client(b.url).auth.resetPassword({ token: reset, password: "a brand new password" });
    const events: string[] = [];
    signedInOnA.auth.onChange((e) => events.push(e));
    const err = await signedInOnA.auth.refresh().catch((e: unknown) => e);
    expect((err as BasaltError).details["reason"]).toBe("ended");
    expect(events).toEqual(["signed_out"]);
  });

  it("channels: a member on A and a member on B see each other's presence and broadcasts", async () => {
    const onA = client(a.url);
    const onB = client(b.url);
    await onA.auth.signUp({ email: uniqueEmail("ca"), password: PASSWORD });
    await onB.auth.signUp({ email: uniqueEmail("cb"), password: PASSWORD });
    const name = `room:${Date.now()}`;
    const roomA = onA.channel(name);
    const roomB = onB.channel(name);
    const got: BroadcastEvent[] = [];
    roomB.on("broadcast", (e) => got.push(e));
    await roomA.join({ presence: { name: "Ada" } });
    await roomB.join({ presence: { name: "Bo" } });
    await waitFor(() => Object.keys(roomA.presence).length === 2 && Object.keys(roomB.presence).length === 2, 10_000, "presence across nodes");
    roomA.broadcast("wave", { from: "A" });
    await waitFor(() => got.length === 1, 10_000, "broadcast across nodes");
    expect(got[0]).toMatchObject({ event: "wave", payload: { from: "A" }, from: roomA.memberId });
  });

  it("with 2 s tokens, a socket on a third node keeps acting for the user across refreshes; B's writes reach it", async () => {
    const c = await startServer({
      databaseUrl: db.url,
      joinWithKey: a.serviceKey,
      args: ["--login-rate-limit", "0", "--access-token-ttl", "2", ...CLUSTER],
    });
    try {
      const storage = memoryStorage();
      const viaShort = client(c.url, { storage, storageKey: "t" });
      await viaShort.auth.signUp({ email: uniqueEmail("tt"), password: PASSWORD });
      const seen: number[] = [];
      const group = `t${Date.now()}`;
      const s = viaShort.collection<Note>("notes").subscribe({ where: [["group", "==", group]] }, (e) => {
        if (e.type === "change") seen.push(e.document.data.n);
      });
      await s.ready;
      const refreshed: string[] = [];
      viaShort.auth.onChange((e) => refreshed.push(e));
      await sleep(4500);
      expect(refreshed.filter((e) => e === "token_refreshed").length).toBeGreaterThanOrEqual(2);
      await client(b.url, { serviceKey: a.serviceKey }).collection<Note>("notes").create({ n: 1, group });
      await waitFor(() => seen.length === 1, 10_000, "change after refreshes");
      expect(seen).toEqual([1]);
    } finally {
      await c.stop();
    }
  });
});
