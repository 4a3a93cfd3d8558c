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
});
