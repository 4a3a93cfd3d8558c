import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, setEditor, shoot } from './harness.ts';

test('create a collection, a rule compile error at its line, rules/schema/indexes saved after a diff, delete with typed confirmation', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Collections' }).click();
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.getByLabel('Name').fill('posts');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/_\/collections\/posts$/);
    const created = await server.api<{ name: string }>('GET', '/v1/db/collections/posts');
    assert.equal(created.status, 200);

    // A rule that does not compile: refused before saving, shown at line 2.
    await page.getByRole('textbox', { name: 'read rule', exact: true }).waitFor();
    s.expect({ status: 400, path: /^\/v1\/admin\/rules\/evaluate$/ });
    await setEditor(page, 'read rule', 'auth != () &&\n  doc.data.owner = auth.uid');
    await page.getByRole('button', { name: 'Review changes' }).click();
    await page.getByText(/Line 2, column \d+: .*Possibly a typo/).waitFor();
    assert.equal(await page.locator('.cm-lintRange-error, .cm-lint-marker-error').count() > 0, true, 'marked in the editor');
    assert.equal(await page.getByRole('button', { name: 'Save changes' }).count(), 0, 'not offered for saving');

    // Keyboard: Tab indents inside an editor; Escape then Tab moves on to the next editor.
    await page.getByRole('textbox', { name: 'read rule', exact: true }).click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'create rule');

    await setEditor(page, 'read rule', 'auth != () && doc.data.owner == auth.uid');
    await setEditor(page, 'create rule', 'auth != ()');
    await setEditor(page, 'Schema', '{"type": "object", "properties": {"title": {"type": "string"}}}');
    await setEditor(page, 'Indexes', '[{"fields": [["title", "asc"]], "unique": false}]');
    await page.getByRole('button', { name: 'Review changes' }).click();
    const review = page.getByRole('region', { name: 'Review changes' });
    await review.waitFor();
    assert.match(await review.getByRole('figure', { name: 'read rule' }).innerText(), /\+ auth != \(\) && doc\.data\.owner == auth\.uid/);
    assert.match(await review.getByRole('figure', { name: 'Schema' }).innerText(), /\+ .*"title"/);
    await shoot(s, 'collection-review');
    await review.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const saved = await server.api<{ rules: Record<string, string>; schema: unknown; indexes: unknown[] }>('GET', '/v1/db/collections/posts');
    assert.deepEqual(saved.body.rules, { read: 'auth != () && doc.data.owner == auth.uid', create: 'auth != ()' });
    assert.deepEqual(saved.body.schema, { type: 'object', properties: { title: { type: 'string' } } });
    assert.deepEqual(saved.body.indexes, [{ fields: [['title', 'asc']], unique: false }]);

    // The API panel: snippets for this collection.
    await page.getByRole('tab', { name: 'API' }).click();
    const ts = page.getByRole('figure').filter({ hasText: '@basalt/client' });
    assert.match(await ts.innerText(), /basalt\.collection\("posts"\)/);
    await page.getByRole('button', { name: 'Copy curl' }).click();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(clip, /\/v1\/db\/posts\/query/);
    await shoot(s, 'collection-api');

    // Delete: only after typing the name.
    await page.getByRole('tab', { name: 'Rules, schema, indexes' }).click();
    const del = page.getByRole('button', { name: 'Delete collection' });
    assert.equal(await del.isDisabled(), true);
    await page.getByLabel('Collection name to delete').fill('post');
    assert.equal(await del.isDisabled(), true);
    await page.getByLabel('Collection name to delete').fill('posts');
    await del.click();
    await page.waitForURL(/\/_\/collections$/);
    assert.equal((await server.api('GET', '/v1/db/collections/posts')).status, 404);
    await shoot(s, 'collections');
  });
});

test('a refused create shows the API error with its request id', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await server.api('POST', '/v1/db/collections', { name: 'posts' });
    await page.goto('/_/collections');
    s.expect({ status: 409, path: /^\/v1\/db\/collections$/, method: 'POST' });
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.getByLabel('Name').fill('posts');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /already_exists/);
    assert.match(await alert.innerText(), /request id \w+/);
  });
});
