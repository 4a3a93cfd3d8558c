import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { withApp, setEditor, shoot, type Server } from './harness.ts';

async function seed(server: Server, n: number) {
  await server.api('POST', '/v1/db/collections', {
    name: 'posts',
    schema: { type: 'object', properties: { title: { type: 'string' }, n: { type: 'integer' } } },
  });
  for (let start = 0; start < n; start += 500) {
    const operations = [];
    for (let i = start; i < Math.min(n, start + 500); i++)
      operations.push({ op: 'create', collection: 'posts', id: `p${String(i).padStart(5, '0')}`, data: { title: `post ${i}`, n: i } });
    const r = await server.api('POST', '/v1/db/batch', { operations });
    assert.equal(r.status, 200);
  }
}

test('grid pages by cursor as it scrolls and renders only visible rows; the filter builder writes the query', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 1200);
    const queries: unknown[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/db/posts/query')) queries.push(r.postDataJSON());
    });
    await page.goto('/_/collections/posts/documents');
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('gridcell').filter({ hasText: 'p00000' }).waitFor();
    const rendered = await grid.getByRole('row').count();
    assert.ok(rendered < 80, `only visible rows are in the page (${rendered})`);
    assert.ok(queries.length <= 2, 'first screen loads one or two pages, not everything');
    assert.ok(queries.every((q) => (q as { limit: number }).limit === 100));
    // Scroll to the end: more pages load with `after`, and the last row appears.
    for (let i = 0; i < 40; i++) {
      await grid.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.waitForTimeout(60);
      if (await grid.getByRole('gridcell').filter({ hasText: 'p01199' }).count()) break;
    }
    await grid.getByRole('gridcell').filter({ hasText: 'p01199' }).waitFor();
    assert.ok(queries.slice(1).every((q) => typeof (q as { after?: string }).after === 'string'), 'later pages use the cursor');
    assert.equal(queries.length, 12, '1200 documents in 12 pages');
    assert.ok((await grid.getByRole('row').count()) < 80, 'still virtualised');
    await page.getByText('1200 loaded, all').waitFor();

    // Filter builder: n >= 1195, ordered by n descending.
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Field').fill('n');
    await page.getByLabel('Operator').selectOption('>=');
    await page.getByLabel('Value').fill('1195');
    await page.getByRole('button', { name: 'Add order' }).click();
    await page.getByLabel('Order by').fill('n');
    await page.getByLabel('Direction').selectOption('desc');
    const json = JSON.parse(await page.getByLabel('Query JSON').inputValue());
    assert.deepEqual(json, { where: [['n', '>=', 1195]], order_by: [['n', 'desc']] });
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.getByText('5 loaded, all').waitFor();
    const ids = await grid.getByRole('row').getByRole('button').allInnerTexts();
    assert.deepEqual(ids, ['p01199', 'p01198', 'p01197', 'p01196', 'p01195']);
    assert.deepEqual(queries.at(-1), { where: [['n', '>=', 1195]], order_by: [['n', 'desc']], limit: 100 });

    // The JSON edited directly.
    await page.getByLabel('Edit JSON directly').check();
    await page.getByLabel('Query JSON').fill('{"where": [["title", "prefix", "post 100"]]}');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.getByText('11 loaded, all').waitFor();
    await shoot(s, 'documents');
  });
});

