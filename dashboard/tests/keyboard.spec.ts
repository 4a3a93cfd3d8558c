// The dashboard with the keyboard alone: Escape closes every dialog, drawer and folding form
// and the focus goes back to the control that opened it; the documents grid moves between
// rows with the arrow keys and opens a document with Enter; Escape then Tab leaves a code
// editor (where Tab alone indents).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { withApp, shoot, type Server } from './harness.ts';

/** What has the keyboard focus, in words (for a failure message). */
function focusedNow(page: Page): Promise<string> {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return 'nothing (the page body)';
    return `${a.tagName.toLowerCase()} "${a.getAttribute('aria-label') ?? (a.textContent ?? '').trim().slice(0, 60)}"`;
  });
}

/** Waits until `target` has the keyboard focus. */
async function focusIsOn(page: Page, target: Locator, what: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await target.evaluate((el) => el === document.activeElement, undefined, { timeout: 1000 }).catch(() => false)) return;
    await page.waitForTimeout(50);
  }
  assert.fail(`the focus should be on ${what}; it is on ${await focusedNow(page)}`);
}

/** Focuses `control` and presses Enter, as a keyboard user opens something. */
async function pressOn(control: Locator, key = 'Enter'): Promise<void> {
  await control.focus();
  await control.press(key);
}

/** Escape closes the dialog named `name` (which the opener opened), leaving `opener` focused. */
async function escapeCloses(page: Page, dialog: Locator, opener: Locator, what: string): Promise<void> {
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await focusIsOn(page, opener, what);
}

async function seed(server: Server, n: number) {
  await server.api('POST', '/v1/db/collections', { name: 'posts' });
  for (let start = 0; start < n; start += 500) {
    const operations = [];
    for (let i = start; i < Math.min(n, start + 500); i++)
      operations.push({ op: 'create', collection: 'posts', id: `p${String(i).padStart(5, '0')}`, data: { title: `post ${i}`, n: i } });
    assert.equal((await server.api('POST', '/v1/db/batch', { operations })).status, 200);
  }
}

