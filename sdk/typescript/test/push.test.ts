import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient, createCoreClient, getPush, BasaltError, type BasaltClient, type BrowserPushSubscription, type PushRegistration } from "../src/index.js";
import { base64UrlBytes } from "../src/push.js";
import { startServer, uniqueEmail, type Server } from "./helpers/server.js";

// `subscribe()` is tested here on Node with a stand-in service worker registration, not in
// Chromium: a real browser's pushManager.subscribe asks the browser's push service (FCM for
// Chromium) for an endpoint, which cannot be reached offline, so it never settles. The stand-in
// hands out what a browser would: a real P-256 public key, a 16-byte auth secret and an https
// endpoint, which the real server checks and stores. test/browser.test.ts drives the rest in
// Chromium (permission, service worker registration, the service worker showing a push).

let server: Server;
let alice: BasaltClient;
let bob: BasaltClient;
let anonymous: BasaltClient;
let aliceId: string;
let bobId: string;

async function rejection(p: Promise<unknown>): Promise<BasaltError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BasaltError);
    return e as BasaltError;
  }
  throw new Error("expected a rejection");
}

async function signedIn(tag: string): Promise<{ client: BasaltClient; id: string }> {
  const client = createClient(server.url);
  const { user } = await client.auth.signUp({ email: uniqueEmail(tag), password: "correct horse battery" });
  return { client, id: user.id };
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const fcmToken = () => `fcm:${randomBytes(24).toString("base64url")}`;
const apnsToken = () => randomBytes(32).toString("hex").toUpperCase();

/** What a browser's push subscription carries: a fresh P-256 key pair's public point and auth secret. */
function browserKeys(): { p256dh: string; auth: string } {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  expect(point.length).toBe(65);
  return { p256dh: b64url(point), auth: b64url(randomBytes(16)) };
}

/** A stand-in PushSubscription with a public-looking https endpoint (nothing is sent to it). */
function fakeSubscription(key: ArrayBuffer | null, over: Partial<{ endpoint: string; keys: Record<string, string> }> = {}) {
  const endpoint = over.endpoint ?? `https://push.example.com/wpush/v2/${randomBytes(12).toString("base64url")}`;
  const keys = over.keys ?? browserKeys();
  const sub = {
    endpoint,
    options: { applicationServerKey: key, userVisibleOnly: true },
    unsubscribed: 0,
    toJSON: () => ({ endpoint, expirationTime: null, keys }),
    unsubscribe: async () => {
      sub.unsubscribed++;
      return true;
    },
  };
  return sub;
}

/** A stand-in ServiceWorkerRegistration whose pushManager records what it was asked. */
function fakeRegistration(existing: ReturnType<typeof fakeSubscription> | null = null, over: Partial<{ endpoint: string; keys: Record<string, string> }> = {}) {
  const calls: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }[] = [];
  let current = existing;
  const reg = {
    calls,
    get current() {
      return current;
    },
    pushManager: {
      getSubscription: async () => current,
      subscribe: async (options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array<ArrayBuffer> }) => {
        calls.push(options);
        current = fakeSubscription(options.applicationServerKey.slice().buffer, over);
        return current;
      },
    },
  };
  return reg;
}

// A real registration fits the SDK's shape (a compile-time check: `npm run lint` type-checks tests).
export const _realRegistrationFits = (r: ServiceWorkerRegistration): PushRegistration => r;
export const _realSubscriptionFits = (s: PushSubscription): BrowserPushSubscription => s;

beforeAll(async () => {
  server = await startServer();
  ({ client: alice, id: aliceId } = await signedIn("pusha"));
  ({ client: bob, id: bobId } = await signedIn("pushb"));
  anonymous = createClient(server.url);
});
afterAll(async () => {
  alice?.close();
  bob?.close();
  anonymous?.close();
  await server?.stop();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("push: the README", () => {
  it("shows the service worker that the Chromium test runs, as it is", () => {
    const readme = readFileSync(join(__dirname, "..", "README.md"), "utf8");
    const sw = readFileSync(join(__dirname, "browser", "sw.js"), "utf8");
    expect(readme).toContain("```js\n" + sw + "```\n");
  });
});

describe("push: the server's VAPID key", () => {
  it("is an uncompressed P-256 point, base64url without padding, and needs no session", async () => {
    const key = await anonymous.push.vapidKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]+$/);
    const bytes = base64UrlBytes(key);
    expect(bytes.length).toBe(65);
    expect(bytes[0]).toBe(4);
    expect(Buffer.from(bytes).equals(Buffer.from(key, "base64url"))).toBe(true);
    await expect(alice.push.vapidKey()).resolves.toBe(key);
  });
});