test('at any size: the grid asks only for pages of at most 100 by cursor, and counts the collection only when asked', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 1200);
    const idx = await server.api('PATCH', '/v1/db/collections/posts', { indexes: [{ fields: [['n', 'asc']], unique: false }] });
    assert.equal(idx.status, 200);
    // Every API request the page makes from here on, and every cursor the server handed out.
    const calls: { method: string; path: string; body: Record<string, unknown> | null }[] = [];
    const cursors = new Set<string>();
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (!u.pathname.startsWith('/v1/')) return;
      let body: Record<string, unknown> | null = null;
      try {
        body = r.postDataJSON();
      } catch {
        body = null;
      }
      calls.push({ method: r.method(), path: u.pathname + u.search, body });
    });
    page.on('response', async (r) => {
      if (!r.url().endsWith('/v1/db/posts/query') || r.status() !== 200) return;
      const c = ((await r.json()) as { next_cursor: string | null }).next_cursor;
      if (c) cursors.add(c);
    });
    const queries = () => calls.filter((c) => c.path === '/v1/db/posts/query');
    /** Every request so far is a bounded page of a query, each later page by the cursor the
     *  one before it got; nothing counts or lists the collection whole. */
    const allBounded = (when: string) => {
      for (const c of calls) {
        // Who is signed in, and the collection's settings (its indexes): neither reads documents.
        if (c.path === '/v1/admin/me' || (c.method === 'GET' && c.path === '/v1/db/collections/posts')) continue;
        assert.equal(`${c.method} ${c.path}`, 'POST /v1/db/posts/query', `${when}: only queries of the collection (${c.method} ${c.path})`);
        const limit = c.body?.limit;
        assert.ok(typeof limit === 'number' && limit > 0 && limit <= 100, `${when}: a limit of at most 100 (${JSON.stringify(c.body)})`);
        if (c.body?.after !== undefined) assert.ok(cursors.has(c.body.after as string), `${when}: after is a cursor the server gave (${c.body.after})`);
      }
    };

    await page.goto('/_/collections/posts/documents');
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('button', { name: 'p00000' }).waitFor();
    await page.waitForTimeout(300);
    assert.ok(queries().length <= 2, `opening the grid asks for a screenful, not more (${queries().length} pages)`);
    assert.equal(queries()[0].body?.after, undefined, 'the first page has no cursor');
    allBounded('opening the grid');

    // Scrolling: one page at a time, each from the cursor of the one before.
    for (let i = 0; i < 40 && !(await page.getByText(/^[6-9]\d\d loaded/).count()); i++) {
      await grid.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.waitForTimeout(60);
    }
    await page.getByText(/^[6-9]\d\d loaded/).waitFor();
    assert.ok(queries().slice(1).every((q) => typeof q.body?.after === 'string'), 'later pages by cursor');
    allBounded('scrolling');

    // A filter from the builder on the indexed field, kept in the address, then a reload.
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Field').fill('n');
    await page.getByLabel('Operator').selectOption('>=');
    await page.getByLabel('Value').fill('1000');
    await page.getByRole('button', { name: 'Run query' }).click();
    await grid.getByRole('button', { name: 'p01000' }).waitFor();
    const filtered = queries().at(-1)!;
    assert.deepEqual(filtered.body, { where: [['n', '>=', 1000]], limit: 100 }, 'a new query starts without a cursor');
    const slow = page.getByRole('note').filter({ hasText: 'No index serves' });
    assert.equal(await slow.count(), 0, 'n is indexed: no warning');
    await page.reload();
    await grid.getByRole('button', { name: 'p01000' }).waitFor();
    await page.waitForTimeout(300);
    allBounded('a filtered query, and a reload');
    assert.equal(calls.filter((c) => /\/count$|\/stats/.test(c.path)).length, 0, 'nothing counted');
    assert.equal(await page.getByRole('status', { name: 'Count' }).count(), 0, 'no count shown');

    // Counting is there when asked for: one count of the query's documents.
    await page.getByRole('button', { name: 'Count matching documents' }).click();
    await page.getByRole('status', { name: 'Count' }).filter({ hasText: '200 documents match this query' }).waitFor();
    const counts = calls.filter((c) => c.path.endsWith('/count'));
    assert.deepEqual(
      counts.map((c) => [c.method, c.path, c.body]),
      [['POST', '/v1/db/posts/count', { where: [['n', '>=', 1000]] }]],
    );
    // A new query drops the count, which is no longer about what is shown.
    await page.getByRole('button', { name: 'Remove filter 1' }).click();
    await page.getByRole('button', { name: 'Run query' }).click();
    await grid.getByRole('button', { name: 'p00000' }).waitFor();
    assert.equal(await page.getByRole('status', { name: 'Count' }).count(), 0);
    await page.getByRole('button', { name: 'Count matching documents' }).click();
    await page.getByRole('status', { name: 'Count' }).filter({ hasText: '1,200 documents match (counted at' }).waitFor();
    assert.deepEqual(calls.filter((c) => c.path.endsWith('/count')).at(-1)?.body, {});

    // A filter on a field no index serves: the same bounded page, and a warning that the
    // server reads the whole collection for it.
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByLabel('Field').fill('title');
    await page.getByLabel('Value').fill('post 7');
    await page.getByRole('button', { name: 'Run query' }).click();
    await grid.getByRole('button', { name: 'p00007' }).waitFor();
    await slow.waitFor();
    assert.match(await slow.innerText(), /No index serves “title”: to answer this query the server goes through the documents of posts one by one/);
    assert.deepEqual(queries().at(-1)?.body, { where: [['title', '==', 'post 7']], limit: 100 });
    assert.equal(calls.filter((c) => c.path.endsWith('/count')).length, 2, 'no count but the two asked for');
  });
});

