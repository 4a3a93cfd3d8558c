import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

// Logs, settings and functions show what the server has, and say plainly what it has not.

test('logs: filter by status, each entry with its request id, follow live', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const miss = await server.api('GET', '/v1/db/collections/nope');
    const rid = miss.headers.get('x-request-id')!;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Logs' }).click();
    const logs = await server.api<{ entries: { request_id: string }[] }>('GET', '/v1/admin/logs?limit=5');
    if (logs.status === 404) {
      await page.getByText(/Not available: this server has no request log/).waitFor();
      return;
    }
    const table = page.getByRole('table', { name: 'Request log' });
    await table.getByText(rid).waitFor();
    await page.getByLabel('Status').fill('404');
    const filtered = page.waitForResponse((r) => r.url().includes('/v1/admin/logs?') && r.url().includes('status=404'));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await filtered;
    await table.getByText(rid).waitFor();
    const statuses = await table.locator('tbody tr td:nth-child(4)').allInnerTexts();
    assert.ok(statuses.length >= 1 && statuses.every((t) => t === '404'), `only 404s: ${statuses}`);

    await page.getByLabel('Follow live').check();
    const next = await server.api('GET', '/v1/db/collections/another');
    await table.getByText(next.headers.get('x-request-id')!).waitFor({ timeout: 10_000 });
    await shoot(s, 'logs');
    await page.getByLabel('Follow live').uncheck();

    // The audit log: a change made through the dashboard is listed with what changed.
    const audit = await server.api('GET', '/v1/admin/audit?limit=1');
    if (audit.status === 404) return;
    await page.goto('/_/collections');
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.getByLabel('Name').fill('audited');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/\/_\/collections\/audited$/);
    type AuditEntry = { action: string; target: string };
    let latest: AuditEntry | undefined;
    for (let i = 0; i < 50 && latest?.target !== 'audited'; i++) {
      latest = (await server.api<{ entries: AuditEntry[] }>('GET', '/v1/admin/audit?limit=1')).body.entries[0];
      if (latest?.target !== 'audited') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(latest?.target, 'audited');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Logs' }).click();
    await page.getByRole('tab', { name: 'Audit' }).click();
    const item = page.getByRole('list', { name: 'Audit log' }).getByRole('listitem').first();
    await item.getByText(latest!.action).waitFor();
    assert.match(await item.innerText(), /audited/);
    await item.locator('summary').click();
    await item.getByRole('figure', { name: 'Change' }).waitFor();
    await shoot(s, 'audit');
  });
});

test('settings: outbox, admins (add, change role, remove), configuration; functions placeholder', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const nav = page.getByRole('navigation', { name: 'Main' });

    await server.api('POST', '/v1/admin/users', { email: 'mail@example.com', password: 'password123' });
    await fetch(`${server.url}/v1/auth/password/forgot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'mail@example.com' }),
    });
    // The mail is written after the 202 answer: wait for it.
    let outbox: { subject: string; to: string }[] = [];
    for (let i = 0; i < 50 && outbox.length === 0; i++) {
      outbox = (await server.api<{ items: { subject: string; to: string }[] }>('GET', '/v1/admin/outbox')).body.items;
      if (!outbox.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(outbox.length, 1);
    await nav.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('region', { name: 'Mail' }).getByText(`${outbox[0].subject} to mail@example.com`).waitFor();

    type Admin = { id: string; email: string; role: string };
    const admins = await server.api<{ admins: Admin[] }>('GET', '/v1/admin/admins');
    if (admins.status === 404) await page.getByText(/no admin list over HTTP yet/).waitFor();
    else {
      await page.getByRole('combobox', { name: 'Role of admin@example.com' }).waitFor();
      const form = page.getByRole('form', { name: 'New admin' });
      await form.getByLabel('Admin email').fill('dev@example.com');
      await form.getByLabel('Admin password').fill('another long password');
      await form.getByLabel('Role').selectOption('developer');
      await form.getByRole('button', { name: 'Add admin' }).click();
      const role = page.getByRole('combobox', { name: 'Role of dev@example.com' });
      await role.waitFor();
      const find = async () =>
        (await server.api<{ admins: Admin[] }>('GET', '/v1/admin/admins')).body.admins.find((a) => a.email === 'dev@example.com');
      assert.equal((await find())?.role, 'developer');
      await role.selectOption('viewer');
      for (let i = 0; i < 50 && (await find())?.role !== 'viewer'; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await find())?.role, 'viewer');
      await page.getByRole('button', { name: 'Remove dev@example.com' }).click();
      await role.waitFor({ state: 'detached' });
      assert.equal(await find(), undefined);
    }
    const config = await server.api('GET', '/v1/admin/settings');
    if (config.status === 404) await page.getByText(/does not show its effective configuration/).waitFor();
    await shoot(s, 'settings');

    await nav.getByRole('link', { name: 'Functions' }).click();
    const fns = await server.api('GET', '/v1/admin/functions');
    if (fns.status === 404) await page.getByText(/Functions are not available on this server yet/).waitFor();
    else await page.getByRole('table').waitFor();
    await shoot(s, 'functions');
  });
});
