import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server as HttpServer } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createClient } from "../src/index.js";
import { startServer, uniqueEmail, sleep, type Server } from "./helpers/server.js";
import { startProxy, type Proxy } from "./helpers/proxy.js";

const CHROMIUM = process.env["CHROMIUM"] || "/usr/bin/chromium";
const root = join(__dirname, "..");

let statics: HttpServer;
let staticUrl: string;
let server: Server;
let proxy: Proxy;
let context: BrowserContext;
let userDataDir: string;
const problems: string[] = [];

function serveStatic(): Promise<HttpServer> {
  const s = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const file = path === "/" || path === "/index.html" ? join(root, "test", "browser", "index.html") : normalize(join(root, path));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const type = file.endsWith(".html") ? "text/html" : file.endsWith(".js") ? "text/javascript" : "application/octet-stream";
    res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(readFileSync(file));
  });
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r(s)));
}

async function openTab(fragment = ""): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${staticUrl}/index.html?api=${encodeURIComponent(proxy.url)}${fragment}`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

const refreshes = () => proxy.requests.filter((r) => r === "POST /v1/auth/refresh").length;

beforeAll(async () => {
  if (!existsSync(join(root, "dist", "index.js"))) throw new Error("build first: npm run build");
  statics = await serveStatic();
  staticUrl = `http://127.0.0.1:${(statics.address() as { port: number }).port}`;
  server = await startServer({ args: ["--login-rate-limit", "0", "--access-token-ttl", "4", "--cors-origins", staticUrl] });
  proxy = await startProxy(server.port);
  await server.admin("POST", "/v1/storage/buckets", { name: "up", public: false, rules: { read: "auth != ()", write: "auth != ()", delete: "auth != ()" } });
  userDataDir = mkdtempSync(join(tmpdir(), "basalt-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await proxy?.close();
  await server?.stop();
  await new Promise((r) => statics?.close(r));
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe("in Chromium", () => {
  it("two tabs share one session: one refresh, the other tab adopts it; sign-out reaches both", async () => {
    const a = await openTab();
    const b = await openTab();
    const email = uniqueEmail("tab");
    const first = await a.evaluate(async (email) => {
      const w = window as unknown as { basalt: import("../src/index.js").BasaltClient };
      const { session } = await w.basalt.auth.signUp({ email, password: "correct horse battery" });
      return session!.refreshToken;
    }, email);
    // b hears of the sign-in through the storage event
    await b.waitForFunction((t) => (window as unknown as { basalt: { auth: { session: { refreshToken: string } | null } } }).basalt.auth.session?.refreshToken === t, first);
    const before = refreshes();
    // Both tabs' timers fire about one second before the 4 s token expires.
    const token = (p: Page) =>
      p.evaluate(() => (window as unknown as { basalt: { auth: { session: { refreshToken: string } | null } } }).basalt.auth.session?.refreshToken ?? null);
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline && refreshes() === before) await sleep(50);
    await sleep(600);
    expect(refreshes() - before).toBe(1);
    const ta = await token(a);
    const tb = await token(b);
    expect(ta).not.toBe(first);
    expect(ta).toBe(tb);
    const eventsB = await b.evaluate(() => (window as unknown as { authEvents: string[] }).authEvents);
    expect(eventsB).toEqual(["signed_in", "token_refreshed"]);
    // b's token works
    const uid = await b.evaluate(async () => (await (window as unknown as { basalt: import("../src/index.js").BasaltClient }).basalt.auth.getUser()).id);
    expect(uid).toBeTruthy();
    await a.evaluate(() => (window as unknown as { basalt: import("../src/index.js").BasaltClient }).basalt.auth.signOut());
    await b.waitForFunction(() => (window as unknown as { basalt: { auth: { session: unknown } } }).basalt.auth.session === null);
    expect(await b.evaluate(() => (window as unknown as { authEvents: string[] }).authEvents.at(-1))).toBe("signed_out");
    await a.close();
    await b.close();
    expect(problems).toEqual([]);
  });

  it("handleRedirect adopts the session of an OAuth fragment and strips the fragment from the address bar", async () => {
    // The session an OAuth callback would hand over, as its redirect's fragment.
    const signer = createClient(server.url, { autoRefresh: false });
    const donor = (await signer.auth.signUp({ email: uniqueEmail("oauth"), password: "correct horse battery" })).session!;
    signer.close();
    const fragment = `#access_token=${donor.accessToken}&refresh_token=${encodeURIComponent(donor.refreshToken)}&expires_in=3600&token_type=bearer`;
    const page = await openTab(fragment);
    const result = await page.evaluate(async () => {
      const w = window as unknown as { basalt: import("../src/index.js").BasaltClient };
      const before = { href: location.href, historyLength: history.length };
      const s = (await w.basalt.auth.handleRedirect()) as import("../src/index.js").Session;
      const stored = Object.keys(localStorage).filter((k) => k.startsWith("basalt.session:")).map((k) => JSON.parse(localStorage.getItem(k)!) as { refreshToken: string });
      return {
        before,
        after: { href: location.href, hash: location.hash, search: location.search, historyLength: history.length },
        userId: s.user.id,
        current: w.basalt.auth.session?.refreshToken,
        stored: stored.map((x) => x.refreshToken),
        again: await w.basalt.auth.handleRedirect(),
        me: (await w.basalt.auth.getUser()).id,
      };
    });
    expect(result.before.href).toContain("#access_token=");
    expect(result.after.hash).toBe("");
    expect(result.after.href).toBe(result.before.href.slice(0, result.before.href.indexOf("#")));
    expect(result.after.href).not.toContain(donor.accessToken);
    expect(result.after.search).toBe(`?api=${encodeURIComponent(proxy.url)}`);
    // replaceState, not a new entry: Back does not bring the tokens back.
    expect(result.after.historyLength).toBe(result.before.historyLength);
    expect(result.userId).toBe(donor.user.id);
    expect(result.current).toBe(donor.refreshToken);
    expect(result.stored).toContain(donor.refreshToken);
    expect(result.again).toBeNull();
    expect(result.me).toBe(donor.user.id);
    await page.evaluate(() => (window as unknown as { basalt: import("../src/index.js").BasaltClient }).basalt.auth.signOut());
    await page.close();

    // A failed sign-in's fragment is stripped too, and the call rejects with its code.
    const failed = await openTab("#error=access_denied&error_description=denied");
    const f = await failed.evaluate(async () => {
      const w = window as unknown as { basalt: import("../src/index.js").BasaltClient };
      const code = await w.basalt.auth.handleRedirect().then(
        () => "resolved",
        (e: { code: string }) => e.code,
      );
      return { code, hash: location.hash, session: w.basalt.auth.session };
    });
    expect(f).toEqual({ code: "access_denied", hash: "", session: null });
    await failed.close();
    expect(problems).toEqual([]);
  });

  it("upload reports progress and an abort stops it", async () => {
    const page = await openTab();
    const result = await page.evaluate(async (email) => {
      const w = window as unknown as { basalt: import("../src/index.js").BasaltClient };
      await w.basalt.auth.signUp({ email, password: "correct horse battery" });
      const bucket = w.basalt.storage.bucket("up");
      const size = 4 * 1024 * 1024;
      const progress: { loaded: number; total: number | null }[] = [];
      const info = await bucket.upload("dir/big file.bin", new Blob([new Uint8Array(size).fill(7)]), {
        contentType: "application/octet-stream",
        onProgress: (p) => progress.push(p),
      });
      const back = (await bucket.download("dir/big file.bin")) as Blob;
      const ctl = new AbortController();
      let abortCode = "";
      const p = bucket.upload("dir/aborted.bin", new Blob([new Uint8Array(32 * 1024 * 1024)]), {
        signal: ctl.signal,
        onProgress: () => ctl.abort(),
      });
      setTimeout(() => ctl.abort(), 5);
      try {
        await p;
      } catch (e) {
        abortCode = (e as { code: string }).code;
      }
      const listed = await bucket.list({ prefix: "dir/" });
      return {
        size: info.size,
        progress,
        downloaded: back.size,
        isBlob: back instanceof Blob,
        abortCode,
        paths: listed.objects.map((o) => o.path),
      };
    }, uniqueEmail("up"));
    expect(result.size).toBe(4 * 1024 * 1024);
    expect(result.progress.length).toBeGreaterThan(0);
    expect(result.progress.at(-1)).toEqual({ loaded: 4 * 1024 * 1024, total: 4 * 1024 * 1024 });
    expect(result.isBlob).toBe(true);
    expect(result.downloaded).toBe(4 * 1024 * 1024);
    expect(result.abortCode).toBe("aborted");
    expect(result.paths).toEqual(["dir/big file.bin"]);
    await page.close();
    expect(problems).toEqual([]);
  });

  it("push: asks the permission, registers the service worker, and test/browser/sw.js shows a push", async () => {
    const page = await openTab();
    type W = { basalt: import("../src/index.js").BasaltClient };
    await page.evaluate((email) => (window as unknown as W).basalt.auth.signUp({ email, password: "correct horse battery" }), uniqueEmail("push"));

    // Not answered yet: subscribe asks, headless Chromium says no, and no worker was registered.
    const denied = await page.evaluate(async () => {
      const w = window as unknown as W;
      const before = Notification.permission;
      const code = await w.basalt.push.subscribe({ serviceWorker: "/test/browser/sw.js" }).then(
        () => "resolved",
        (e: { code: string }) => e.code,
      );
      return { before, code, after: Notification.permission, workers: (await navigator.serviceWorker.getRegistrations()).length };
    });
    expect(denied).toEqual({ before: "default", code: "permission_denied", after: "denied", workers: 0 });

    // Granted. Chromium's own pushManager.subscribe would ask FCM for an endpoint, which cannot be
    // reached offline (it never settles), so the page swaps in a subscription with a key made by
    // WebCrypto; everything around it is the browser's own.
    await context.grantPermissions(["notifications"], { origin: staticUrl });
    const missing = await page.evaluate(() =>
      (window as unknown as W).basalt.push.subscribe({ serviceWorker: "/test/browser/no-such-worker.js" }).then(
        () => "resolved",
        (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
      ),
    );
    expect(missing).toMatch(/^failed_precondition: the service worker \/test\/browser\/no-such-worker.js could not be registered/);
    // Chromium reports the 404 on the console as well: expected here, so not a problem.
    expect(problems.splice(0)).toEqual(["console: A bad HTTP response code (404) was received when fetching the script."]);
    const subscribed = await page.evaluate(async () => {
      const w = window as unknown as W & { fake?: { unsubscribed: number } };
      const b64 = (b: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      let current: unknown = null;
      let passedKey: number[] = [];
      PushManager.prototype.getSubscription = async () => current as PushSubscription | null;
      PushManager.prototype.subscribe = async function (this: PushManager, options?: PushSubscriptionOptionsInit) {
        passedKey = [...new Uint8Array(options!.applicationServerKey as Uint8Array)];
        const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
        const keys = { p256dh: b64(await crypto.subtle.exportKey("raw", pair.publicKey)), auth: b64(crypto.getRandomValues(new Uint8Array(16)).buffer) };
        const endpoint = "https://push.example.com/wpush/v2/chromium";
        const fake = {
          endpoint,
          options: { applicationServerKey: (options!.applicationServerKey as Uint8Array).slice().buffer, userVisibleOnly: true },
          unsubscribed: 0,
          toJSON: () => ({ endpoint, expirationTime: null, keys }),
          unsubscribe: async () => {
            fake.unsubscribed++;
            current = null;
            return true;
          },
        };
        current = fake;
        w.fake = fake;
        return fake as unknown as PushSubscription;
      };
      const device = await w.basalt.push.subscribe({ serviceWorker: "/test/browser/sw.js" });
      const vapid = await w.basalt.push.vapidKey();
      const regs = await navigator.serviceWorker.getRegistrations();
      return {
        device,
        listed: await w.basalt.push.list(),
        keyMatches: b64(new Uint8Array(passedKey).buffer) === vapid,
        workers: regs.map((r) => ({ scope: r.scope, active: r.active?.state })),
      };
    });
    expect(subscribed.device).toMatchObject({ kind: "webpush", address: "https://push.example.com/wpush/v2/chromium" });
    expect(subscribed.listed).toEqual([subscribed.device]);
    expect(subscribed.keyMatches).toBe(true);
    // Its scope (/test/browser/) does not cover the page: subscribe waited for its own worker.
    expect(subscribed.workers).toEqual([{ scope: `${staticUrl}/test/browser/`, active: "activated" }]);

    // A push as the push service would deliver it (DevTools hands it to the worker): the worker
    // shows it from the payload the server sends.
    const cdp = await context.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
    cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
    await cdp.send("ServiceWorker.enable");
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !registrations.some((r) => r.scopeURL === `${staticUrl}/test/browser/`)) await sleep(20);
    const registrationId = registrations.find((r) => r.scopeURL === `${staticUrl}/test/browser/` && !r.isDeleted)!.registrationId;
    const payload = { id: "01PUSHTEST", title: "New comment", body: "Ada: nice post", data: { post: "p1" }, url: "/index.html?post=p1" };
    await cdp.send("ServiceWorker.deliverPushMessage", { origin: staticUrl, registrationId, data: JSON.stringify(payload) });
    const shown = await page.evaluate(async () => {
      const reg = (await navigator.serviceWorker.getRegistrations())[0]!;
      for (let i = 0; i < 100; i++) {
        const list = await reg.getNotifications();
        if (list.length) return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as unknown }));
        await new Promise((r) => setTimeout(r, 50));
      }
      return [];
    });
    expect(shown).toEqual([{ title: "New comment", body: "Ada: nice post", tag: "01PUSHTEST", data: { url: "/index.html?post=p1", data: { post: "p1" } } }]);
    await cdp.detach();

    // Unsubscribing the device ends the browser's subscription too (found among its registrations).
    const after = await page.evaluate(async (id) => {
      const w = window as unknown as W & { fake: { unsubscribed: number } };
      await w.basalt.push.unsubscribe(id);
      const left = await w.basalt.push.list();
      for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
      return { unsubscribed: w.fake.unsubscribed, left };
    }, subscribed.device.id);
    expect(after).toEqual({ unsubscribed: 1, left: [] });
    await context.clearPermissions();
    await page.close();
    expect(problems).toEqual([]);
  });
});
