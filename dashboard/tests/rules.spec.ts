import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot, setEditor } from './harness.ts';

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

    // Saved on the server as one case per caller, each expecting what it got just now; after
    // the stored rule changes, re-running marks the cases whose outcome changed.
    await page.getByLabel('Case name').fill('owner reads');
    await page.getByRole('button', { name: 'Save case' }).click();
    await page.getByRole('status').filter({ hasText: /^Saved "owner reads · anonymous"/ }).waitFor();
    await page.reload();
    const table = page.getByRole('table', { name: 'Saved cases' });
    await table.getByRole('row').filter({ hasText: 'owner reads · owner@example.com' }).waitFor();
    type Saved = { name: string; caller: string; expect_allowed: boolean; auth: { uid?: string } | null };
    const saved = (await server.api<{ cases: Saved[] }>('GET', '/v1/admin/rules/cases?collection=posts')).body.cases;
    assert.deepEqual(
      saved.map((c) => [c.name, c.caller, c.expect_allowed]),
      [
        ['owner reads · anonymous', 'anonymous', false],
        ['owner reads · custom auth, uid u1', 'custom auth, uid u1', false],
        ['owner reads · owner@example.com', 'owner@example.com', true],
      ],
    );
    assert.equal(saved[2].auth?.uid, owner.id, "the user's auth as the rule saw it");
    await server.api('PATCH', '/v1/db/collections/posts', { rules: { read: 'true' } });
    await page.getByRole('button', { name: 'Re-run all cases' }).click();
    await page.getByRole('status', { name: 'Case run' }).filter({ hasText: '2 of 3 saved cases changed outcome: owner reads · anonymous, owner reads · custom auth, uid u1.' }).waitFor();
    assert.match(await table.getByRole('row').filter({ hasText: 'owner reads · anonymous' }).innerText(), /denied\s+changed: now allowed/);
    assert.match(await table.getByRole('row').filter({ hasText: 'owner reads · owner@example.com' }).innerText(), /allowed\s+allowed, as expected/);

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

