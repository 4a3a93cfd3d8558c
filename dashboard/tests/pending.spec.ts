import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

// Logs, settings and functions show what the server has, and say plainly what it has not.
test('logs, settings (outbox, admins, configuration) and functions: real data or an honest "not available"', async () => {
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
    await page.getByRole('region', { name: 'Mail outbox' }).getByText(`${outbox[0].subject} to mail@example.com`).waitFor();
    const admins = await server.api<{ admins: { email: string }[] }>('GET', '/v1/admin/admins');
    if (admins.status === 404) await page.getByText(/no admin list over HTTP yet/).waitFor();
    else await page.getByRole('combobox', { name: 'Role of admin@example.com' }).waitFor();
    const config = await server.api('GET', '/v1/admin/config');
    if (config.status === 404) await page.getByText(/does not show its effective configuration/).waitFor();
    await shoot(s, 'settings');

    await nav.getByRole('link', { name: 'Logs' }).click();
    const logs = await server.api<{ entries: { request_id: string }[] }>('GET', '/v1/admin/logs?limit=5');
    if (logs.status === 404) {
      await page.getByText(/Not available: this server has no request log/).waitFor();
    } else {
      assert.equal(logs.status, 200);
      await page.getByRole('table', { name: 'Request log' }).getByText(logs.body.entries[0].request_id).waitFor();
    }
    await shoot(s, 'logs');

    await nav.getByRole('link', { name: 'Functions' }).click();
    const fns = await server.api('GET', '/v1/admin/functions');
    if (fns.status === 404) await page.getByText(/Functions are not available on this server yet/).waitFor();
    else await page.getByRole('table').waitFor();
    await shoot(s, 'functions');
  });
});