describe("push: mobile tokens", () => {
  it("an FCM token: register, list, register again (the same device), unsubscribe", async () => {
    const token = fcmToken();
    const device = await alice.push.register({ kind: "fcm", token });
    expect(device).toEqual({
      id: expect.any(String),
      kind: "fcm",
      address: token,
      topic: null,
      userId: aliceId,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(Date.parse(device.createdAt)).toBeGreaterThan(0);
    expect((await alice.push.list()).map((d) => d.id)).toContain(device.id);
    const again = await alice.push.register({ kind: "fcm", token });
    expect(again.id).toBe(device.id);
    expect((await alice.push.list()).filter((d) => d.address === token)).toHaveLength(1);
    await expect(alice.push.unsubscribe(device.id)).resolves.toBeUndefined();
    expect((await alice.push.list()).map((d) => d.id)).not.toContain(device.id);
    const gone = await rejection(alice.push.unsubscribe(device.id));
    expect([gone.status, gone.code]).toEqual([404, "not_found"]);
  });

  it("an APNs token with its topic (the token is kept in lower case)", async () => {
    const token = apnsToken();
    const device = await alice.push.register({ kind: "apns", token, topic: "com.example.app" });
    expect(device).toMatchObject({ kind: "apns", address: token.toLowerCase(), topic: "com.example.app", userId: aliceId });
    const listed = (await alice.push.list()).find((d) => d.id === device.id);
    expect(listed).toEqual(device);
    await alice.push.unsubscribe(device.id);
    expect((await alice.push.list()).find((d) => d.id === device.id)).toBeUndefined();
  });

  it("a device registered by another user moves to them", async () => {
    const token = fcmToken();
    const mine = await alice.push.register({ kind: "fcm", token });
    const moved = await bob.push.register({ kind: "fcm", token });
    expect(moved.id).toBe(mine.id);
    expect(moved.userId).toBe(bobId);
    expect((await alice.push.list()).map((d) => d.id)).not.toContain(mine.id);
    expect((await bob.push.list()).map((d) => d.id)).toContain(mine.id);
    await bob.push.unsubscribe(mine.id);
  });

  it("getPush on the core client is the same API, one per client", async () => {
    const core = createCoreClient(server.url);
    await core.auth.signUp({ email: uniqueEmail("pushcore"), password: "correct horse battery" });
    const push = getPush(core);
    expect(getPush(core)).toBe(push);
    expect(getPush(alice)).toBe(alice.push);
    const device = await push.register({ kind: "fcm", token: fcmToken() });
    expect((await push.list()).map((d) => d.id)).toEqual([device.id]);
    await push.unsubscribe(device.id);
    await expect(push.list()).resolves.toEqual([]);
    core.close();
  });
});

describe("push: refused", () => {
  it("a malformed token or topic is invalid_argument, and nothing is stored", async () => {
    const before = await alice.push.list();
    const cases: unknown[] = [
      { kind: "fcm", token: "" },
      { kind: "fcm", token: "has a space" },
      { kind: "fcm", token: "x".repeat(4097) },
      { kind: "apns", token: "not-hex", topic: "com.example.app" },
      { kind: "apns", token: "abcd", topic: "com.example.app" },
      { kind: "apns", token: apnsToken(), topic: "bad topic/" },
      { kind: "apns", token: apnsToken() },
      { kind: "sms", token: "+15550100" },
      { kind: "fcm", token: fcmToken(), extra: true },
    ];
    for (const body of cases) {
      const err = await rejection(alice.push.register(body as never));
      expect([err.status, err.code], JSON.stringify(body).slice(0, 80)).toEqual([400, "invalid_argument"]);
      expect(err.message).toBeTruthy();
    }
    expect(await alice.push.list()).toEqual(before);
  });

  it("someone else's device is not_found, and stays", async () => {
    const theirs = await bob.push.register({ kind: "fcm", token: fcmToken() });
    const err = await rejection(alice.push.unsubscribe(theirs.id));
    expect([err.status, err.code]).toEqual([404, "not_found"]);
    expect((await alice.push.list()).map((d) => d.id)).not.toContain(theirs.id);
    expect((await bob.push.list()).map((d) => d.id)).toContain(theirs.id);
    await bob.push.unsubscribe(theirs.id);
  });

  it("an id is one path segment: traversal cannot reach another route", async () => {
    const seen: string[] = [];
    const c = createClient(server.url, { hooks: { beforeSend: (ctx) => void seen.push(ctx.url) } });
    await c.auth.signUp({ email: uniqueEmail("pushseg"), password: "correct horse battery" });
    seen.length = 0;
    const slash = await rejection(c.push.unsubscribe("../vapid"));
    expect(seen).toEqual([`${server.url}/v1/push/subscriptions/..%2Fvapid`]);
    expect(slash.code).toBe("invalid_argument");
    const dots = await rejection(c.push.unsubscribe(".."));
    expect([dots.status, dots.code]).toEqual([0, "invalid_argument"]);
    c.close();
  });

  it("without a user: unauthenticated; with a service key: permission_denied", async () => {
    const calls = [() => anonymous.push.list(), () => anonymous.push.register({ kind: "fcm", token: fcmToken() }), () => anonymous.push.unsubscribe("x1")];
    for (const call of calls) {
      const err = await rejection(call());
      expect([err.status, err.code]).toEqual([401, "unauthenticated"]);
    }
    const service = createClient(server.url, { serviceKey: server.serviceKey });
    const err = await rejection(service.push.register({ kind: "fcm", token: fcmToken() }));
    expect([err.status, err.code]).toEqual([403, "permission_denied"]);
    service.close();
  });

  it("a user has at most 50 devices: the 51st is failed_precondition, the same device again is not", async () => {
    const { client } = await signedIn("pushmany");
    const devices = [];
    for (let i = 0; i < 50; i++) devices.push(await client.push.register({ kind: "fcm", token: fcmToken() }));
    const err = await rejection(client.push.register({ kind: "fcm", token: fcmToken() }));
    expect([err.status, err.code]).toEqual([412, "failed_precondition"]);
    await expect(client.push.register({ kind: "fcm", token: devices[0]!.address })).resolves.toMatchObject({ id: devices[0]!.id });
    await client.push.unsubscribe(devices[1]!.id);
    await expect(client.push.register({ kind: "fcm", token: fcmToken() })).resolves.toMatchObject({ kind: "fcm" });
    expect(await client.push.list()).toHaveLength(50);
    client.close();
  });
});

describe("push.subscribe (Web Push) with a stand-in registration", () => {
  it("subscribes with the server's VAPID key and registers the subscription", async () => {
    const vapid = base64UrlBytes(await alice.push.vapidKey());
    const reg = fakeRegistration();
    const device = await alice.push.subscribe({ registration: reg });
    expect(reg.calls).toHaveLength(1);
    expect(reg.calls[0]!.userVisibleOnly).toBe(true);
    expect(reg.calls[0]!.applicationServerKey).toBeInstanceOf(Uint8Array);
    expect([...reg.calls[0]!.applicationServerKey]).toEqual([...vapid]);
    expect(device).toMatchObject({ kind: "webpush", address: reg.current!.endpoint, topic: null, userId: aliceId });
    expect((await alice.push.list()).find((d) => d.id === device.id)).toEqual(device);

    // Again: the browser's subscription (made for this key) is reused, and it is the same device.
    const again = await alice.push.subscribe({ registration: reg });
    expect(reg.calls).toHaveLength(1);
    expect(again.id).toBe(device.id);

    // A browser that does not say which key its subscription has: it is kept.
    const unknown = fakeRegistration(fakeSubscription(null));
    const kept = await alice.push.subscribe({ registration: unknown });
    expect([unknown.calls.length, unknown.current!.unsubscribed, kept.address]).toEqual([0, 0, unknown.current!.endpoint]);
    await alice.push.unsubscribe(kept.id);

    // Unsubscribing it ends the browser's subscription too.
    await alice.push.unsubscribe(device.id, { registration: reg });
    expect(reg.current!.unsubscribed).toBe(1);
    expect((await alice.push.list()).find((d) => d.id === device.id)).toBeUndefined();
  });

  it("a subscription made for another key is replaced, in the browser and on the server", async () => {
    const stale = fakeSubscription(new Uint8Array(65).fill(4).buffer);
    // It was registered while the server had that other key.
    await alice.push.subscribe({ registration: { pushManager: { getSubscription: async () => null, subscribe: async () => stale } } });
    expect(stale.unsubscribed).toBe(0);
    const old = (await alice.push.list()).find((d) => d.address === stale.endpoint)!;
    expect(old).toBeTruthy();
    const reg = fakeRegistration(stale);
    const device = await alice.push.subscribe({ registration: reg });
    expect(stale.unsubscribed).toBe(1);
    expect(reg.calls).toHaveLength(1);
    expect(device.address).not.toBe(stale.endpoint);
    const listed = (await alice.push.list()).map((d) => d.id);
    expect(listed).toContain(device.id);
    expect(listed).not.toContain(old.id);
    await alice.push.unsubscribe(device.id);
  });

  it("unsubscribing another device leaves the browser's subscription alone", async () => {
    const reg = fakeRegistration();
    const web = await alice.push.subscribe({ registration: reg });
    const phone = await alice.push.register({ kind: "fcm", token: fcmToken() });
    await alice.push.unsubscribe(phone.id, { registration: reg });
    expect(reg.current!.unsubscribed).toBe(0);
    await alice.push.unsubscribe(web.id, { registration: reg });
    expect(reg.current!.unsubscribed).toBe(1);
  });

  it("the server checks what the browser handed over: the key, the secret, https", async () => {
    const bad = [
      { keys: { p256dh: b64url(new Uint8Array(65).fill(9)), auth: b64url(randomBytes(16)) } },
      { keys: { p256dh: browserKeys().p256dh, auth: b64url(randomBytes(8)) } },
      { endpoint: "http://push.example.com/send/1" },
      { endpoint: "https://127.0.0.1/send/1" },
    ];
    for (const over of bad) {
      const err = await rejection(alice.push.subscribe({ registration: fakeRegistration(null, over) }));
      expect([err.status, err.code], JSON.stringify(over)).toEqual([400, "invalid_argument"]);
    }
    expect((await alice.push.list()).filter((d) => d.kind === "webpush")).toEqual([]);
  });

  it("without a browser's Push API it rejects with unsupported", async () => {
    expect(alice.push.supported()).toBe(false);
    const err = await rejection(alice.push.subscribe());
    expect([err.status, err.code]).toEqual([0, "unsupported"]);
    expect(err.message).toMatch(/push\.register/);
  });

  it("asks the permission when the user has not answered, and stops when it is denied", async () => {
    const answers: string[] = [];
    const notification = (permission: string, answer: string) => ({
      permission,
      requestPermission: async () => {
        answers.push(answer);
        return answer;
      },
    });
    vi.stubGlobal("Notification", notification("denied", "denied"));
    const reg = fakeRegistration();
    const denied = await rejection(alice.push.subscribe({ registration: reg }));
    expect([denied.status, denied.code]).toEqual([0, "permission_denied"]);
    expect(answers).toEqual([]);

    vi.stubGlobal("Notification", notification("default", "denied"));
    const refused = await rejection(alice.push.subscribe({ registration: reg }));
    expect(refused.code).toBe("permission_denied");
    vi.stubGlobal("Notification", notification("default", "default"));
    expect((await rejection(alice.push.subscribe({ registration: reg }))).code).toBe("permission_denied");
    expect(answers).toEqual(["denied", "default"]);
    expect(reg.calls).toHaveLength(0);

    vi.stubGlobal("Notification", notification("default", "granted"));
    const device = await alice.push.subscribe({ registration: reg });
    expect(answers).toEqual(["denied", "default", "granted"]);
    expect(reg.calls).toHaveLength(1);
    await alice.push.unsubscribe(device.id);
  });

  it("the browser's own refusal or failure becomes a BasaltError", async () => {
    const failing = (name: string) => ({
      pushManager: {
        getSubscription: async () => null,
        subscribe: async () => {
          throw new DOMException("Registration failed - push service error", name);
        },
      },
    });
    const notAllowed = await rejection(alice.push.subscribe({ registration: failing("NotAllowedError") }));
    expect([notAllowed.code, notAllowed.cause instanceof DOMException]).toEqual(["permission_denied", true]);
    const aborted = await rejection(alice.push.subscribe({ registration: failing("AbortError") }));
    expect(aborted.code).toBe("unavailable");
    expect(aborted.message).toMatch(/push service error/);
    const broken = { pushManager: { getSubscription: () => Promise.reject(new TypeError("boom")), subscribe: async () => fakeSubscription(null) } };
    const odd = await rejection(alice.push.subscribe({ registration: broken }));
    expect([odd.code, odd.cause instanceof TypeError]).toEqual(["unavailable", true]);
  });
});