test('keyboard: Escape closes every confirmation and shown-once dialog, and the focus goes back to the control that opened it', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 3);

    // A service key: the dialog that shows it once, then the revoke confirmation.
    await page.goto('/_/keys');
    await page.getByLabel('Key name').fill('ci');
    await pressOn(page.getByRole('button', { name: 'Create key' }));
    const created = page.getByRole('dialog', { name: 'New key' });
    await created.waitFor();
    await focusIsOn(page, created.getByRole('button', { name: 'Done' }), 'Done, in the dialog');
    assert.ok(await created.evaluate((d) => d.matches(':modal')), 'a modal dialog');
    await escapeCloses(page, created, page.getByRole('button', { name: 'Create key' }), 'Create key');
    const revoke = page.getByRole('button', { name: 'Revoke ci' });
    await pressOn(revoke);
    const confirmRevoke = page.getByRole('alertdialog', { name: 'Revoke ci?' });
    await confirmRevoke.waitFor();
    await focusIsOn(page, confirmRevoke.getByRole('button', { name: 'Cancel' }), 'Cancel (the confirmation starts on what changes nothing)');
    await escapeCloses(page, confirmRevoke, revoke, 'Revoke ci');
    assert.equal((await server.api<{ keys: unknown[] }>('GET', '/v1/admin/keys')).body.keys.length, 1, 'not revoked');

    // A document's delete confirmation, inside the open document.
    await page.goto('/_/collections/posts/documents');
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('button', { name: 'p00001' }).click();
    const panel = page.getByRole('region', { name: 'Document p00001' });
    const del = panel.getByRole('button', { name: 'Delete document' });
    await pressOn(del);
    const confirmDel = page.getByRole('alertdialog', { name: 'Delete p00001?' });
    await escapeCloses(page, confirmDel, del, 'Delete document');
    assert.ok(await panel.isVisible(), 'the document stays open: Escape closed the dialog only');
    assert.equal((await server.api('GET', '/v1/db/posts/p00001')).status, 200);

    // The bulk delete confirmation.
    await grid.getByRole('checkbox', { name: 'Select p00002' }).check();
    const bulk = page.getByRole('button', { name: 'Delete 1 document', exact: true });
    await pressOn(bulk);
    await escapeCloses(page, page.getByRole('alertdialog', { name: 'Delete 1 document?' }), bulk, 'Delete 1 document');
    assert.equal((await server.api('GET', '/v1/db/posts/p00002')).status, 200);

    // A function's, a user's and a webhook's delete confirmations.
    assert.equal((await server.api('PUT', '/v1/admin/functions/hello', { kind: 'http', source: '1' })).status, 201);
    await page.goto('/_/functions/hello');
    const delFn = page.getByRole('button', { name: 'Delete function' });
    await pressOn(delFn);
    await escapeCloses(page, page.getByRole('alertdialog', { name: 'Delete hello?' }), delFn, 'Delete function');

    const user = await server.api<{ id: string }>('POST', '/v1/admin/users', { email: 'ada@example.com', password: 'password123' });
    await page.goto(`/_/users/${user.body.id}`);
    const delUser = page.getByRole('button', { name: 'Delete user' });
    await pressOn(delUser);
    await escapeCloses(page, page.getByRole('alertdialog', { name: 'Delete ada@example.com?' }), delUser, 'Delete user');
    assert.equal((await server.api('GET', `/v1/admin/users/${user.body.id}`)).status, 200);

    // A webhook made here: the form folds with Escape keeping what was typed, its secret is
    // shown once in a dialog, then its delete confirmation.
    await page.goto('/_/webhooks');
    const newHook = page.getByRole('button', { name: 'New webhook' });
    await pressOn(newHook);
    const form = page.getByRole('form', { name: 'New webhook' });
    await focusIsOn(page, form.getByLabel('Webhook name'), 'the first field of the form');
    await page.keyboard.type('orders');
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'detached' });
    await focusIsOn(page, newHook, 'New webhook');
    await pressOn(newHook);
    assert.equal(await form.getByLabel('Webhook name').inputValue(), 'orders', 'what was typed is still there');
    await form.getByLabel('URL').fill('https://example.com/hooks/basalt');
    await form.getByLabel('Events').fill('nothing.create');
    await form.getByRole('button', { name: 'Create webhook' }).click();
    const secret = page.getByRole('dialog', { name: 'New webhook secret' });
    await secret.waitFor();
    await focusIsOn(page, secret.getByRole('button', { name: 'Done' }), 'Done, in the dialog');
    await escapeCloses(page, secret, newHook, 'New webhook (the form that opened the dialog is gone)');
    await page.goto('/_/webhooks/orders');
    const delHook = page.getByRole('button', { name: 'Delete webhook' });
    await pressOn(delHook);
    await escapeCloses(page, page.getByRole('alertdialog', { name: 'Delete orders?' }), delHook, 'Delete webhook');
    assert.equal((await server.api('GET', '/v1/admin/webhooks/orders')).status, 200);

    // Removing an admin, and setting up two-factor sign-in given up with Escape.
    const dev = await server.api('POST', '/v1/admin/admins', { email: 'dev@example.com', password: 'long password 2', role: 'developer' });
    assert.equal(dev.status, 201);
    await page.goto('/_/settings');
    const removeDev = page.getByRole('button', { name: 'Remove dev@example.com' });
    await pressOn(removeDev);
    await escapeCloses(page, page.getByRole('alertdialog', { name: 'Remove dev@example.com?' }), removeDev, 'Remove dev@example.com');
    const admins = (await server.api<{ admins: { email: string }[] }>('GET', '/v1/admin/admins')).body.admins;
    assert.ok(admins.some((a) => a.email === 'dev@example.com'), 'not removed');
    const setup = page.getByRole('button', { name: 'Set up two-factor sign-in' });
    await pressOn(setup);
    await page.getByLabel('TOTP secret').waitFor();
    await focusIsOn(page, page.getByText('Add this account to your authenticator app'), 'the setup that replaced the button');
    await page.keyboard.press('Escape');
    await page.getByLabel('TOTP secret').waitFor({ state: 'detached' });
    await focusIsOn(page, setup, 'Set up two-factor sign-in');
  });
});

