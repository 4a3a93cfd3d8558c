import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

test('rules playground: a stored rule as three callers side by side, saved cases re-run after the rule changes, compile errors at their line', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const owner = (await server.api<{ id: string }>('POST', '/v1/admin/users', { email: 'owner@example.com', password: 'password123' })).body;
    await server.api('POST', '/v1/db/collections', { name: 'posts', rules: { read: 'auth != () && doc.data.owner == auth.uid' } });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rules' }).click();
    await page.getByLabel('Collection', { exact: true }).selectOption('posts');
    await page.getByLabel('Operation', { exact: true }).selectOption('read');
    await page.getByText('auth != () && doc.data.owner == auth.uid').waitFor();
    await page.getByLabel(/^doc \(JSON/).fill(
      JSON.stringify({ id: 'd1', version: 1, created_at: 0, updated_at: 0, data: { owner: owner.id } }),
    );
    await page.getByRole('button', { name: 'Add caller' }).click();
    await page.getByLabel('Caller 2', { exact: true }).selectOption('user');
    await page.getByLabel('User email').fill('owner@example.com');
    await page.getByRole('button', { name: 'Add caller' }).click();
    await page.getByLabel('Caller 3', { exact: true }).selectOption('claims');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const result = (i: number) => page.getByRole('status', { name: `Result for caller ${i}` });
    await result(3).waitFor();
    assert.match(await result(1).innerText(), /denied/);
    assert.match(await result(2).innerText(), /allowed/);
    assert.match(await result(3).innerText(), /denied/);
    // The same answers as the API gives for those callers.
    const api = await server.api<{ allowed: boolean }>('POST', '/v1/admin/rules/evaluate', {
      collection: 'posts',
      operation: 'read',
      auth: { uid: owner.id, role: 'authenticated', email: 'owner@example.com', email_verified: false, anonymous: false, aal: 1, claims: {} },
      doc: { id: 'd1', version: 1, created_at: 0, updated_at: 0, data: { owner: owner.id } },
    });
    assert.equal(api.body.allowed, true);
    await shoot(s, 'rules');

    // Save the case; it survives a reload; after the stored rule changes, re-running shows the new answers.
    await page.getByLabel('Case name').fill('owner reads');
    await page.getByRole('button', { name: 'Save case' }).click();
    await page.reload();
    await page.getByRole('button', { name: 'Load owner reads' }).waitFor();
    await server.api('PATCH', '/v1/db/collections/posts', { rules: { read: 'true' } });
    await page.getByRole('button', { name: 'Re-run all cases' }).click();
    const item = page.getByRole('listitem').filter({ hasText: 'owner reads' });
    await item.getByText(/allowed \/ allowed \/ allowed/).waitFor();

    // A rule of my own that does not compile: the error at its line and column.
    s.expect({ status: 400, path: /^\/v1\/admin\/rules\/evaluate$/ });
    await page.getByLabel('A rule I write').check();
    // The code editor replaces its plain fallback once loaded: type into the editor itself.
    await page.locator('.cm-content[aria-label="Rule"]').waitFor();
    const box = page.getByRole('textbox', { name: 'Rule', exact: true });
    await box.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('auth != () &&\n  auth.uid =');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByText(/^Line 2, column \d+: rule does not compile/).waitFor();
  });
});

test('rules playground: the value of each condition of a rule, as the API explains it', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const rule = 'auth != () && (doc.data.visible == true || doc.data.owner == auth.uid)';
    const made = await server.api('POST', '/v1/db/collections', { name: 'notes', rules: { read: rule } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const doc = { id: 'n1', version: 1, created_at: 0, updated_at: 0, data: { visible: false, owner: 'u1' } };
    await page.goto('/_/rules');
    await page.getByLabel('Collection', { exact: true }).selectOption('notes');
    await page.getByText(rule).waitFor();
    await page.getByLabel(/^doc \(JSON/).fill(JSON.stringify(doc));
    await page.getByLabel('Caller 1', { exact: true }).selectOption('claims');
    const auth = { uid: 'u1', role: 'authenticated', email: null, email_verified: false, anonymous: false, aal: 1, claims: {} };
    await page.getByLabel('auth (JSON)').fill(JSON.stringify(auth));
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const table = page.getByRole('table', { name: 'Conditions for caller 1' });
    await table.waitFor();
    const rows = await table.locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.replace(/\s+/g, ' ').trim())),
    );
    // The same conditions, positions and values the API answers for this request.
    type Explained = { expr: string; line: number; column: number; value: boolean | null };
    const api = await server.api<{ allowed: boolean; explain: Explained[] }>('POST', '/v1/admin/rules/evaluate', {
      collection: 'notes',
      operation: 'read',
      auth,
      doc,
      data: null,
      explain: true,
    });
    assert.equal(api.body.allowed, true);
    assert.ok(api.body.explain.length >= 3, 'the API explains each operand');
    assert.deepEqual(
      rows,
      api.body.explain.map((x) => [`${x.expr} line ${x.line}:${x.column}`, x.value === null ? 'not evaluated' : String(x.value)]),
    );
    assert.ok(rows.some(([e, v]) => e.startsWith('doc.data.visible == true') && v === 'false'), 'the failing branch shows false');
    await page.getByRole('status', { name: 'Result for caller 1' }).getByText('allowed').waitFor();
    await shoot(s, 'rules-explain');
  });
});
