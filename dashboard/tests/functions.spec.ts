import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { withApp, setEditor, shoot, openBrowser, signIn } from './harness.ts';

type Fn = {
  name: string;
  kind: string;
  source: string;
  invoke?: string | null;
  collection?: string;
  event?: string;
  cron?: string;
  timezone?: string;
  version: number;
};
type Ex = { id: string; status: string; trigger: string; attempts: number; version: number; logs: string[]; error: string | null; delivery?: string };

/** The text of the elements that describe `input` (its help and error), as a screen reader reads them. */
async function description(page: Page, label: string): Promise<string> {
  return page.getByLabel(label).evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent?.replace(/\s+/g, ' ').trim() ?? '')
      .join(' | '),
  );
}

/** Polls `probe` until it answers something other than undefined (at most 15 s). */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

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
    assert.deepEqual([saved.kind, saved.source, saved.invoke ?? null, saved.version], ['http', 'log("adding " + args.a);\nargs.a + args.b', null, 1]);

    // Run it: the answer, then the execution with its log line.
    await page.getByLabel('Arguments (JSON)').fill('{"a": 40, "b": 2}');
    await page.getByRole('button', { name: 'Run function' }).click();
    const answer = page.getByRole('status', { name: 'Function answer' });
    await answer.getByText('HTTP 200').waitFor();
    assert.match(await answer.innerText(), /\n42\s*$/);
    const executions = page.getByRole('table', { name: 'Execution list' });
    await executions.getByText('adding 40').waitFor();
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

