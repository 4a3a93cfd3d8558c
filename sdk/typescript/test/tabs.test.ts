// Clients that talk over a BroadcastChannel, as browser tabs do, on Node 20 (which has
// BroadcastChannel): the handshake a client holding the refresh lock makes with its peers before
// it spends a refresh token. Against a real basalt; the "tabs" are Auth instances with the channel
// on (browsers have it on by default, Node off).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Auth, type AuthEvent, type Session } from "../src/auth.js";
import { Core } from "../src/http.js";
import { createClient, memoryStorage, type AuthStorage } from "../src/index.js";
import { startServer, uniqueEmail, sleep, type Server } from "./helpers/server.js";

const PASSWORD = "correct horse battery";
/** How late a write reaches the other tabs' reads: long enough for a loaded machine, short enough for awaitOtherWriter (2 s). */
const LAG_MS = 1000;

let server: Server;
beforeAll(async () => {
  server = await startServer({ args: ["--login-rate-limit", "0"] });
});
afterAll(async () => {
  await server?.stop();
});

interface Refresh {
  token: string;
  status: number;
  reason: string | null;
}

/** Every POST /v1/auth/refresh the tabs send, with the server's answer. */
function refreshLog() {
  const sent: Refresh[] = [];
  const fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const r = await globalThis.fetch(input, init);
    if (input.endsWith("/v1/auth/refresh")) {
      const token = (JSON.parse(String(init?.body)) as { refresh_token: string }).refresh_token;
      const body = r.ok ? null : ((await r.clone().json()) as { error: { details?: { reason?: string } } });
      sent.push({ token, status: r.status, reason: body?.error.details?.reason ?? null });
    }
    return r;
  };
  return { sent, fetch };
}

/**
 * A storage whose reads see only the writes made more than `lagMs` ago: a tab's localStorage in
 * Chromium is a copy in its renderer that another tab's writes reach a little later (and by
 * another path than a Web Lock's grant). One object for all tabs, so the SDK's lock (per storage
 * on Node, which has no Web Locks) is the one lock all tabs share.
 */
function laggingStorage(lagMs: number) {
  const history: { at: number; key: string; value: string | null }[] = [];
  const read = (key: string, cutoff: number) => {
    let value: string | null = null;
    for (const h of history) if (h.key === key && h.at <= cutoff) value = h.value;
    return value;
  };
  const storage: AuthStorage & { seed(key: string, value: string): void; latest(key: string): string | null } = {
    getItem: (key) => read(key, Date.now() - lagMs),
    setItem: (key, value) => void history.push({ at: Date.now(), key, value }),
    removeItem: (key) => void history.push({ at: Date.now(), key, value: null }),
    /** A write every reader sees already. */
    seed: (key, value) => void history.push({ at: 0, key, value }),
    latest: (key) => read(key, Infinity),
  };
  return storage;
}

let keys = 0;

/** A tab: an Auth on `storage` under `key`, with the channel on. */
function tab(storage: AuthStorage, key: string, fetch: (input: string, init?: RequestInit) => Promise<Response>, channel = true): Auth {
  const core: Core = new Core({ url: server.url, fetch, hooks: {}, headers: {}, token: () => auth.accessToken() });
  const auth: Auth = new Auth(core, { storage, storageKey: key, autoRefresh: false, channel });
  return auth;
}

async function signedUp(): Promise<Session> {
  const c = createClient(server.url, { storage: memoryStorage(), autoRefresh: false });
  const s = (await c.auth.signUp({ email: uniqueEmail("tab"), password: PASSWORD })).session!;
  c.close();
  return s;
}

/** The `sid` claim of an access token. */
const sid = (s: Session) => (JSON.parse(Buffer.from(s.accessToken.split(".")[1]!, "base64url").toString()) as { sid: string }).sid;