test('keyboard: Escape closes the open document, the new document, the folding forms, a file preview and the narrow-screen menu, the focus back on their opener', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 5);

    // The document drawer: opened from the grid with Enter, closed with Escape, the grid
    // focused again on the same row.
    await page.goto('/_/collections/posts/documents');
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('button', { name: 'p00004' }).waitFor();
    await grid.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const panel = page.getByRole('region', { name: 'Document p00002' });
    await panel.waitFor();
    await focusIsOn(page, panel.getByRole('heading', { name: 'p00002' }), 'the open document');
    await page.keyboard.press('Tab');
    await focusIsOn(page, panel.getByRole('button', { name: 'Close' }), 'Close');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await focusIsOn(page, grid, 'the grid');
    assert.match((await activeRow(grid)) ?? '', /^p00002,/, 'on the row it opened');

    // New document: Escape, the focus back on New document.
    const newDoc = page.getByRole('button', { name: 'New document' });
    await pressOn(newDoc);
    const fresh = page.getByRole('region', { name: 'New document' });
    await fresh.waitFor();
    await fresh.getByLabel('Document id (optional)').focus();
    await page.keyboard.press('Escape');
    await fresh.waitFor({ state: 'detached' });
    await focusIsOn(page, newDoc, 'New document');

    // The forms that New collection, New user and New bucket open.
    for (const [screen, button, form, field] of [
      ['collections', 'New collection', 'New collection', 'Name'],
      ['users', 'New user', 'New user', 'Email'],
      ['files', 'New bucket', 'New bucket', 'Bucket name'],
    ]) {
      await page.goto(`/_/${screen}`);
      const opener = page.getByRole('button', { name: button });
      await pressOn(opener);
      const f = page.getByRole('form', { name: form });
      await focusIsOn(page, f.getByLabel(field, { exact: true }), `${field} in ${form}`);
      assert.equal(await opener.getAttribute('aria-expanded'), 'true');
      await page.keyboard.press('Escape');
      await f.waitFor({ state: 'detached' });
      await focusIsOn(page, opener, button);
      assert.equal(await opener.getAttribute('aria-expanded'), 'false');
    }

    // A file's preview.
    assert.equal((await server.api('POST', '/v1/storage/buckets', { name: 'media' })).status, 201);
    const put = await fetch(`${server.url}/v1/storage/media/notes.txt`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'text/plain' },
      body: 'a note\n',
    });
    assert.equal(put.status, 201);
    await page.goto('/_/files/media');
    const preview = page.getByRole('button', { name: 'Preview notes.txt' });
    await pressOn(preview);
    const shown = page.getByRole('region', { name: 'Preview of notes.txt' });
    await shown.getByText('a note').waitFor();
    await focusIsOn(page, shown.getByRole('heading', { name: 'notes.txt' }), 'the preview');
    await page.keyboard.press('Escape');
    await shown.waitFor({ state: 'detached' });
    await focusIsOn(page, preview, 'Preview notes.txt');
  });

  // The navigation folded behind Menu on a phone.
  await withApp(
    async (s) => {
      const { page } = s;
      const menu = page.getByRole('button', { name: 'Menu' });
      await pressOn(menu);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Collections' }).focus();
      await page.keyboard.press('Escape');
      await nav.getByRole('link', { name: 'Collections' }).waitFor({ state: 'hidden' });
      await focusIsOn(page, menu, 'Menu');
      assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    },
    { width: 390, height: 844 },
  );
});

/** The accessible name of the row the grid's aria-activedescendant points at. */
async function activeRow(grid: Locator): Promise<string | null> {
  return grid.evaluate((g) => {
    const id = g.getAttribute('aria-activedescendant');
    const row = id ? document.getElementById(id) : null;
    return row && g.contains(row) ? row.getAttribute('aria-label') : null;
  });
}