test('edit with If-Match, conflict on a concurrent change, schema errors inline, create, delete, live updates', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 3);
    await page.goto('/_/collections/posts/documents');
    await page.getByRole('status', { name: 'Live updates' }).filter({ hasText: 'live: open' }).waitFor();
    const grid = page.getByRole('grid', { name: 'Documents of posts' });

    // Live: a document created elsewhere appears, a change elsewhere shows up.
    await server.api('POST', '/v1/db/posts', { id: 'live1', data: { title: 'from elsewhere' } });
    await grid.getByRole('row').filter({ hasText: 'from elsewhere' }).waitFor();
    await server.api('PATCH', '/v1/db/posts/p00001', { data: { title: 'changed elsewhere' } });
    await grid.getByRole('row').filter({ hasText: 'changed elsewhere' }).waitFor();

    // Edit and save: sent with If-Match, version 2 → 3 on the server.
    await grid.getByRole('button', { name: 'p00001' }).click();
    const panel = page.getByRole('region', { name: 'Document p00001' });
    await panel.getByText('version 2').waitFor();
    const put = page.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith('/v1/db/posts/p00001'));
    await setEditor(page, 'Document data', '{"title": "edited in the dashboard", "n": 1}');
    await panel.getByRole('button', { name: 'Save document' }).click();
    assert.equal((await put).headers()['if-match'], '"2"');
    await panel.getByText('version 3').waitFor();
    const after = await server.api<{ version: number; data: unknown }>('GET', '/v1/db/posts/p00001');
    assert.deepEqual([after.body.version, after.body.data], [3, { title: 'edited in the dashboard', n: 1 }]);

    // Schema error: 422 details shown at the line of the field.
    s.expect({ status: 422, path: /^\/v1\/db\/posts\/p00001$/, method: 'PUT' });
    await setEditor(page, 'Document data', '{\n  "title": 42,\n  "n": 1\n}');
    await panel.getByRole('button', { name: 'Save document' }).click();
    await panel.getByText(/Line 2, column 3: \/title: expected string/).waitFor();
    assert.equal((await server.api<{ version: number }>('GET', '/v1/db/posts/p00001')).body.version, 3);

    // Someone else writes meanwhile: the save is refused (412) and the conflict shown.
    s.expect({ status: 412, path: /^\/v1\/db\/posts\/p00001$/, method: 'PUT' });
    await server.api('PATCH', '/v1/db/posts/p00001', { data: { title: 'their change' } });
    await setEditor(page, 'Document data', '{"title": "mine", "n": 1}');
    await panel.getByRole('button', { name: 'Save document' }).click();
    await panel.getByRole('alert').filter({ hasText: 'Someone else changed this document (now version 4)' }).waitFor();
    assert.equal((await server.api<{ data: { title: string } }>('GET', '/v1/db/posts/p00001')).body.data.title, 'their change');
    await shoot(s, 'document-conflict');
    await panel.getByRole('button', { name: 'Load their version' }).click();
    await panel.getByText('version 4').waitFor();

    // Create one with an id, then delete it.
    await page.getByRole('button', { name: 'New document' }).click();
    const np = page.getByRole('region', { name: 'New document' });
    await np.getByLabel('Document id (optional)').fill('made-here');
    await setEditor(page, 'Document data', '{"title": "made here", "n": 7}');
    await np.getByRole('button', { name: 'Create document' }).click();
    await page.getByRole('region', { name: 'Document made-here' }).waitFor();
    assert.equal((await server.api<{ data: unknown }>('GET', '/v1/db/posts/made-here')).status, 200);
    const made = page.getByRole('region', { name: 'Document made-here' });
    await made.getByRole('button', { name: 'Delete document' }).click();
    assert.equal((await server.api('GET', '/v1/db/posts/made-here')).status, 200, 'not before confirming');
    await made.getByRole('button', { name: 'Confirm delete' }).click();
    await grid.getByRole('button', { name: 'made-here' }).waitFor({ state: 'detached' });
    assert.equal((await server.api('GET', '/v1/db/posts/made-here')).status, 404);

    // Deleted elsewhere: leaves the grid.
    await server.api('DELETE', '/v1/db/posts/p00002');
    await grid.getByRole('button', { name: 'p00002' }).waitFor({ state: 'detached' });
  });
});

