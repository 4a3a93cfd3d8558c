// Shared test setup: a real basalt on loopback (fresh SQLite data dir), Debian's Chromium
// through playwright-core, and a watcher that fails the test on any page error, console
// error or unexpected failed request.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const BIN = process.env.BASALT_BIN ?? '/tmp/basalt-bin/basalt-debug';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ADMIN = { email: 'admin@example.com', password: 'long password 1' };
const SHOTS = new URL('./screenshots/', import.meta.url).pathname;

export interface Server {
  url: string;
  dir: string;
  token: string;
  /** Calls the API as the admin; answers status and parsed body. */
  api<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }>;
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

/** `args`: more `basalt serve` flags, such as `['--admin-token-ttl', '3']`. */
export async function startServer(args: string[] = []): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'basalt-dash-'));
  const env = { ...process.env, BASALT_LOG: 'warn' };
  const cli = (...args: string[]) => execFileSync(BIN, [...args, '--data-dir', dir], { env, encoding: 'utf8' });
  cli('admin', 'create', '--email', ADMIN.email, '--password', ADMIN.password);
  const child: ChildProcess = spawn(BIN, ['serve', '--http', '127.0.0.1:0', '--data-dir', dir, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`basalt did not start: ${out} ${stderr}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`basalt exited with ${code}: ${stderr}`)));
  });
  const signInOverApi = async () => {
    const login = await fetch(`${url}/v1/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    assert.equal(login.status, 200, 'admin login over the API');
    return ((await login.json()) as { access_token: string }).access_token;
  };
  const server: Server = {
    url,
    dir,
    token: await signInOverApi(),
    cli,
    async api(method, path, body, headers = {}) {
      const call = () =>
        fetch(url + path, {
          method,
          headers: {
            authorization: `Bearer ${server.token}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      let res = await call();
      // A server started with a short admin_token_ttl: sign in again and repeat.
      if (res.status === 401 && !headers.authorization) {
        server.token = await signInOverApi();
        res = await call();
      }
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as never, headers: res.headers };
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A failed answer the test expects (a refused save, say). */
export interface Expected {
  status: number;
  path: RegExp;
  method?: string;
}

export interface Session {
  ctx: BrowserContext;
  page: Page;
  problems: string[];
  expect(e: Expected): void;
  /** Fails the test on any page error, console error or unexpected failed request so far,
   *  and on an error alert left on screen when the test expected no refusal. */
  assertClean(): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(
  server: Server,
  opts: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {},
): Promise<Session> {
  const profile = mkdtempSync(join(tmpdir(), 'basalt-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    colorScheme: opts.colorScheme ?? 'light',
    baseURL: server.url,
  });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const problems: string[] = [];
  const expected: Expected[] = [];
  let refusalsExpected = false;
  const isExpected = (method: string, url: string, status: number) => {
    const path = new URL(url).pathname + new URL(url).search;
    return expected.some((e) => e.status === status && e.path.test(path) && (!e.method || e.method === method));
  };
  // Chromium logs every failed fetch as a console error; those are judged by their response.
  const failedUrls = new Set<string>();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    const u = new URL(r.url());
    // The browser's own pages (its PDF viewer, say) are not requests to another origin.
    if (u.protocol === 'chrome-extension:' || u.protocol === 'chrome:') return;
    if (u.origin !== server.url) problems.push(`request to another origin: ${r.url()}`);
    if (r.status() >= 400) {
      failedUrls.add(r.url());
      if (!isExpected(r.request().method(), r.url(), r.status()))
        problems.push(`unexpected ${r.status()} for ${r.request().method()} ${u.pathname}${u.search}`);
    }
  });
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // Navigating away aborts a page's open requests (and its realtime socket): not a failure.
    if (why === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${why}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const loc = m.location().url;
    if (m.text().startsWith('Failed to load resource') && failedUrls.has(loc)) return;
    problems.push(`console error: ${m.text()} ${loc}`);
  });
  return {
    ctx,
    page,
    problems,
    expect(e) {
      expected.push(e);
      // A 404 of a route the server lacks is shown as "not available", never as an alert.
      if (e.status !== 404) refusalsExpected = true;
    },
    async assertClean() {
      assert.deepEqual(problems, [], 'no page error, console error or unexpected failed request');
      if (!refusalsExpected && !page.isClosed()) {
        const alerts = await page.getByRole('alert').allInnerTexts();
        assert.deepEqual(alerts, [], 'no error alert on screen');
      }
    },
    async close() {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function signIn(s: Session, who: { email: string; password: string } = ADMIN): Promise<void> {
  const { page } = s;
  await page.goto('/_/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

const CONTROLS = 'button|link|textbox|searchbox|combobox|listbox|checkbox|radio|spinbutton|slider|tab|progressbar|switch|grid';

/** Every control on screen has an accessible name, as a screen reader would announce it. */
export async function assertNamed(s: Session, screen: string): Promise<void> {
  const tree = await s.page.locator('body').ariaSnapshot();
  const unnamed = tree.split('\n').filter((l) => new RegExp(`^\\s*- '?(${CONTROLS})(?![a-z])(?!\\s+")`).test(l));
  assert.deepEqual(unnamed, [], `controls without an accessible name on ${screen}`);
}

// axe-core, the accessibility checker, injected into the page under test (through the
// DevTools protocol, so the dashboard's Content-Security-Policy stays as strict as it is).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** Runs axe-core on the page as it is; answers the violations of impact serious or critical. */
export async function axe(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } };
    return (await w.axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 4).join(', ')}`);
}

/** Screenshots of the current screen in the light and the dark theme, with checks that its
 *  controls are all named and that axe-core finds nothing serious or critical in either theme. */
export async function shoot(s: Session, name: string): Promise<void> {
  await assertNamed(s, name);
  mkdirSync(SHOTS, { recursive: true });
  try {
    for (const scheme of ['light', 'dark'] as const) {
      await s.page.emulateMedia({ colorScheme: scheme });
      await s.page.evaluate(() => new Promise(requestAnimationFrame));
      await s.page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
      assert.deepEqual(await axe(s.page), [], `axe-core on ${name} (${scheme} theme)`);
    }
  } finally {
    await s.page.emulateMedia({ colorScheme: 'light' });
  }
}

/** Runs `body` with a fresh server and a signed-in browser, cleaning up whatever happens. */
export async function withApp(
  body: (s: Session, server: Server) => Promise<void>,
  opts: { width?: number; height?: number; signIn?: boolean; serverArgs?: string[] } = {},
): Promise<void> {
  const server = await startServer(opts.serverArgs);
  let s: Session | null = null;
  try {
    s = await openBrowser(server, opts);
    if (opts.signIn !== false) await signIn(s);
    await body(s, server);
    await s.assertClean();
  } finally {
    await s?.close();
    await server.stop();
  }
}

/** Replaces the text of the code editor named `name`, typing as a person would. */
export async function setEditor(page: Page, name: string, text: string) {
  // The editor loads lazily; typing into its stand-in while it replaces it would lose keys.
  await page.locator(`.cm-content[aria-label="${name}"]`).waitFor();
  await page.getByRole('textbox', { name, exact: true }).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}