test('trigger functions: a before_create trigger made here refuses a write, a second one on its event is refused (409), a dead after-trigger run is retried', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await server.api('POST', '/v1/db/collections', { name: 'posts' });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Functions' }).click();
    await page.getByRole('button', { name: 'New function' }).click();
    await page.getByLabel('Function name').fill('guard');
    await page.getByLabel('Kind').selectOption('trigger');
    // The collection picker offers the project's collections, auth and storage (and takes any name typed in).
    assert.deepEqual(await page.locator('datalist#function-collections option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['posts', 'auth', 'storage']);
    await page.getByLabel('Collection').fill('posts');
    await page.getByLabel('Event').selectOption('before_create');
    assert.deepEqual(
      await page.getByLabel('Event').locator('option').allInnerTexts(),
      ['before_create', 'before_update', 'before_delete', 'after_create', 'after_update', 'after_delete'],
    );
    assert.match(
      await page.getByRole('region', { name: 'Function source' }).innerText(),
      /Before-triggers run inside the write and may change data or throw to refuse it; after-triggers run after the commit, from the outbox, and are retried/,
    );
    assert.equal(await page.getByRole('textbox', { name: 'Invoke rule', exact: true }).count(), 0, 'no invoke rule for a trigger');

    // A compile error is shown at its line, and nothing is saved.
    s.expect({ status: 400, path: /^\/v1\/admin\/functions\/guard$/, method: 'PUT' });
    await setEditor(page, 'Function source', '// refuse "no"\nif data.title == "no" { throw reason }');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.getByText(/^Line 2, column \d+: function does not compile: Undefined variable: reason/).waitFor();
    assert.equal((await server.api('GET', '/v1/admin/functions/guard')).status, 404, 'nothing saved');

    await setEditor(page, 'Function source', 'if data.title == "no" { throw "title must not be no" }');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.waitForURL(/\/_\/functions\/guard$/);
    const saved = (await server.api<Fn>('GET', '/v1/admin/functions/guard')).body;
    assert.deepEqual([saved.kind, saved.collection, saved.event, saved.version], ['trigger', 'posts', 'before_create', 1]);
    await page.getByText('trigger on posts · before_create · version 1', { exact: false }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Run function' }).count(), 0, 'clients do not call a trigger');

    // The trigger refuses a write through the API with its message; another write passes.
    const refused = await server.api<{ error: { code: string; message: string } }>('POST', '/v1/db/posts', { id: 'n1', data: { title: 'no' } });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body.error, { ...refused.body.error, code: 'invalid_argument', message: 'title must not be no' });
    assert.equal((await server.api('GET', '/v1/db/posts/n1')).status, 404, 'the refused write left nothing');
    assert.equal((await server.api('POST', '/v1/db/posts', { id: 'y1', data: { title: 'yes' } })).status, 201);

    // Both runs are listed: the refusal as an error, with its trigger and attempts.
    await page.getByRole('button', { name: 'Refresh executions' }).click();
    const executions = page.getByRole('table', { name: 'Execution list' });
    const failed = executions.locator('tbody tr').filter({ hasText: 'title must not be no' });
    await failed.waitFor();
    const cells = await failed.locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(1, 5), ['error', 'before_create', '1', '1']);
    assert.equal(await executions.locator('tbody tr').count(), 2);
    await page.getByLabel('Status filter').selectOption('ok');
    await executions.locator('tbody tr').filter({ hasText: 'title must not be no' }).waitFor({ state: 'detached' });
    assert.equal(await executions.locator('tbody tr').count(), 1);
    await page.getByLabel('Status filter').selectOption('dead');
    await page.getByText('No executions with status dead.').waitFor();
    await page.getByLabel('Status filter').selectOption('');
    await failed.waitFor();
    await shoot(s, 'function-trigger');

    // A second before_create trigger of posts: the server's 409 is shown at the event, naming the owner.
    await page.getByRole('link', { name: 'Functions' }).first().click();
    await page.getByRole('button', { name: 'New function' }).click();
    await page.getByLabel('Function name').fill('guard2');
    await page.getByLabel('Kind').selectOption('trigger');
    await page.getByLabel('Collection').fill('posts');
    s.expect({ status: 409, path: /^\/v1\/admin\/functions\/guard2$/, method: 'PUT' });
    await page.getByRole('button', { name: 'Create function' }).click();
    assert.match(await page.getByRole('alert').innerText(), /already_exists: `guard` is the before_create trigger of `posts`/);
    const taken = page.locator('#event-conflict');
    await taken.getByText('before_create of posts is taken.').waitFor();
    assert.equal(await taken.getByRole('link', { name: 'guard' }).getAttribute('href'), '/_/functions/guard');
    assert.equal((await server.api('GET', '/v1/admin/functions/guard2')).status, 404);

    // An after_create trigger that fails on "boom".
    await page.getByLabel('Function name').fill('notify');
    await page.getByLabel('Event').selectOption('after_create');
    assert.equal(await taken.count(), 0, 'another event clears the conflict');
    await setEditor(page, 'Function source', 'log("saw " + event.document.data.title);\nif event.document.data.title == "boom" { throw "cannot notify" }');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.waitForURL(/\/_\/functions\/notify$/);

    // The list shows each function's kind and what it runs on.
    await page.getByRole('link', { name: 'Functions' }).first().click();
    const list = page.getByRole('table', { name: 'Function list' });
    await list.getByRole('link', { name: 'notify' }).waitFor();
    const rows = await list.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent?.trim())));
    assert.deepEqual(rows, [
      ['guard', 'trigger', 'posts · before_create'],
      ['notify', 'trigger', 'posts · after_create'],
    ]);
    await shoot(s, 'functions-triggers');

    // Its run fails; this server retries once after 0.2 s (--outbox-retry-delays), then the run is dead.
    assert.equal((await server.api('POST', '/v1/db/posts', { id: 'b1', data: { title: 'boom' } })).status, 201);
    const first = await until('a failed after-trigger run', async () => {
      const xs = (await server.api<{ executions: Ex[] }>('GET', '/v1/admin/functions/notify/executions')).body.executions;
      return xs.find((x) => x.status === 'retrying');
    });
    assert.deepEqual([first.trigger, first.attempts, first.error, first.logs], ['after_create', 1, 'thrown: cannot notify', ['saw boom']]);
    await until('the run given up on', async () => {
      const xs = (await server.api<{ executions: Ex[] }>('GET', '/v1/admin/functions/notify/executions')).body.executions;
      return xs.find((x) => x.status === 'dead' && x.delivery === first.delivery);
    });

    await page.getByRole('link', { name: 'notify' }).click();
    const dead = executions.locator('tbody tr').filter({ hasText: 'cannot notify' }).filter({ has: page.locator('td', { hasText: /^dead$/ }) });
    await dead.waitFor();
    assert.equal(await dead.locator('td').nth(1).innerText(), 'dead');
    await page.getByText(/A failed run is retried/).waitFor();

    // A viewer sees the dead run but no Retry.
    const VIEWER = { email: 'viewer@example.com', password: 'viewer password 1' };
    assert.equal((await server.api('POST', '/v1/admin/admins', { ...VIEWER, role: 'viewer' })).status, 201);
    const v = await openBrowser(server);
    try {
      await signIn(v, VIEWER);
      await v.page.goto('/_/functions/notify');
      await v.page.getByRole('table', { name: 'Execution list' }).locator('tbody tr').filter({ hasText: 'cannot notify' }).first().waitFor();
      assert.deepEqual(await v.page.getByRole('button', { name: /Retry|Save|Delete/ }).allInnerTexts(), [], 'no write buttons for a viewer');
      assert.equal(await v.page.getByLabel('Kind').isDisabled(), true);
      await v.assertClean();
    } finally {
      await v.close();
    }

    // Fixed, saved, retried: the event runs again on the new version.
    await setEditor(page, 'Function source', 'log("saw " + event.document.data.title);');
    await page.getByRole('button', { name: 'Save function' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
    await dead.getByRole('button', { name: /^Retry/ }).click();
    await page.getByRole('status').filter({ hasText: 'Retry queued' }).waitFor();
    const again = await until('the retried run', async () => {
      const xs = (await server.api<{ executions: Ex[] }>('GET', '/v1/admin/functions/notify/executions')).body.executions;
      return xs.find((x) => x.status === 'ok');
    });
    assert.deepEqual([again.version, again.logs, again.delivery], [2, ['saw boom'], first.delivery]);
    await page.getByRole('button', { name: 'Refresh executions' }).click();
    await executions.locator('tbody tr').filter({ hasText: 'saw boom' }).filter({ has: page.locator('td.ok') }).waitFor();
    // Only a dead run can be retried; this one is done.
    assert.equal(await dead.getByRole('button', { name: /^Retry/ }).count(), 0);
    assert.equal((await server.api('POST', `/v1/admin/executions/${again.id}/retry`)).status, 412);
  }, { serverArgs: ['--outbox-retry-delays', '0.2'] });
});

