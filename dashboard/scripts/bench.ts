// Dashboard benchmark (not part of the tests): `BASALT_BIN=… npm run bench`.
// Prints, for a real basalt on loopback and Debian's Chromium:
//  - time to the first interactive screen (median of N loads, cold and warm cache);
//  - frame times while the documents grid is scrolled through 100,000 documents;
//  - bundle sizes (first screen, gzip, and everything).
// Options (environment): BENCH_LOADS (default 15), BENCH_DOCS (default 100000).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startServer, openBrowser, signIn, type Server } from '../tests/harness.ts';

const LOADS = Number(process.env.BENCH_LOADS ?? 15);
const DOCS = Number(process.env.BENCH_DOCS ?? 100_000);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function machine(): string {
  const cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const model = execFileSync('lscpu', { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith('Model name'))
    ?.replace(/^Model name:\s*/, '')
    .trim();
  const chromium = execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
  return `${cpus} CPUs (nproc), ${model ?? 'unknown CPU'}; ${chromium}; Node ${process.version}`;
}

function bundle(): string[] {
  const root = new URL('../../crates/server/dashboard-dist/', import.meta.url).pathname;
  const html = readFileSync(join(root, 'index.html'));
  const gz = (b: Buffer) => gzipSync(b, { level: 9 }).length;
  const first = new Set<string>();
  const text = html.toString();
  for (const m of text.matchAll(/(?:src|href)="\/_\/(assets\/[^"]+\.(?:js|css))"/g)) first.add(m[1]);
  let firstRaw = html.length;
  let firstGz = gz(html);
  for (const f of first) {
    const b = readFileSync(join(root, f));
    firstRaw += b.length;
    firstGz += gz(b);
  }
  let totalRaw = html.length;
  let totalGz = gz(html);
  const assets = readdirSync(join(root, 'assets')).filter((f) => !f.endsWith('.gz') && !f.endsWith('.br'));
  for (const f of assets) {
    const b = readFileSync(join(root, 'assets', f));
    totalRaw += b.length;
    totalGz += gz(b);
  }
  return [
    `first screen (index.html, ${[...first].join(', ')}): ${kib(firstGz)} gzip (${kib(firstRaw)} raw)`,
    `everything (${assets.length + 1} files, the code editor included): ${kib(totalGz)} gzip (${kib(totalRaw)} raw)`,
  ];
}

async function firstScreen(server: Server): Promise<string[]> {
  const s = await openBrowser(server);
  try {
    await signIn(s);
    const { page } = s;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    // From the start of navigation to the overview with its counts filled in (every request
    // of the first screen answered and drawn).
    const load = async () => {
      await page.goto('/_/', { waitUntil: 'commit' });
      return page.waitForFunction(
        () => {
          const dd = [...document.querySelectorAll('dd')];
          return dd.length === 5 && dd.every((d) => /\d/.test(d.textContent ?? '')) ? performance.now() : 0;
        },
        undefined,
        { polling: 'raf' },
      ).then((h) => h.jsonValue() as Promise<number>);
    };
    const signInScreen = async () => {
      await page.evaluate(() => sessionStorage.clear());
      await page.goto('/_/login', { waitUntil: 'commit' });
      return page.waitForFunction(() => (document.querySelector('form button[type=submit]') ? performance.now() : 0), undefined, {
        polling: 'raf',
      }).then((h) => h.jsonValue() as Promise<number>);
    };
    const out: string[] = [];
    for (const [label, cache] of [['cold cache', true], ['warm cache', false]] as const) {
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: cache });
      await load(); // one unmeasured load
      const times: number[] = [];
      for (let i = 0; i < LOADS; i++) times.push(await load());
      out.push(`overview, signed in, ${label}: median ${ms(quantile(times, 0.5))} (min ${ms(Math.min(...times))}, max ${ms(Math.max(...times))}, ${LOADS} loads)`);
    }
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const times: number[] = [];
    for (let i = 0; i < LOADS; i++) times.push(await signInScreen());
    out.push(`sign-in screen, cold cache: median ${ms(quantile(times, 0.5))} (${LOADS} loads)`);
    return out;
  } finally {
    await s.close();
  }
}