test('import NDJSON and CSV with a preview and per-row errors; export', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 0);
    await page.goto('/_/collections/posts');
    await page.getByRole('tab', { name: 'Import / export' }).click();
    s.expect({ status: 422, path: /^\/v1\/db\/batch$/, method: 'POST' });
    await page.getByLabel('Data to import').fill(
      ['{"id": "a", "title": "first", "n": 1}', 'not json', '{"title": 5}', '{"data": {"title": "third"}}'].join('\n'),
    );
    const preview = page.getByRole('table', { name: 'Import preview' });
    assert.equal(await preview.getByRole('row').count(), 5);
    assert.match(await preview.getByRole('row').nth(2).innerText(), /not valid JSON|Unexpected token/);
    await page.getByRole('button', { name: 'Import 3 rows' }).click();
    await page.getByRole('status').filter({ hasText: 'Imported 2 documents; 2 rows with errors.' }).waitFor();
    assert.match(await preview.getByRole('row').nth(3).innerText(), /\/title expected string/);
    const count = await server.api<{ count: number }>('POST', '/v1/db/posts/count', {});
    assert.equal(count.body.count, 2);
    assert.equal((await server.api<{ data: { title: string } }>('GET', '/v1/db/posts/a')).body.data.title, 'first');
    await shoot(s, 'import');

    await page.getByLabel('Format', { exact: true }).selectOption('csv');
    await page.getByLabel('Data to import').fill('id,title,n,meta.lang\nb,"with, comma",2,en\nc,plain,3,\n');
    await page.getByRole('button', { name: 'Import 2 rows' }).click();
    await page.getByRole('status').filter({ hasText: 'Imported 2 documents; 0 rows with errors.' }).waitFor();
    assert.deepEqual((await server.api<{ data: unknown }>('GET', '/v1/db/posts/b')).body.data, {
      title: 'with, comma',
      n: 2,
      meta: { lang: 'en' },
    });

    await page.getByLabel('Export format').selectOption('ndjson');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export all documents' }).click();
    const file = await (await download).createReadStream();
    let text = '';
    for await (const chunk of file) text += chunk;
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { id: string });
    assert.equal(lines.length, 4);
    assert.deepEqual(lines.map((l) => l.id).filter((id) => id.length === 1).sort(), ['a', 'b', 'c']);
  });
});

/** Scrolls the grid to its end until the page says everything is loaded. */
async function loadAll(page: Page, n: number) {
  const grid = page.getByRole('grid');
  for (let i = 0; i < 60; i++) {
    if (await page.getByText(`${n} loaded, all`).count()) return;
    await grid.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForTimeout(60);
  }
  await page.getByText(`${n} loaded, all`).waitFor();
}

/** Every operation of every batch the page sends. */
function batches(page: Page): { op: string; collection: string; id: string; if_version?: number }[][] {
  const sent: { op: string; collection: string; id: string; if_version?: number }[][] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/db/batch')) sent.push(r.postDataJSON().operations);
  });
  return sent;
}