describe("tabs on one BroadcastChannel", () => {
  for (const channel of [true, false]) {
    it(
      channel
        ? "a tab whose storage still shows the spent token takes the new session from the tab that refreshed, and sends nothing"
        : "without the channel, the same tab sends the spent token (already_used) and then waits for storage",
      async () => {
        const first = await signedUp();
        const key = `tabs-${++keys}`;
        const storage = laggingStorage(LAG_MS);
        storage.seed(key, JSON.stringify(first));
        const log = refreshLog();
        const a = tab(storage, key, log.fetch, channel);
        const b = tab(storage, key, log.fetch, channel);
        try {
          await Promise.all([a.initialized(), b.initialized()]);
          await sleep(50); // hello / here
          const events: AuthEvent[] = [];
          b.onChange((e) => events.push(e));
          // a takes the lock first and refreshes; b gets it next and reads the storage before a's
          // write has reached it.
          const [ra, rb] = await Promise.all([a.refresh(), b.refresh()]);
          expect(ra.refreshToken).not.toBe(first.refreshToken);
          expect(rb.refreshToken).toBe(ra.refreshToken);
          expect(b.session?.accessToken).toBe(ra.accessToken);
          expect(events).toEqual(["token_refreshed"]);
          if (channel) {
            expect(log.sent).toEqual([{ token: first.refreshToken, status: 200, reason: null }]);
          } else {
            expect(log.sent).toEqual([
              { token: first.refreshToken, status: 200, reason: null },
              { token: first.refreshToken, status: 401, reason: "already_used" },
            ]);
          }
          expect((JSON.parse(storage.latest(key)!) as Session).refreshToken).toBe(ra.refreshToken);
          // Both act for the user with the new session.
          expect((await b.getUser()).id).toBe(first.user.id);
          expect((await a.getUser()).id).toBe(first.user.id);
          if (channel) {
            // The other way round: b refreshes first, a still reads the token b spends.
            await sleep(LAG_MS + 50); // the storage has caught up
            const [nb, na] = await Promise.all([b.refresh(), a.refresh()]);
            expect(na.refreshToken).toBe(nb.refreshToken);
            expect(log.sent.slice(1)).toEqual([{ token: ra.refreshToken, status: 200, reason: null }]);
          }
        } finally {
          a.close();
          b.close();
        }
      },
    );
  }

  it("a peer's session is taken only when it is a newer one of the same server session", async () => {
    const first = await signedUp();
    const key = `tabs-${++keys}`;
    const log = refreshLog();
    // a and a stale copy of its session in another storage (a tab that missed a's refreshes).
    const mine = memoryStorage();
    await mine.setItem(key, JSON.stringify(first));
    const copy = memoryStorage();
    await copy.setItem(key, JSON.stringify(first));
    const a = tab(mine, key, log.fetch);
    const stale = tab(copy, key, log.fetch);
    // The same user signed in on its own: another server session, on the same channel.
    const elsewhere = tab(memoryStorage(), key, log.fetch);
    try {
      await Promise.all([a.initialized(), stale.initialized(), elsewhere.initialized()]);
      const other = await elsewhere.signIn({ email: first.user.email!, password: PASSWORD });
      expect("accessToken" in other).toBe(true);
      expect(sid(other as Session)).not.toBe(sid(first));
      await sleep(50);
      // Twice: the first time `stale` holds the token a is about to spend, the second time an older
      // one (presenting it would revoke the session); `elsewhere` holds a newer session of another
      // server session. a takes neither and refreshes its own.
      const r1 = await a.refresh();
      const r2 = await a.refresh();
      expect(log.sent).toEqual([
        { token: first.refreshToken, status: 200, reason: null },
        { token: r1.refreshToken, status: 200, reason: null },
      ]);
      expect(sid(r2)).toBe(sid(first));
      expect(a.session?.refreshToken).toBe(r2.refreshToken);
      expect((await a.getUser()).id).toBe(first.user.id);
      expect((await elsewhere.getUser()).id).toBe(first.user.id);
      expect(elsewhere.session?.refreshToken).toBe((other as Session).refreshToken);
    } finally {
      a.close();
      stale.close();
      elsewhere.close();
    }
  });

  it("a closed tab answers nothing: a tab that asks goes on without it", async () => {
    const first = await signedUp();
    const key = `tabs-${++keys}`;
    const storage = laggingStorage(LAG_MS);
    storage.seed(key, JSON.stringify(first));
    const log = refreshLog();
    const a = tab(storage, key, log.fetch);
    const b = tab(storage, key, log.fetch);
    try {
      await Promise.all([a.initialized(), b.initialized()]);
      await sleep(50);
      // a refreshes and closes at once; b, whose storage still shows the spent token, asks and
      // hears no one. It sends the spent token, which the server calls already used, and takes a's
      // session once the storage shows it.
      const ra = await a.refresh();
      a.close();
      const rb = await b.refresh();
      expect(rb.refreshToken).toBe(ra.refreshToken);
      expect(log.sent).toEqual([
        { token: first.refreshToken, status: 200, reason: null },
        { token: first.refreshToken, status: 401, reason: "already_used" },
      ]);
      // A closed tab's own refresh is refused before anything is sent.
      await expect(a.refresh()).rejects.toMatchObject({ code: "closed" });
      expect(log.sent).toHaveLength(2);
    } finally {
      a.close();
      b.close();
    }
  });
});