async function grid(server: Server): Promise<string[]> {
  await server.api('POST', '/v1/db/collections', { name: 'bench' });
  const t0 = Date.now();
  for (let start = 0; start < DOCS; start += 500) {
    const operations = [];
    for (let i = start; i < Math.min(DOCS, start + 500); i++)
      operations.push({
        op: 'create',
        collection: 'bench',
        id: `d${String(i).padStart(6, '0')}`,
        data: { title: `document ${i}`, n: i, tags: ['a', 'b'], author: { name: `author ${i % 97}` } },
      });
    const r = await server.api('POST', '/v1/db/batch', { operations });
    if (r.status !== 200) throw new Error(`batch at ${start}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const seeded = (Date.now() - t0) / 1000;
  const s = await openBrowser(server);
  try {
    await signIn(s);
    const { page } = s;
    await page.goto('/_/collections/bench/documents');
    const g = page.getByRole('grid', { name: 'Documents of bench' });
    await g.getByRole('button', { name: 'd000000' }).waitFor();
    // Scroll down by 40 rows a frame, as far as the loaded rows reach, until all are loaded
    // and the last one is on screen; every frame's time is recorded.
    const r = await g.evaluate(async (el, total) => {
      const frames: number[] = [];
      // Main-thread tasks over 50 ms: the page's own work, as opposed to a frame that came late
      // because the machine was busy elsewhere.
      const tasks: number[] = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => tasks.push(e.duration))).observe({ type: 'longtask' });
      const slow: string[] = [];
      const line = [...document.querySelectorAll('main p')].find((p) => /^\d+ loaded/.test(p.textContent ?? ''));
      const start = performance.now();
      let last = start;
      for (;;) {
        el.scrollTop = Math.min(el.scrollTop + 40 * 34, el.scrollHeight);
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        frames.push(now - last);
        if (now - last >= 50) slow.push(`${(now - last).toFixed(0)} ms at ${line?.textContent?.split(' ')[0]}`);
        last = now;
        const all = (line?.textContent ?? '').startsWith(`${total} loaded, all`);
        if (all && el.scrollTop + el.clientHeight >= el.scrollHeight - 2) break;
        if (now - start > 15 * 60_000) throw new Error(`gave up: ${line?.textContent}`);
      }
      const lastRow = [...el.querySelectorAll('[role=row] button')].map((b) => b.textContent).pop();
      return { frames, tasks, slow, seconds: (performance.now() - start) / 1000, lastRow, rows: el.querySelectorAll('[role=row]').length };
    }, DOCS);
    return [
      `seeded ${DOCS} documents with POST /v1/db/batch (500 a batch) in ${seeded.toFixed(1)} s`,
      `scrolled through ${DOCS} documents (${DOCS / 100} pages of 100 by cursor) in ${r.seconds.toFixed(1)} s, last row ${r.lastRow}, ${r.rows} rows in the page`,
      `frame time over ${r.frames.length} frames: p50 ${ms(quantile(r.frames, 0.5))}, p95 ${ms(quantile(r.frames, 0.95))}, max ${ms(Math.max(...r.frames))}; ${r.frames.filter((f) => f >= 50).length} frames at 50 ms or more`,
      `long main-thread tasks (over 50 ms) meanwhile: ${r.tasks.length}${r.tasks.length ? `, longest ${ms(Math.max(...r.tasks))}` : ''}`,
      ...(process.env.BENCH_VERBOSE ? [`slow frames: ${r.slow.join('; ')}`] : []),
    ];
  } finally {
    await s.close();
  }
}

const server = await startServer();
try {
  console.log(`machine: ${machine()}`);
  console.log(`server: ${execFileSync(process.env.BASALT_BIN ?? '/tmp/basalt-bin/basalt', ['version'], { encoding: 'utf8' }).trim()}`);
  for (const l of bundle()) console.log(`bundle: ${l}`);
  for (const l of await firstScreen(server)) console.log(`first screen: ${l}`);
  for (const l of await grid(server)) console.log(`grid: ${l}`);
} finally {
  await server.stop();
}