test('bulk delete: pick rows (shift for a range), confirm, one batch; a document the server refuses stays, with its error', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 10);
    // A before-trigger that refuses to delete one document: its batch fails with its index.
    const guard = await server.api('PUT', '/v1/admin/functions/keep', {
      kind: 'trigger',
      collection: 'posts',
      event: 'before_delete',
      source: 'if event.id == "p00004" { throw "p00004 is kept" }',
    });
    assert.equal(guard.status, 201, JSON.stringify(guard.body));
    const sent = batches(page);
    await page.goto('/_/collections/posts/documents');
    await page.getByRole('status', { name: 'Live updates' }).filter({ hasText: 'live: open' }).waitFor();
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('button', { name: 'p00009' }).waitFor();

    await grid.getByRole('checkbox', { name: 'Select p00001' }).check();
    await grid.getByRole('checkbox', { name: 'Select p00004' }).click({ modifiers: ['Shift'] });
    await grid.getByRole('checkbox', { name: 'Select p00007' }).check();
    for (const id of ['p00001', 'p00002', 'p00003', 'p00004', 'p00007'])
      assert.ok(await grid.getByRole('checkbox', { name: `Select ${id}` }).isChecked(), `${id} picked`);
    for (const id of ['p00000', 'p00005', 'p00006', 'p00008', 'p00009'])
      assert.ok(!(await grid.getByRole('checkbox', { name: `Select ${id}` }).isChecked()), `${id} not picked`);
    const all = grid.getByRole('checkbox', { name: 'Select all loaded documents' });
    assert.equal(await all.evaluate((e) => (e as HTMLInputElement).indeterminate), true, 'select-all shows a partial selection');
    await page.getByText('5 selected').waitFor();

    await page.getByRole('button', { name: 'Delete 5 documents' }).click();
    assert.equal(sent.length, 0, 'nothing sent before confirming');
    assert.equal((await server.api<{ count: number }>('POST', '/v1/db/posts/count', {})).body.count, 10);
    await shoot(s, 'documents-bulk-confirm');
    s.expect({ status: 400, path: /^\/v1\/db\/batch$/, method: 'POST' });
    await page.getByRole('button', { name: 'Confirm delete of 5 documents' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 4 documents; 1 not deleted.' }).waitFor();
    const failed = page.getByRole('alert', { name: 'Documents not deleted' });
    assert.match(await failed.innerText(), /p00004: invalid_argument: .*p00004 is kept/);

    // One batch of five, refused at p00004 (index 3), then the other four again.
    assert.deepEqual(
      sent.map((ops) => ops.map((o) => o.id)),
      [
        ['p00001', 'p00002', 'p00003', 'p00004', 'p00007'],
        ['p00001', 'p00002', 'p00003', 'p00007'],
      ],
    );
    assert.ok(sent.flat().every((o) => o.op === 'delete' && o.collection === 'posts' && o.if_version === 1), 'deletes at the loaded version');
    for (const id of ['p00001', 'p00002', 'p00003', 'p00007']) {
      assert.equal((await server.api('GET', `/v1/db/posts/${id}`)).status, 404, `${id} deleted`);
      await grid.getByRole('button', { name: id }).waitFor({ state: 'detached' });
    }
    for (const id of ['p00000', 'p00004', 'p00005', 'p00006', 'p00008', 'p00009'])
      assert.equal((await server.api('GET', `/v1/db/posts/${id}`)).status, 200, `${id} remains`);
    assert.equal((await server.api<{ count: number }>('POST', '/v1/db/posts/count', {})).body.count, 6);
    await page.getByText('6 loaded, all').waitFor();
    // The refused one stays picked, so it can be looked at or tried again.
    assert.ok(await grid.getByRole('checkbox', { name: 'Select p00004' }).isChecked());
    await page.getByRole('button', { name: 'Delete 1 document', exact: true }).waitFor();
    await shoot(s, 'documents-bulk-result');
    await page.getByRole('button', { name: 'Clear selection' }).click();
    assert.ok(!(await grid.getByRole('checkbox', { name: 'Select p00004' }).isChecked()));
    assert.equal(await page.getByRole('button', { name: /^Delete \d+ documents?$/ }).count(), 0);
  });
});

test('bulk delete of every loaded document of a query goes in batches of at most 500; the rest of the collection stays', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 1200);
    const sent = batches(page);
    await page.goto('/_/collections/posts/documents');
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('button', { name: 'p00000' }).waitFor();
    await page.getByLabel('Edit JSON directly').check();
    await page.getByLabel('Query JSON').fill('{"where": [["n", ">=", 100]]}');
    await page.getByRole('button', { name: 'Run query' }).click();
    await grid.getByRole('button', { name: 'p00100' }).waitFor();
    await loadAll(page, 1100);

    await grid.getByRole('checkbox', { name: 'Select all loaded documents' }).check();
    await page.getByText('1100 selected').waitFor();
    const rows = grid.getByRole('checkbox', { name: /^Select p\d+$/ });
    assert.ok((await rows.count()) > 0);
    for (const box of await rows.all()) assert.ok(await box.isChecked(), 'every row on screen is picked');
    await page.getByRole('button', { name: 'Delete 1100 documents' }).click();
    // What the progress bar says, frame by frame, while the batches go. (A string: the test
    // runner's compiler would wrap a named function in a helper the page does not have.)
    await page.evaluate(`(() => {
      const seen = (window.seen = []);
      const look = () => {
        const bar = document.querySelector('progress[aria-label="Deleting documents"]');
        if (bar) seen.push(bar.value + ' of ' + bar.max + ': ' + bar.parentElement.textContent.trim());
        if (!document.body.innerText.includes('Deleted 1100 documents.')) requestAnimationFrame(look);
      };
      requestAnimationFrame(look);
    })()`);
    await page.getByRole('button', { name: 'Confirm delete of 1100 documents' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 1100 documents.' }).waitFor();
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    assert.ok(seen.length > 0, 'a progress bar while deleting');
    assert.ok(seen.every((t) => /^(0|500|1000) of 1100: Deleting \1 of 1100$/.test(t)), `progress: ${[...new Set(seen)].join(', ')}`);
    assert.deepEqual(sent.map((ops) => ops.length), [500, 500, 100], 'three batches, none over the limit');
    assert.equal(new Set(sent.flat().map((o) => o.id)).size, 1100);
    assert.ok(sent.flat().every((o) => o.op === 'delete' && Number(o.id.slice(1)) >= 100));
    await page.getByText('0 loaded, all').waitFor();
    assert.equal(await grid.getByRole('button').count(), 0, 'the grid is empty');

    const left = await server.api<{ count: number }>('POST', '/v1/db/posts/count', {});
    assert.equal(left.body.count, 100, 'the documents outside the query remain');
    const low = await server.api<{ count: number }>('POST', '/v1/db/posts/count', { where: [['n', '<', 100]] });
    assert.equal(low.body.count, 100);

    // With the filter gone, the rest shows; nothing is picked.
    await page.getByLabel('Query JSON').fill('{}');
    await page.getByRole('button', { name: 'Run query' }).click();
    await grid.getByRole('button', { name: 'p00000' }).waitFor();
    assert.ok(!(await grid.getByRole('checkbox', { name: 'Select p00000' }).isChecked()));
  });
});

