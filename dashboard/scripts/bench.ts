// Dashboard benchmark (not part of the tests): `BASALT_BIN=… npm run bench`.
// Prints, for a real basalt on loopback and Debian's Chromium:
//  - time to the first interactive screen (median of N loads, cold and warm cache);
//  - the documents grid over BENCH_DOCS documents (100,000 by default; 1,000,000 works too):
//    how long seeding took, the time from opening the collection to its first rows, frame
//    times while it is scrolled through BENCH_DEEP documents, each page's time by cursor depth
//    and the next page's at the deepest cursor, filtered queries from the query builder on an
//    indexed and an unindexed field, and a count asked for;
//  - bundle sizes (first screen, gzip, and everything).
// Options (environment): BENCH_LOADS (default 15), BENCH_DOCS (default 100000), BENCH_DEEP
// (default BENCH_DOCS), BENCH_OPENS (default 5), BENCH_QUERY_RUNS (default 3),
// BENCH_GRID_ONLY=1 (skip the first screen), BENCH_VERBOSE=1 (each slow frame).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadavg } from 'node:os';
import type { Page, Request } from 'playwright-core';
import { startServer, openBrowser, signIn, type Server } from '../tests/harness.ts';

const LOADS = Number(process.env.BENCH_LOADS ?? 15);
const DOCS = Number(process.env.BENCH_DOCS ?? 100_000);
/** How far the grid is scrolled (documents loaded) before the deep-cursor measurement. */
const DEEP = Number(process.env.BENCH_DEEP ?? DOCS);
const OPENS = Number(process.env.BENCH_OPENS ?? 5);
const QUERY_RUNS = Number(process.env.BENCH_QUERY_RUNS ?? 3);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
/** The largest of many numbers (Math.max(...xs) overflows the stack past some 100,000). */
const maxOf = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);
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
      out.push(`overview, signed in, ${label}: median ${ms(quantile(times, 0.5))} (min ${ms(Math.min(...times))}, max ${ms(maxOf(times))}, ${LOADS} loads)`);
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