test('schedules: made here with a cron refused at its field, runs every second (executions with trigger schedule, documents written), its time zone changed, deleted; an auth and a storage trigger', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    assert.equal((await server.api('POST', '/v1/db/collections', { name: 'ticks' })).status, 201);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Functions' }).click();
    await page.getByRole('button', { name: 'New function' }).click();
    await page.getByLabel('Function name').fill('tick');
    assert.deepEqual(await page.getByLabel('Kind').locator('option').allInnerTexts(), ['http', 'trigger', 'schedule']);
    await page.getByLabel('Kind').selectOption('schedule');
    assert.equal(
      await description(page, 'Cron'),
      '5 fields: minute hour day month weekday, or 6 with seconds first; e.g. 0 3 * * * every night at 03:00',
    );
    assert.match(await description(page, 'Time zone'), /empty is UTC/);
    const zones = await page.locator('datalist#function-zones option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    for (const z of ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo']) assert.ok(zones.includes(z), `the time zones offer ${z}`);
    assert.equal(await page.getByRole('textbox', { name: 'Invoke rule', exact: true }).count(), 0, 'no invoke rule for a schedule');
    assert.equal(await page.getByLabel('Collection').count(), 0);

    // Four fields: the server's message at the field, and nothing saved.
    s.expect({ status: 400, path: /^\/v1\/admin\/functions\/tick$/, method: 'PUT' });
    await page.getByLabel('Cron').fill('* * * *');
    await setEditor(page, 'Function source', 'log("tick " + event.slot);\ndb.create("ticks", #{slot: event.slot})');
    await page.getByRole('button', { name: 'Create function' }).click();
    const refusal = '`cron` needs 5 fields (minute hour day month weekday), or 6 with seconds first; got 4';
    await page.locator('#cron-error').getByText(refusal).waitFor();
    assert.equal(await page.getByLabel('Cron').getAttribute('aria-invalid'), 'true');
    assert.match(await description(page, 'Cron'), new RegExp(`^${refusal.replace(/[()*]/g, '\\$&')} \\| 5 fields`));
    assert.match(await page.getByRole('alert').innerText(), /invalid_argument: `cron` needs 5 fields/);
    assert.equal((await server.api('GET', '/v1/admin/functions/tick')).status, 404, 'nothing saved');
    await shoot(s, 'function-schedule-refused');

    // Every second, in UTC (the time zone left empty).
    await page.getByLabel('Cron').fill('* * * * * *');
    assert.equal(await page.locator('#cron-error').count(), 0, 'typing clears the refusal');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.waitForURL(/\/_\/functions\/tick$/);
    const saved = (await server.api<Fn>('GET', '/v1/admin/functions/tick')).body;
    assert.deepEqual([saved.kind, saved.cron, saved.timezone, saved.collection, saved.version], ['schedule', '* * * * * *', undefined, undefined, 1]);
    await page.getByText('schedule on * * * * * * · UTC · version 1', { exact: false }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Run function' }).count(), 0, 'clients do not call a schedule');
    await page.getByText('A failed run is not retried').waitFor();

    // Its runs show up (refreshed until they do), each writing the document of its slot.
    const executions = page.getByRole('table', { name: 'Execution list' });
    const runs = executions.locator('tbody tr').filter({ has: page.locator('td', { hasText: /^schedule$/ }) });
    await until('a scheduled run in the list', async () => {
      await page.getByRole('button', { name: 'Refresh executions' }).click();
      await page.waitForTimeout(250);
      return (await runs.count()) >= 2 ? true : undefined;
    });
    const cells = await runs.first().locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(1, 5), ['ok', 'schedule', '1', '1']);
    assert.match(cells[6], /^tick \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const ran = (await server.api<{ executions: Ex[] }>('GET', '/v1/admin/functions/tick/executions')).body.executions;
    const ticks = (await server.api<{ documents: { data: { slot: string } }[] }>('GET', '/v1/db/ticks?limit=100')).body.documents;
    const slots = new Set(ticks.map((d) => d.data.slot));
    for (const x of ran.filter((x) => x.status === 'ok')) assert.ok(slots.has(x.logs[0].slice('tick '.length)), `the run of ${x.logs[0]} wrote its document`);
    await shoot(s, 'function-schedule');

    // The list shows when it runs.
    await page.getByRole('link', { name: 'Functions' }).first().click();
    const list = page.getByRole('table', { name: 'Function list' });
    const row = async () => list.locator('tbody tr').filter({ hasText: 'tick' }).locator('td').evaluateAll((tds) => tds.slice(0, 3).map((td) => td.textContent?.trim()));
    await list.getByRole('link', { name: 'tick' }).waitFor();
    assert.deepEqual(await row(), ['tick', 'schedule', '* * * * * * · UTC']);

    // A time zone the server does not know is refused at its field; a known one is saved.
    await list.getByRole('link', { name: 'tick' }).click();
    await page.getByLabel('Time zone').fill('Mars/Olympus');
    await page.getByRole('button', { name: 'Save function' }).click();
    await page.locator('#zone-error').getByText('`timezone` `Mars/Olympus` is not an IANA time zone (such as Europe/Paris)').waitFor();
    assert.equal(await page.locator('#cron-error').count(), 0);
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await page.getByRole('button', { name: 'Save function' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved version 2.' }).waitFor();
    assert.equal(await page.locator('#zone-error').count(), 0);
    assert.equal((await server.api<Fn>('GET', '/v1/admin/functions/tick')).body.timezone, 'Europe/Paris');
    await page.getByRole('link', { name: 'Functions' }).first().click();
    await list.getByRole('link', { name: 'tick' }).waitFor();
    assert.deepEqual(await row(), ['tick', 'schedule', '* * * * * * · Europe/Paris']);

    // Deleted: it stops.
    await list.getByRole('link', { name: 'tick' }).click();
    await page.getByRole('button', { name: 'Delete function' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.waitForURL(/\/_\/functions$/);
    assert.equal((await server.api('GET', '/v1/admin/functions/tick')).status, 404);
    await page.waitForTimeout(1500);
    const count = async () => (await server.api<{ documents: unknown[] }>('GET', '/v1/db/ticks?limit=1000')).body.documents.length;
    const after = await count();
    await page.waitForTimeout(2000);
    assert.equal(await count(), after, 'no runs after the delete');

    // A trigger of auth offers its events, one of storage its own; the help says so.
    await page.getByRole('button', { name: 'New function' }).click();
    await page.getByLabel('Function name').fill('on_upload');
    await page.getByLabel('Kind').selectOption('trigger');
    assert.deepEqual(await page.locator('datalist#function-collections option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['ticks', 'auth', 'storage']);
    const events = () => page.getByLabel('Event').locator('option').allInnerTexts();
    await page.getByLabel('Collection').fill('auth');
    assert.deepEqual(await events(), ['before_signup', 'signup', 'login']);
    assert.equal(await page.getByLabel('Event').inputValue(), 'before_signup');
    assert.match(await page.getByRole('textbox', { name: 'Function source', exact: true }).innerText(), /Runs inside the sign-up/);
    const help = await description(page, 'Event');
    assert.match(help, /Collection auth has before_signup \(inside the sign-up: change data\.data or data\.claims, or throw to refuse it\), signup and login; collection storage has upload and delete/);
    await page.getByLabel('Collection').fill('storage');
    assert.deepEqual(await events(), ['upload', 'delete']);
    assert.equal(await page.getByLabel('Event').inputValue(), 'upload');
    assert.match(await page.getByRole('textbox', { name: 'Function source', exact: true }).innerText(), /event\.object\.path/);
    await page.getByLabel('Collection').fill('ticks');
    assert.deepEqual(await events(), ['before_create', 'before_update', 'before_delete', 'after_create', 'after_update', 'after_delete']);
    await page.getByLabel('Collection').fill('storage');
    await page.getByLabel('Event').selectOption('upload');
    await setEditor(page, 'Function source', 'log("got " + event.object.path);');
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.waitForURL(/\/_\/functions\/on_upload$/);
    const up = (await server.api<Fn>('GET', '/v1/admin/functions/on_upload')).body;
    assert.deepEqual([up.kind, up.collection, up.event], ['trigger', 'storage', 'upload']);
    await page.getByText(/A failed run is retried \(about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h later\)/).waitFor();

    // An upload runs it, from the outbox.
    assert.equal((await server.api('POST', '/v1/storage/buckets', { name: 'docs' })).status, 201);
    const put = await fetch(`${server.url}/v1/storage/docs/a/report.txt`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'text/plain' },
      body: 'twelve bytes',
    });
    assert.equal(put.status, 201);
    await until('the upload trigger run', async () => {
      await page.getByRole('button', { name: 'Refresh executions' }).click();
      await page.waitForTimeout(200);
      return (await executions.locator('tbody tr').filter({ hasText: 'got a/report.txt' }).count()) ? true : undefined;
    });
    const upCells = await executions.locator('tbody tr').first().locator('td').allInnerTexts();
    assert.deepEqual(upCells.slice(1, 3), ['ok', 'upload']);

    await page.getByRole('link', { name: 'Functions' }).first().click();
    await list.getByRole('link', { name: 'on_upload' }).waitFor();
    const rows = await list.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent?.trim())));
    assert.deepEqual(rows, [['on_upload', 'trigger', 'storage · upload']]);
    await shoot(s, 'functions-list-storage');
  });
});