test('import a JSON file through the file picker; a file that is not JSON says so and imports nothing', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 0);
    const sent = batches(page);
    await page.goto('/_/collections/posts');
    await page.getByRole('tab', { name: 'Import / export' }).click();
    const file = page.getByLabel('File', { exact: true });
    const count = async () => (await server.api<{ count: number }>('POST', '/v1/db/posts/count', {})).body.count;

    // Cut off in the middle: not JSON.
    await file.setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('[{"title": "one"},\n {"title": "tw') });
    const alert = page.getByRole('alert').filter({ hasText: 'Nothing to import: not valid JSON' });
    await alert.waitFor();
    assert.equal(await page.getByLabel('Format', { exact: true }).inputValue(), 'json', 'the format follows the file name');
    assert.match(await alert.innerText(), /JSON/);
    assert.ok(await page.getByRole('button', { name: 'Import 0 rows' }).isDisabled());
    // JSON, but not an array of documents.
    await file.setInputFiles({ name: 'object.json', mimeType: 'application/json', buffer: Buffer.from('{"title": "one"}') });
    await page.getByRole('alert').filter({ hasText: 'Nothing to import: expected a JSON array of objects.' }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Import 0 rows' }).isDisabled());
    assert.equal(sent.length, 0, 'nothing sent');
    assert.equal(await count(), 0, 'nothing imported');

    const docs = [
      { id: 'j1', title: 'first', n: 1 },
      { title: 'without an id', n: 2 },
      // An exported document: its data is what is imported.
      { id: 'j3', collection: 'posts', version: 7, data: { title: 'exported', n: 3 } },
    ];
    await file.setInputFiles({ name: 'posts.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(docs, null, 2)) });
    const preview = page.getByRole('table', { name: 'Import preview' });
    await preview.getByText('without an id').waitFor();
    assert.equal(await preview.getByRole('row').count(), 4);
    assert.equal(await page.getByRole('alert').count(), 0, 'the error went with the broken file');
    await page.getByRole('button', { name: 'Import 3 rows' }).click();
    await page.getByRole('status').filter({ hasText: 'Imported 3 documents; 0 rows with errors.' }).waitFor();
    assert.equal(sent.length, 1);
    assert.equal(await count(), 3);
    assert.deepEqual((await server.api<{ data: unknown }>('GET', '/v1/db/posts/j1')).body.data, { title: 'first', n: 1 });
    const j3 = await server.api<{ version: number; data: unknown }>('GET', '/v1/db/posts/j3');
    assert.deepEqual([j3.body.version, j3.body.data], [1, { title: 'exported', n: 3 }]);
    const q = await server.api<{ documents: { id: string; data: unknown }[] }>('POST', '/v1/db/posts/query', {
      where: [['title', '==', 'without an id']],
    });
    assert.equal(q.body.documents.length, 1);
    assert.deepEqual(q.body.documents[0].data, { title: 'without an id', n: 2 });
    assert.notEqual(q.body.documents[0].id, '');
  });
});
