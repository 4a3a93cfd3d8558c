// The example app (examples/todo) in headless Chromium: served by Vite, which forwards /v1 to a
// real basalt through a TCP proxy that counts the requests.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build as viteBuild, createServer as createVite, type ViteDevServer } from "vite";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { ADMIN_EMAIL, ADMIN_PASSWORD, startServer, uniqueEmail, sleep, type Server } from "./helpers/server.js";
import { startProxy, type Proxy } from "./helpers/proxy.js";

const CHROMIUM = process.env["CHROMIUM"] || "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const exampleRoot = join(__dirname, "..", "..", "..", "examples", "todo");
const PASSWORD = "correct horse battery";

let server: Server;
let proxy: Proxy;
let vite: ViteDevServer;
let appUrl: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
const problems: string[] = [];
let userDataDir: string;

beforeAll(async () => {
  if (!existsSync(join(exampleRoot, "index.html"))) throw new Error(`no example app at ${exampleRoot}`);
  server = await startServer({ args: ["--login-rate-limit", "0", "--access-token-ttl", "5"] });
  // The example's own setup code creates its collection and bucket.
  const { setupProject } = (await import(join(exampleRoot, "project.mjs"))) as {
    setupProject: (url: string, token: string) => Promise<string[]>;
  };
  expect(await setupProject(server.url, server.adminToken)).toEqual(["collection todos", "bucket attachments"]);
  expect(await setupProject(server.url, server.adminToken)).toEqual([]);
  proxy = await startProxy(server.port);
  process.env["BASALT_URL"] = proxy.url;
  vite = await createVite({
    configFile: join(exampleRoot, "vite.config.js"),
    logLevel: "error",
    server: { port: 0, strictPort: false, hmr: false },
    clearScreen: false,
  });
  await vite.listen();
  appUrl = vite.resolvedUrls!.local[0]!.replace(/\/$/, "");
  userDataDir = mkdtempSync(join(tmpdir(), "basalt-example-chromium-"));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}, 90_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await vite?.close();
  await proxy?.close();
  await server?.stop();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

// Each test's browsers go when it ends: their refresh timers would count in the next one. So do
// the page errors it collected, checked by the test itself (a failed test's leftovers would fail
// the next one too).
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  problems.length = 0;
});

async function newContext(): Promise<BrowserContext> {
  const c = await browser.newContext();
  contexts.push(c);
  return c;
}

async function openApp(context: BrowserContext, list: string): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${appUrl}/?list=${encodeURIComponent(list)}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  return page;
}

async function signUp(page: Page, email: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
}

async function addTodo(page: Page, title: string): Promise<void> {
  await page.getByLabel("New todo").fill(title);
  await page.getByRole("button", { name: "Add", exact: true }).click();
}

const titles = (page: Page) => page.locator("#list li .title").allTextContents();
const refreshes = () => proxy.requests.filter((r) => r === "POST /v1/auth/refresh").length;
/** The refresh requests sent since the `since`-th request through the proxy, with their answers. */
const refreshAnswers = (since: number) =>
  proxy.exchanges.slice(since).filter((x) => x.request === "POST /v1/auth/refresh").map((x) => ({ status: x.status, reason: x.reason }));