/** Inserts DOCS documents into `bench` with POST /v1/db/batch, 500 a batch; answers seconds. */
async function seed(server: Server): Promise<number> {
  await server.api('POST', '/v1/db/collections', { name: 'bench' });
  const t0 = Date.now();
  for (let start = 0; start < DOCS; start += 500) {
    const operations = [];
    for (let i = start; i < Math.min(DOCS, start + 500); i++)
      operations.push({
        op: 'create',
        collection: 'bench',
        id: `d${String(i).padStart(ID_DIGITS, '0')}`,
        data: { title: `document ${i}`, n: i, tags: ['a', 'b'], author: { name: `author ${i % 97}` } },
      });
    const r = await server.api('POST', '/v1/db/batch', { operations });
    if (r.status !== 200) throw new Error(`batch at ${start}: ${r.status} ${JSON.stringify(r.body)}`);
    if ((start + 500) % 100_000 === 0) progress(`seeded ${start + 500} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  return (Date.now() - t0) / 1000;
}

const ID_DIGITS = Math.max(6, String(DOCS - 1).length);
const idOf = (i: number) => `d${String(i).padStart(ID_DIGITS, '0')}`;
const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** Opens the grid (signed in) and answers the time from the start of navigation to the first
 *  rows drawn, and what the page asked the server for meanwhile. */
async function openGrid(page: Page): Promise<{ ms: number; queries: unknown[]; other: string[] }> {
  const queries: unknown[] = [];
  const other: string[] = [];
  const watch = (r: Request) => {
    const u = new URL(r.url());
    if (u.pathname === '/v1/db/bench/query') queries.push(r.postDataJSON());
    else if (u.pathname.startsWith('/v1/')) other.push(`${r.method()} ${u.pathname}${u.search}`);
  };
  page.on('request', watch);
  await page.goto('/_/collections/bench/documents', { waitUntil: 'commit' });
  const first = idOf(0);
  const t = await page
    .waitForFunction((id) => ([...document.querySelectorAll('[role=row] button')].some((b) => b.textContent === id) ? performance.now() : 0), first, {
      polling: 'raf',
      timeout: 120_000,
    })
    .then((h) => h.jsonValue() as Promise<number>);
  await page.waitForTimeout(500);
  page.off('request', watch);
  return { ms: t, queries, other };
}

/** Prints each result of the grid as soon as it is known (a run at a million takes an hour). */
const say = (...lines: string[]) => lines.forEach((l) => console.log(`grid: ${l}`));

async function grid(server: Server): Promise<void> {
  const seeded = await seed(server);
  say(`seeded ${DOCS.toLocaleString('en')} documents with POST /v1/db/batch (500 a batch, one at a time) in ${seeded.toFixed(1)} s (${Math.round(DOCS / seeded)} documents/s)`);
  const t1 = Date.now();
  const idx = await server.api('PATCH', '/v1/db/collections/bench', { indexes: [{ fields: [['n', 'asc']], unique: false }] });
  if (idx.status !== 200) throw new Error(`index: ${idx.status} ${JSON.stringify(idx.body)}`);
  say(`an index on n added over the ${DOCS.toLocaleString('en')} documents (PATCH of the collection) in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  const t2 = performance.now();
  const stats = await server.api<{ documents: number }>('GET', '/v1/admin/stats');
  say(`GET /v1/admin/stats (the overview's and the collection list's counts, count(*) of each collection): ${ms(performance.now() - t2)}, ${stats.body.documents} documents`);

  // The server's part of paging: a page of 100 at several cursor depths, straight from Node
  // (walking there 1,000 at a time).
  {
    const depths = [0, 100_000, 500_000, DEEP].filter((d, i, all) => d < DOCS && all.indexOf(d) === i).sort((x, y) => x - y);
    let after: string | null = null;
    let depth = 0;
    const at: string[] = [];
    for (const stop of depths) {
      while (depth < stop) {
        const r: { body: { documents: unknown[]; next_cursor: string | null } } = await server.api('POST', '/v1/db/bench/query', { limit: 1000, ...(after ? { after } : {}) });
        after = r.body.next_cursor;
        depth += r.body.documents.length;
      }
      const times: number[] = [];
      let a = after;
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const r: { body: { next_cursor: string | null } } = await server.api('POST', '/v1/db/bench/query', { limit: 100, ...(a ? { after: a } : {}) });
        times.push(performance.now() - t0);
        a = r.body.next_cursor;
      }
      at.push(`${depth.toLocaleString('en')}: ${ms(quantile(times, 0.5))}`);
    }
    say(`the API alone, a page of 100 (median of 10) at cursor depth ${at.join(', ')}`);
  }

  const s = await openBrowser(server);
  try {
    await signIn(s);
    const { page } = s;

    // Opening the collection: navigation to the first rows drawn.
    await openGrid(page); // one unmeasured
    const opens: Awaited<ReturnType<typeof openGrid>>[] = [];
    for (let i = 0; i < OPENS; i++) opens.push(await openGrid(page));
    const times = opens.map((o) => o.ms);
    say(`open the collection to the first rows drawn: median ${ms(quantile(times, 0.5))} (min ${ms(Math.min(...times))}, max ${ms(maxOf(times))}, ${OPENS} loads)`);
    const asked = opens.at(-1)!;
    say(`  requests of one opening: ${asked.queries.length} query page(s) ${JSON.stringify(asked.queries)}; besides: ${asked.other.join(', ') || 'none'}`);

    // Scroll down by 40 rows a frame, as far as the loaded rows reach, until DEEP documents are
    // loaded and the last one is on screen; every frame's time is recorded, and every page's.
    progress(`scrolling through ${DEEP} documents`);
    const g = page.getByRole('grid', { name: 'Documents of bench' });
    const r = await g.evaluate(async (el, deep) => {
      performance.setResourceTimingBufferSize(1_000_000);
      performance.clearResourceTimings();
      const frames: number[] = [];
      // Main-thread tasks over 50 ms: the page's own work, as opposed to a frame that came late
      // because the machine was busy elsewhere.
      const tasks: number[] = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => tasks.push(e.duration))).observe({ type: 'longtask' });
      const slow: string[] = [];
      const line = [...document.querySelectorAll('main p')].find((p) => /^\d+ loaded/.test(p.textContent ?? ''));
      // (No named functions in here: the runner's compiler would wrap them in a helper the page lacks.)
      const start = performance.now();
      let last = start;
      for (;;) {
        el.scrollTop = Math.min(el.scrollTop + 40 * 34, el.scrollHeight);
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        frames.push(now - last);
        if (now - last >= 50) slow.push(`${(now - last).toFixed(0)} ms at ${Number((line?.textContent ?? '').split(' ')[0])}`);
        last = now;
        const all = (line?.textContent ?? '').includes('loaded, all');
        if ((all || Number((line?.textContent ?? '').split(' ')[0]) >= deep) && el.scrollTop + el.clientHeight >= el.scrollHeight - 2) break;
        if (now - start > 60 * 60_000) throw new Error(`gave up: ${line?.textContent}`);
      }
      const pages = performance
        .getEntriesByType('resource')
        .filter((e) => e.name.endsWith('/v1/db/bench/query'))
        .map((e) => (e as PerformanceResourceTiming).responseEnd - (e as PerformanceResourceTiming).startTime);
      const lastRow = [...el.querySelectorAll('[role=row] button')].map((b) => b.textContent).pop();
      const heap = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
      return { frames, tasks, slow, pages, seconds: (performance.now() - start) / 1000, lastRow, loaded: Number((line?.textContent ?? '').split(' ')[0]), rows: el.querySelectorAll('[role=row]').length, heap };
    }, DEEP);
    const med = (xs: number[]) => (xs.length ? ms(quantile(xs, 0.5)) : 'none');
    say(
      `scrolled through ${r.loaded.toLocaleString('en')} documents (${r.pages.length} pages of 100 by cursor) in ${r.seconds.toFixed(1)} s, last row ${r.lastRow}, ${r.rows} rows in the page, JS heap ${(r.heap / 2 ** 20).toFixed(0)} MiB`,
      `frame time over ${r.frames.length} frames: p50 ${ms(quantile(r.frames, 0.5))}, p95 ${ms(quantile(r.frames, 0.95))}, max ${ms(maxOf(r.frames))}; ${r.frames.filter((f) => f >= 50).length} frames at 50 ms or more`,
      `long main-thread tasks (over 50 ms) meanwhile: ${r.tasks.length}${r.tasks.length ? `, longest ${ms(maxOf(r.tasks))}` : ''}`,
      `a page of 100 (request to last byte): first 10 pages median ${med(r.pages.slice(0, 10))}; all ${r.pages.length} pages p50 ${med(r.pages)}, p95 ${r.pages.length ? ms(quantile(r.pages, 0.95)) : 'none'}; the last 10 (cursor at ${Math.max(0, r.loaded - 1000).toLocaleString('en')}) median ${med(r.pages.slice(-10))}`,
      ...(process.env.BENCH_VERBOSE ? [`slow frames: ${r.slow.join('; ')}`] : []),
    );
    // The next pages at that deep cursor, as a person who stays at the bottom of the grid gets
    // them: the time between one page's rows and the next one's (the grid loads the next page
    // as soon as the last rows are on screen).
    if (r.loaded < DOCS) {
      const next = await g.evaluate(async (el) => {
        const line = [...document.querySelectorAll('main p')].find((p) => /^\d+ loaded/.test(p.textContent ?? ''));
        const times: number[] = [];
        let before = Number((line?.textContent ?? '').split(' ')[0]);
        const start = performance.now();
        let t0 = start;
        while (times.length < 11 && performance.now() - start < 300_000) {
          el.scrollTop = el.scrollHeight;
          await new Promise(requestAnimationFrame);
          const now = performance.now();
          const n = Number((line?.textContent ?? '').split(' ')[0]);
          if (n > before) {
            times.push(now - t0);
            t0 = now;
            before = n;
          }
          if ((line?.textContent ?? '').includes('loaded, all')) break;
        }
        // The first interval started in the middle of a page.
        return { times: times.slice(1), at: before };
      });
      say(`the next pages at the deep cursor (one page's rows to the next's, ${next.times.length} pages, ending at ${next.at.toLocaleString('en')}): median ${med(next.times)}, max ${next.times.length ? ms(maxOf(next.times)) : 'none'}`);
    }

    // Filtered queries from the query builder, each from a fresh grid.
    const cases: { label: string; field: string; op: string; value: string; expect: string; body: unknown }[] = [
      { label: 'indexed field, n >= last 50', field: 'n', op: '>=', value: String(DOCS - 50), expect: idOf(DOCS - 50), body: { where: [['n', '>=', DOCS - 50]] } },
      { label: 'indexed field, n >= half (many matches)', field: 'n', op: '>=', value: String(DOCS / 2), expect: idOf(DOCS / 2), body: { where: [['n', '>=', DOCS / 2]] } },
      { label: 'unindexed field, author.name == "author 5" (1 in 97)', field: 'author.name', op: '==', value: 'author 5', expect: idOf(5), body: { where: [['author.name', '==', 'author 5']] } },
      { label: `unindexed field, title == "document ${DOCS - 1}" (the last one)`, field: 'title', op: '==', value: `document ${DOCS - 1}`, expect: idOf(DOCS - 1), body: { where: [['title', '==', `document ${DOCS - 1}`]] } },
    ];
    for (const c of cases) {
      const times: number[] = [];
      let shown = '';
      let note = '';
      for (let i = 0; i < QUERY_RUNS; i++) {
        await openGrid(page);
        await page.getByRole('button', { name: 'Add filter' }).click();
        await page.getByLabel('Field').fill(c.field);
        await page.getByLabel('Operator').selectOption(c.op);
        await page.getByLabel('Value').fill(c.value);
        const t = await page.evaluate(async (expect) => {
          const run = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Run query')!;
          const line = [...document.querySelectorAll('main p')].find((p) => /^\d+ loaded/.test(p.textContent ?? ''));
          const t0 = performance.now();
          run.click();
          let during = '';
          for (;;) {
            await new Promise(requestAnimationFrame);
            const now = performance.now() - t0;
            if (now > 1500 && !during) during = line?.textContent ?? '';
            if ([...document.querySelectorAll('[role=row] button')].some((b) => b.textContent === expect)) return { ms: now, during };
            if (document.querySelector('[role=alert]')) return { ms: now, during: `error: ${document.querySelector('[role=alert]')!.textContent}` };
            if (now > 10 * 60_000) return { ms: now, during: `gave up: ${line?.textContent}` };
          }
        }, c.expect);
        times.push(t.ms);
        if (t.during) shown = t.during;
        note = (await page.getByRole('note').filter({ hasText: 'No index serves' }).allInnerTexts()).join(' ');
      }
      // The same query straight from Node, for the server's part.
      const api: number[] = [];
      for (let i = 0; i < QUERY_RUNS; i++) {
        const t0 = performance.now();
        const a = await server.api<{ documents: unknown[] }>('POST', '/v1/db/bench/query', { ...(c.body as object), limit: 100 });
        if (a.status !== 200) throw new Error(`query ${c.label}: ${a.status}`);
        api.push(performance.now() - t0);
      }
      say(
        `query builder, ${c.label}: first rows drawn after median ${ms(quantile(times, 0.5))} (max ${ms(maxOf(times))}, ${QUERY_RUNS} runs); the API alone ${ms(quantile(api, 0.5))}` +
          (shown ? `; after 1.5 s the grid said "${shown.trim()}"` : '') +
          (note ? `; the note: "${note.replace(/\s+/g, ' ').trim()}"` : '; no note'),
      );
    }

    // Counting, when asked for.
    await openGrid(page);
    const tc = await page.evaluate(async () => {
      const b = [...document.querySelectorAll('button')].find((x) => x.textContent?.trim() === 'Count matching documents')!;
      const t0 = performance.now();
      b.click();
      for (;;) {
        await new Promise(requestAnimationFrame);
        const st = document.querySelector('[role=status][aria-label=Count]');
        if (st) return { ms: performance.now() - t0, text: st.textContent?.trim() };
        if (performance.now() - t0 > 10 * 60_000) return { ms: -1, text: 'gave up' };
      }
    });
    say(`Count matching documents (POST /count of the whole collection, asked for): ${ms(tc.ms)}, "${tc.text?.replace(/\s+/g, ' ')}"`);
  } finally {
    await s.close();
  }
}

const server = await startServer();
try {
  console.log(`machine: ${machine()}`);
  console.log(`server: ${execFileSync(process.env.BASALT_BIN ?? '/tmp/basalt-bin/basalt', ['version'], { encoding: 'utf8' }).trim()}`);
  for (const l of bundle()) console.log(`bundle: ${l}`);
  console.log(`load average at the start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (!process.env.BENCH_GRID_ONLY) for (const l of await firstScreen(server)) console.log(`first screen: ${l}`);
  await grid(server);
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await server.stop();
}