test('saved cases on the server: saved as two callers, the changed case named when the collection editor reviews a rule change, outcomes after saving, re-run in the playground', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const owner = (await server.api<{ id: string }>('POST', '/v1/admin/users', { email: 'owner@example.com', password: 'password123' })).body;
    const rule = 'auth != () && doc.data.owner == auth.uid';
    await server.api('POST', '/v1/db/collections', { name: 'notes', rules: { read: rule, create: 'auth != ()' } });
    await page.goto('/_/rules');
    await page.getByLabel('Collection', { exact: true }).selectOption('notes');
    await page.getByText(rule).waitFor();
    await page.getByText('No saved cases for notes yet.').waitFor();
    await page.getByLabel(/^doc \(JSON/).fill(JSON.stringify({ id: 'n1', version: 1, created_at: 0, updated_at: 0, data: { owner: owner.id } }));
    await page.getByRole('button', { name: 'Add caller' }).click();
    await page.getByLabel('Caller 2', { exact: true }).selectOption('user');
    await page.getByLabel('User email').fill('owner@example.com');
    await page.getByLabel('Case name').fill('private note');
    await page.getByText('Saved as 2 cases, one per caller.').waitFor();
    await page.getByRole('button', { name: 'Save case' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved "private note · anonymous" (expects denied), "private note · owner@example.com" (expects allowed).' }).waitFor();
    // The outcome just seen is what each case expects.
    assert.match(await page.getByRole('status', { name: 'Result for caller 1' }).innerText(), /denied/);
    assert.match(await page.getByRole('status', { name: 'Result for caller 2' }).innerText(), /allowed/);
    type Saved = { collection: string; name: string; operation: string; caller: string; auth: { uid: string } | null; doc: { data: { owner: string } }; expect_allowed: boolean };
    const saved = (await server.api<{ cases: Saved[] }>('GET', '/v1/admin/rules/cases?collection=notes')).body.cases;
    assert.deepEqual(
      saved.map((c) => [c.collection, c.name, c.operation, c.caller, c.auth?.uid ?? null, c.doc.data.owner, c.expect_allowed]),
      [
        ['notes', 'private note · anonymous', 'read', 'anonymous', null, owner.id, false],
        ['notes', 'private note · owner@example.com', 'read', 'owner@example.com', owner.id, owner.id, true],
      ],
    );
    const table = page.getByRole('table', { name: 'Saved cases' });
    assert.equal(await table.locator('tbody tr').count(), 2);

    // The collection editor: opening reads to everyone would change the anonymous case.
    await page.goto('/_/collections/notes');
    await setEditor(page, 'read rule', 'true');
    await page.getByRole('button', { name: 'Review changes' }).click();
    const review = page.getByRole('region', { name: 'Review changes' });
    const draft = review.getByRole('group', { name: 'Saved cases against these rules' });
    await draft.getByText('1 of 2 saved cases changes outcome: private note · anonymous.').waitFor();
    assert.match(await draft.getByRole('listitem').innerText(), /^private note · anonymous \(read, anonymous\): expects denied, would be allowed$/);
    // Nothing stored changed yet: against the stored rules every case is as expected.
    assert.equal((await server.api<{ changed: number }>('POST', '/v1/admin/rules/cases/notes/run', {})).body.changed, 0);
    await shoot(s, 'collection-review-cases');
    await review.getByRole('button', { name: 'Save changes' }).click();
    const after = page.getByRole('group', { name: 'Saved cases against the saved rules' });
    await after.getByText('1 of 2 saved cases changes outcome: private note · anonymous.').waitFor();
    assert.match(await after.getByRole('listitem').innerText(), /expects denied, now allowed$/);
    const stored = await server.api<{ rules: Record<string, string> }>('GET', '/v1/db/collections/notes');
    assert.deepEqual(stored.body.rules, { read: 'true', create: 'auth != ()' });

    // Back in the playground (the review links to it): re-run marks the changed case in words.
    await after.getByRole('link', { name: 'Open the cases in the rules playground' }).click();
    await page.waitForURL(/\/_\/rules\?collection=notes$/);
    await page.getByRole('button', { name: 'Re-run all cases' }).click();
    await page.getByRole('status', { name: 'Case run' }).filter({ hasText: '1 of 2 saved cases changed outcome: private note · anonymous.' }).waitFor();
    assert.match(await table.getByRole('row').filter({ hasText: 'private note · anonymous' }).innerText(), /denied\s+changed: now allowed/);
    assert.match(await table.getByRole('row').filter({ hasText: 'private note · owner@example.com' }).innerText(), /allowed, as expected/);
    const run = (await server.api<{ changed: number; results: { name: string; changed: boolean }[] }>('POST', '/v1/admin/rules/cases/notes/run', {})).body;
    assert.deepEqual(run.results.map((r) => [r.name, r.changed]), [['private note · anonymous', true], ['private note · owner@example.com', false]]);
    await shoot(s, 'rules-cases');

    // Load puts a case back on screen; Delete removes it from the server.
    await page.getByRole('button', { name: 'Load case private note · owner@example.com' }).click();
    assert.equal(await page.getByLabel('Caller 1', { exact: true }).inputValue(), 'user');
    assert.equal(await page.getByLabel('User email').inputValue(), 'owner@example.com');
    assert.equal(await page.getByLabel('Caller 2', { exact: true }).count(), 0);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('status', { name: 'Result for caller 1' }).getByText('allowed').waitFor();
    await page.getByRole('button', { name: 'Delete case private note · anonymous' }).click();
    await table.getByRole('row').filter({ hasText: 'private note · anonymous' }).waitFor({ state: 'detached' });
    const left = (await server.api<{ cases: Saved[] }>('GET', '/v1/admin/rules/cases?collection=notes')).body.cases;
    assert.deepEqual(left.map((c) => c.name), ['private note · owner@example.com']);
    assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('basalt.playground'))).then((k) => k.length), 0, 'nothing kept in the browser');
  });
});