describe("the todo example in Chromium", () => {
  it("type-checks against the SDK's source", () => {
    const tsc = join(__dirname, "..", "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "--noEmit", "-p", join(exampleRoot, "tsconfig.json")], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("npm run setup (setup.mjs) signs in as the admin or uses a service key; a second run changes nothing", () => {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [join(exampleRoot, "setup.mjs")], { encoding: "utf8", env: { ...process.env, BASALT_URL: server.url, ...env } });
    const byAdmin = run({ BASALT_ADMIN_EMAIL: ADMIN_EMAIL, BASALT_ADMIN_PASSWORD: ADMIN_PASSWORD });
    expect(byAdmin.stdout).toBe(`nothing to do: ${server.url} already has the collection and the bucket\n`);
    expect(byAdmin.status).toBe(0);
    const byKey = run({ BASALT_SERVICE_KEY: server.serviceKey });
    expect(byKey.status).toBe(0);
    const wrong = run({ BASALT_ADMIN_EMAIL: ADMIN_EMAIL, BASALT_ADMIN_PASSWORD: "wrong password" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/admin login at .* failed: 401/);
    const none = spawnSync(process.execPath, [join(exampleRoot, "setup.mjs")], { encoding: "utf8", env: { PATH: process.env["PATH"] ?? "" } });
    expect(none.status).toBe(2);
  });

  it("builds for production: static files with the SDK bundled in", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "basalt-example-dist-"));
    try {
      await viteBuild({ configFile: join(exampleRoot, "vite.config.js"), logLevel: "error", build: { outDir, emptyOutDir: true } });
      const html = readFileSync(join(outDir, "index.html"), "utf8");
      const script = /src="\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeTruthy();
      const js = readFileSync(join(outDir, script!), "utf8");
      expect(js).toContain("/v1/realtime");
      expect(js).toContain("/v1/auth/signup");
      expect(js).not.toContain("@basalt/client"); // resolved and bundled, not left as an import
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it("two browsers see one live list: adds, ticks and deletes arrive across contexts", async () => {
    const list = `l${Date.now()}`;
    const a = await openApp(await newContext(), list);
    const b = await openApp(await newContext(), list);
    const emailA = uniqueEmail("ada");
    await signUp(a, emailA);
    await signUp(b, uniqueEmail("bo"));
    await a.getByText("Realtime: open").waitFor();
    await addTodo(a, "buy milk");
    await b.locator("#list li", { hasText: "buy milk" }).waitFor();
    expect(await b.locator("#list li", { hasText: "buy milk" }).locator(".owner").textContent()).toBe(emailA);
    await addTodo(b, "walk the dog");
    await a.locator("#list li", { hasText: "walk the dog" }).waitFor();
    expect(await titles(a)).toEqual(["buy milk", "walk the dog"]);
    // b ticks a's todo; a sees it done.
    await b.getByLabel("Done: buy milk").check();
    await a.locator("#list li.done", { hasText: "buy milk" }).waitFor();
    expect(await a.getByLabel("Done: buy milk").isChecked()).toBe(true);
    // Only the owner may delete: b has no delete button on a's todo.
    expect(await b.getByRole("button", { name: "Delete buy milk" }).count()).toBe(0);
    await a.getByRole("button", { name: "Delete buy milk" }).click();
    await b.locator("#list li", { hasText: "buy milk" }).waitFor({ state: "detached" });
    expect(await titles(b)).toEqual(["walk the dog"]);
    // Another list is another list.
    const other = await openApp(contexts[1]!, `${list}-other`);
    await other.getByText("Nothing to do").waitFor();
    expect(await titles(other)).toEqual([]);
    expect(problems).toEqual([]);
  }, 90_000);

  it("two tabs share one session across a token refresh and keep working live", async () => {
    const list = `t${Date.now()}`;
    const context = await newContext();
    const a = await openApp(context, list);
    const b = await openApp(context, list);
    const email = uniqueEmail("tabs");
    await signUp(a, email);
    await b.getByText(`Signed in as ${email}`).waitFor(); // b adopts a's sign-in from storage
    const stored = () => a.evaluate(() => Object.entries(localStorage).find(([k]) => k.startsWith("basalt.session:"))?.[1] ?? null);
    const first = JSON.parse((await stored())!) as { refreshToken: string };
    const before = refreshes();
    const since = proxy.exchanges.length;
    // Tokens live 5 s: the tabs refresh about 1.25 s before expiry. Wait past two expiries.
    const deadline = Date.now() + 9_000;
    while (Date.now() < deadline && refreshes() - before < 2) await sleep(100);
    await sleep(800);
    const count = refreshes() - before;
    // One refresh per expiry for both tabs together (never one per tab).
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(2);
    // And no tab sent a token the other had just spent (the server would answer 401 already_used):
    // the tab granted the lock after the other refreshed takes its session, even while its
    // localStorage still shows the old one.
    expect(refreshAnswers(since).filter((x) => x.status !== null && x.status !== 200)).toEqual([]);
    const now = JSON.parse((await stored())!) as { refreshToken: string };
    expect(now.refreshToken).not.toBe(first.refreshToken);
    const inTab = (p: Page) =>
      p.evaluate(() => {
        const raw = Object.entries(localStorage).find(([k]) => k.startsWith("basalt.session:"))?.[1];
        return raw ? (JSON.parse(raw) as { refreshToken: string }).refreshToken : null;
      });
    expect(await inTab(b)).toBe(now.refreshToken);
    // Both tabs still act for the user with the refreshed token, HTTP and live.
    expect(await a.getByText(`Signed in as ${email}`).count()).toBe(1);
    expect(await b.getByText(`Signed in as ${email}`).count()).toBe(1);
    await addTodo(b, "after refresh");
    await a.locator("#list li", { hasText: "after refresh" }).waitFor();
    await a.getByLabel("Done: after refresh").check();
    await b.locator("#list li.done", { hasText: "after refresh" }).waitFor();
    // Signing out in one tab signs out the other.
    await a.getByRole("button", { name: "Sign out" }).click();
    await b.getByText("Not signed in").waitFor();
    expect(await b.getByRole("button", { name: "Sign up" }).isVisible()).toBe(true);
    // A wrong password is shown as the server's error; the right one signs both tabs in again.
    await b.getByLabel("Email").fill(email);
    await b.getByLabel("Password").fill("not the password");
    await b.getByRole("button", { name: "Sign in" }).click();
    await b.getByRole("alert").filter({ hasText: "(unauthenticated)" }).waitFor();
    await b.getByLabel("Password").fill(PASSWORD);
    await b.getByRole("button", { name: "Sign in" }).click();
    await a.getByText(`Signed in as ${email}`).waitFor();
    await a.locator("#list li", { hasText: "after refresh" }).waitFor();
    // Chromium logs the refused sign-in's 401 as a console error; nothing else went wrong.
    const refused = problems.filter((p) => /Failed to load resource: .*status of 401/.test(p));
    expect(refreshAnswers(since).filter((x) => x.status === 401)).toEqual([]);
    expect(refused).toHaveLength(1);
    expect(problems.filter((p) => !refused.includes(p))).toEqual([]);
    problems.length = 0;
  }, 90_000);

  it("an attachment upload shows progress, then the todo links the file in both browsers", async () => {
    const list = `u${Date.now()}`;
    const a = await openApp(await newContext(), list);
    const b = await openApp(await newContext(), list);
    await signUp(a, uniqueEmail("up"));
    await signUp(b, uniqueEmail("viewer"));
    await addTodo(a, "report");
    await a.locator("#list li", { hasText: "report" }).waitFor();
    // Record every progress text the app shows, from the page itself.
    await a.evaluate(() => {
      const w = window as unknown as { seen: string[] };
      w.seen = [];
      new MutationObserver(() => {
        const t = document.querySelector(".upload-status")?.textContent;
        if (t && w.seen.at(-1) !== t) w.seen.push(t);
      }).observe(document.getElementById("list")!, { subtree: true, childList: true, characterData: true });
    });
    const size = 6 * 1024 * 1024;
    await a.getByLabel("Attach a file to report").setInputFiles({ name: "report.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(size, 7) });
    const link = b.locator("#list li", { hasText: "report" }).locator("button.attachment");
    await link.waitFor({ timeout: 30_000 });
    expect(await link.textContent()).toBe("📎 report.bin (6.0 MiB)");
    const seen = await a.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((t) => /^\d+%$/.test(t))).toBe(true);
    const pcts = seen.map((t) => Number(t.slice(0, -1)));
    expect([...pcts].sort((x, y) => x - y)).toEqual(pcts); // progress only grows
    expect(pcts.at(-1)).toBe(100);
    // b (another user) downloads it through a signed URL; the bytes are the ones uploaded.
    const [download] = await Promise.all([b.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe("report.bin");
    expect(download.url()).toMatch(/\/v1\/storage\/attachments\/.+report\.bin\?/);
    const saved = join(userDataDir, "report.bin");
    await download.saveAs(saved);
    const bytes = readFileSync(saved);
    expect(bytes.byteLength).toBe(size);
    expect(bytes[size - 1]).toBe(7);
    // b may not attach to a's todo (no input), and the bucket's rule refuses b a write in a's folder.
    expect(await b.getByLabel("Attach a file to report").count()).toBe(0);
    const session = (p: Page) =>
      p.evaluate(() => JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith("basalt.session:"))![1]) as { accessToken: string; user: { id: string } });
    const [sa, sb] = [await session(a), await session(b)];
    const denied = await fetch(`${server.url}/v1/storage/attachments/${sa.user.id}/x.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${sb.accessToken}`, "content-type": "text/plain" },
      body: "not yours",
    });
    expect(denied.status).toBe(403);
    expect(problems).toEqual([]);
  }, 90_000);
});