test('keyboard: the documents grid is one tab stop; arrow keys, Page Down, Home and End move between announced rows, loading pages as they go; Enter opens, Space selects', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 250);
    await page.goto('/_/collections/posts/documents');
    const grid = page.getByRole('grid', { name: 'Documents of posts' });
    await grid.getByRole('button', { name: 'p00000' }).waitFor();

    // Tab goes from Run query to the grid.
    await page.getByRole('button', { name: 'Run query' }).focus();
    await page.keyboard.press('Tab');
    await focusIsOn(page, grid, 'the grid');
    const first = (await activeRow(grid)) ?? '';
    assert.match(first, /^p00000, version 1, /, 'the first row, announced by its id and version');
    for (const cell of ['title: post 0', 'n: 0']) assert.ok(first.split(', ').includes(cell), `and its cells (${first})`);
    assert.match((await grid.getAttribute('aria-describedby')) ?? '', /\S/, 'the keys are described');

    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.match((await activeRow(grid)) ?? '', /^p00003,/);
    await page.keyboard.press('ArrowUp');
    assert.match((await activeRow(grid)) ?? '', /^p00002,/);
    await page.keyboard.press('PageDown');
    const paged = Number(/^p(\d+),/.exec((await activeRow(grid)) ?? '')?.[1]);
    assert.ok(paged > 8 && paged < 30, `Page Down moves a screenful (to row ${paged})`);

    // End goes to the last loaded row; the grid scrolls there and loads the next pages
    // (by cursor), so End again goes further, until the last document.
    for (let i = 0; i < 30 && !(await page.getByText('250 loaded, all').count()); i++) {
      await page.keyboard.press('End');
      await page.waitForTimeout(100);
    }
    await page.getByText('250 loaded, all').waitFor();
    await page.keyboard.press('End');
    assert.match((await activeRow(grid)) ?? '', /^p00249,/);
    const row = grid.locator(`[id="${await grid.getAttribute('aria-activedescendant')}"]`);
    const [g, r] = [await grid.boundingBox(), await row.boundingBox()];
    assert.ok(g && r && r.y >= g.y && r.y + r.height <= g.y + g.height + 1, 'the row is scrolled into view');
    assert.ok((await grid.getByRole('row').count()) < 80, 'still virtualised');
    await page.keyboard.press('Home');
    assert.match((await activeRow(grid)) ?? '', /^p00000,/);

    // Space selects the row for a bulk delete, Shift+Space a range.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Shift+Space');
    await page.getByText('4 selected').waitFor();
    for (const id of ['p00001', 'p00002', 'p00003', 'p00004']) {
      assert.ok(await grid.getByRole('checkbox', { name: `Select ${id}` }).isChecked(), `${id} selected`);
      assert.equal(await grid.locator('[role=row]').filter({ has: page.getByRole('button', { name: id, exact: true }) }).getAttribute('aria-selected'), 'true');
    }
    assert.ok(!(await grid.getByRole('checkbox', { name: 'Select p00000' }).isChecked()));
    await shoot(s, 'documents-keyboard');
    await grid.focus();

    // Enter opens the row's document, Escape goes back to the grid on that row.
    await page.keyboard.press('Enter');
    const panel = page.getByRole('region', { name: 'Document p00004' });
    await panel.waitFor();
    assert.equal(await grid.locator('[aria-current=true]').getAttribute('aria-label').then((l) => l?.split(',')[0]), 'p00004', 'the open row is marked');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await focusIsOn(page, grid, 'the grid');
    await page.keyboard.press('ArrowDown');
    assert.match((await activeRow(grid)) ?? '', /^p00005,/);

    // A row clicked with the mouse becomes the keyboard's row.
    await grid.getByRole('checkbox', { name: 'Select p00007' }).click();
    await page.keyboard.press('ArrowDown');
    await focusIsOn(page, grid, 'the grid');
    assert.match((await activeRow(grid)) ?? '', /^p00008,/);

    // Ctrl+A selects every loaded document, and again none.
    await page.keyboard.press('Control+a');
    await page.getByText('250 selected').waitFor();
    await page.keyboard.press('Control+a');
    await page.getByText(/\d+ selected/).waitFor({ state: 'detached' });

    // Tab leaves the grid at once (its rows' buttons and checkboxes are not tab stops).
    await page.keyboard.press('Tab');
    assert.equal(await grid.evaluate((g) => g.contains(document.activeElement)), false, `Tab left the grid, to ${await focusedNow(page)}`);
  });
});

test('keyboard: Escape then Tab leaves the document editor, the playground rule editor and a function source editor; Tab alone indents', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await seed(server, 1);

    // The JSON document editor: Escape in it does not close the document.
    await page.goto('/_/collections/posts/documents');
    await page.getByRole('grid', { name: 'Documents of posts' }).getByRole('button', { name: 'p00000' }).click();
    const panel = page.getByRole('region', { name: 'Document p00000' });
    const doc = page.locator('.cm-content[aria-label="Document data"]');
    await doc.waitFor();
    await doc.click();
    await page.keyboard.press('Control+End');
    const before = await doc.innerText();
    await page.keyboard.press('Tab');
    await focusIsOn(page, doc, 'the document editor (Tab indents)');
    const after = await doc.innerText();
    assert.notEqual(after, before, 'Tab changed the text');
    assert.match(after.trimEnd().split('\n').pop() ?? '', /^\s+}$/, 'Tab indented the last line');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    await focusIsOn(page, panel.getByRole('button', { name: 'Save document' }), 'Save document, after the editor');
    assert.ok(await panel.isVisible(), 'Escape in the editor left the document open');

    // The playground's rule editor.
    await page.goto('/_/rules');
    await page.getByLabel('A rule I write').check();
    const rule = page.locator('.cm-content[aria-label="Rule"]');
    await rule.waitFor();
    await rule.click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    await focusIsOn(page, page.getByLabel('doc (JSON, times in ms, or null)'), 'the doc field, after the rule editor');

    // A function's source and invoke rule editors.
    await page.goto('/_/functions');
    await page.getByRole('button', { name: 'New function' }).click();
    const source = page.locator('.cm-content[aria-label="Function source"]');
    await source.waitFor();
    await source.click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    await focusIsOn(page, page.locator('.cm-content[aria-label="Invoke rule"]'), 'the invoke rule editor');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    await focusIsOn(page, page.getByRole('button', { name: 'Create function' }), 'Create function');
  });
});
