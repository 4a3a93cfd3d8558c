import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withApp, shoot } from './harness.ts';

// Logs, settings and functions show what the server has, and say plainly what it has not.

test('logs: filter by status, each entry with its request id, follow live', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const miss = await server.api('GET', '/v1/db/collections/nope');
    const rid = miss.headers.get('x-request-id')!;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Logs' }).click();
    const logs = await server.api<{ entries: { request_id: string }[] }>('GET', '/v1/admin/logs?limit=5');
    assert.equal(logs.status, 200, 'the server has the request log');
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
    assert.equal(audit.status, 200, 'the server has the audit log');
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
    assert.equal(admins.status, 200, 'the server lists admins');
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
    assert.equal((await find())?.role, 'viewer', 'not before confirming');
    await page.getByRole('alertdialog', { name: 'Remove dev@example.com?' }).getByRole('button', { name: 'Confirm remove dev@example.com' }).click();
    await role.waitFor({ state: 'detached' });
    assert.equal(await find(), undefined);
    const config = await server.api('GET', '/v1/admin/settings');
    assert.equal(config.status, 200, 'the server shows its effective configuration');
    await shoot(s, 'settings');

    await nav.getByRole('link', { name: 'Functions' }).click();
    const fns = await server.api('GET', '/v1/admin/functions');
    assert.equal(fns.status, 200, 'the server has functions');
    await page.getByText('No functions.').waitFor();
    await shoot(s, 'functions');
  });
});

// A config file with two sign-in providers (the secrets must never reach the page).
const configDir = mkdtempSync(join(tmpdir(), 'basalt-dash-config-'));
const configFile = join(configDir, 'basalt.toml');
after(() => rmSync(configDir, { recursive: true, force: true }));
writeFileSync(
  configFile,
  [
    'mail_from = "Basalt Tests <tests@example.com>"',
    '[oauth.github]',
    'client_id = "gh-client-id"',
    'client_secret = "gh-very-secret-value"',
    '[oauth.acme]',
    'issuer = "https://id.acme.example"',
    'client_id = "acme-client"',
    'client_secret = "acme-very-secret-value"',
    '',
  ].join('\n'),
);

test('settings: the effective configuration (secrets as set / not set), a test mail into the outbox, OAuth providers', async () => {
  await withApp(
    async (s, server) => {
      const { page } = s;
      type Settings = {
        settings: { key: string; value: unknown; secret: boolean; set: boolean }[];
        mail: { transport: string; from: string };
        oauth_providers: { name: string; kind: string; client_id: string }[];
      };
      const api = (await server.api<Settings>('GET', '/v1/admin/settings')).body;
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
      const table = page.getByRole('table', { name: 'Effective configuration' });
      await table.waitFor();
      // Every setting the API lists, with the value it gives.
      const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())));
      assert.equal(rows.length, api.settings.length);
      const shown = Object.fromEntries(rows.map(([k, v]) => [k, v]));
      assert.equal(shown.document_max_bytes, '1500000', 'a flag given to the server');
      assert.equal(shown.mail_from, 'Basalt Tests <tests@example.com>', 'a value from the config file');
      assert.equal(shown.smtp_url, 'not set', 'a secret that is not set');
      for (const c of api.settings.filter((c) => c.secret)) assert.equal(shown[c.key], c.set ? 'set' : 'not set');
      const text = await page.locator('main').innerText();
      assert.doesNotMatch(text, /very-secret-value/, 'no secret on the page');

      // OAuth providers, as the API lists them.
      const providers = page.getByRole('table', { name: 'OAuth provider list' });
      const names = await providers.locator('tbody tr td:first-child').allInnerTexts();
      assert.deepEqual(names.sort(), api.oauth_providers.map((p) => p.name).sort());
      assert.deepEqual(names.sort(), ['acme', 'github']);
      await providers.getByRole('row').filter({ hasText: 'acme-client' }).filter({ hasText: 'https://id.acme.example' }).waitFor();

      // A test mail: with no SMTP server it lands in the outbox, listed on the page.
      const mail = page.getByRole('region', { name: 'Mail' });
      await mail.getByText(/kept in the outbox/).waitFor();
      await mail.getByLabel('Send a test mail to').fill('ops@example.com');
      await mail.getByRole('button', { name: 'Send test mail' }).click();
      await page.getByRole('status').filter({ hasText: 'Test mail to ops@example.com is in the outbox below.' }).waitFor();
      const items = (await server.api<{ items: { to: string; subject: string }[] }>('GET', '/v1/admin/outbox')).body.items;
      assert.equal(items[0]?.to, 'ops@example.com');
      await mail.getByText(`${items[0].subject} to ops@example.com`).waitFor();
      await shoot(s, 'settings-configuration');
    },
    { serverArgs: ['--config', configFile, '--document-max-bytes', '1500000'] },
  );
});
