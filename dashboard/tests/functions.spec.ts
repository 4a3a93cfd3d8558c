import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { withApp, shoot } from './harness.ts';

async function setEditor(page: Page, name: string, text: string) {
  await page.locator(`.cm-content[aria-label="${name}"]`).waitFor();
  await page.getByRole('textbox', { name, exact: true }).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

type Fn = { name: string; source: string; invoke: string | null; version: number };

test('functions: create with a compile error shown at its line, run with arguments, executions with logs, a new version, delete', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Functions' }).click();
    await page.getByText('No functions.').waitFor();
    await page.getByRole('button', { name: 'New function' }).click();
    await page.getByLabel('Function name').fill('add');
    s.expect({ status: 400, path: /^\/v1\/admin\/functions\/add$/, method: 'PUT' });
    await setEditor(page, 'Function source', 'log("adding");\nargs.a +');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.getByText(/^Line 2, column \d+: function does not compile/).waitFor();
    assert.equal((await server.api('GET', '/v1/admin/functions/add')).status, 404, 'nothing saved');

    await setEditor(page, 'Function source', 'log("adding " + args.a);\nargs.a + args.b');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.waitForURL(/\/_\/functions\/add$/);
    const saved = (await server.api<Fn>('GET', '/v1/admin/functions/add')).body;
    assert.deepEqual([saved.source, saved.invoke, saved.version], ['log("adding " + args.a);\nargs.a + args.b', null, 1]);

    // Run it: the answer, then the execution with its log line.
    await page.getByLabel('Arguments (JSON)').fill('{"a": 40, "b": 2}');
    await page.getByRole('button', { name: 'Run function' }).click();
    const answer = page.getByRole('status', { name: 'Function answer' });
    await answer.getByText('HTTP 200').waitFor();
    assert.match(await answer.innerText(), /\n42\s*$/);
    const executions = page.getByRole('table', { name: 'Execution list' });
    await executions.getByText('adding 40').waitFor();
    type Ex = { status: string; logs: string[] };
    const api = (await server.api<{ executions: Ex[] }>('GET', '/v1/admin/functions/add/executions')).body.executions;
    assert.deepEqual(api.map((x) => [x.status, x.logs]), [['ok', ['adding 40']]]);

    // A script that throws: the caller's answer (400) is shown, and the execution says error.
    s.expect({ status: 400, path: /^\/v1\/functions\/add$/, method: 'POST' });
    await setEditor(page, 'Function source', 'if args.b == 0 { throw "b must not be 0" }\nargs.a / args.b');
    await setEditor(page, 'Invoke rule', 'auth != ()');
    await page.getByRole('button', { name: 'Save function' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
    const v2 = (await server.api<Fn>('GET', '/v1/admin/functions/add')).body;
    assert.deepEqual([v2.version, v2.invoke], [2, 'auth != ()']);
    await page.getByLabel('Arguments (JSON)').fill('{"a": 1, "b": 0}');
    await page.getByRole('button', { name: 'Run function' }).click();
    await answer.getByText('HTTP 400').waitFor();
    assert.match(await answer.innerText(), /b must not be 0/);
    const failed = executions.locator('tbody tr').filter({ hasText: 'b must not be 0' });
    await failed.waitFor();
    assert.equal(await failed.locator('td').nth(1).innerText(), 'error');
    const last = (await server.api<{ executions: (Ex & { error: string })[] }>('GET', '/v1/admin/functions/add/executions')).body.executions[0];
    assert.equal(last.status, 'error');
    assert.match(last.error, /b must not be 0/);
    await shoot(s, 'function');

    await page.getByRole('link', { name: 'Functions' }).first().click();
    await page.getByRole('table', { name: 'Function list' }).getByRole('link', { name: 'add' }).waitFor();
    await shoot(s, 'functions-list');
    await page.getByRole('link', { name: 'add' }).click();
    await page.getByRole('button', { name: 'Delete function' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.waitForURL(/\/_\/functions$/);
    assert.equal((await server.api('GET', '/v1/admin/functions/add')).status, 404);
  });
});
