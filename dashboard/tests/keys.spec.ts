import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

test('create a service key (shown once, copied, works), then revoke it', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys' }).click();
    await page.getByLabel('Key name').fill('billing worker');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByLabel('Service key', { exact: true });
    await shown.waitFor();
    const key = (await shown.innerText()).trim();
    assert.match(key, /^bsk_\w{26}_[0-9a-f]{64}$/);
    await page.getByRole('button', { name: 'Copy key' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    // The key works against the API.
    const withKey = await fetch(`${server.url}/v1/db/collections`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(withKey.status, 200);
    await shoot(s, 'keys');
    // Shown once: gone after Done and after a reload.
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.getByRole('cell', { name: 'billing worker', exact: true }).waitFor();
    assert.equal(await page.getByText(key).count(), 0);

    await page.getByRole('button', { name: 'Revoke billing worker' }).click();
    await page.getByRole('button', { name: 'Confirm revoke billing worker' }).click();
    await page.getByRole('cell', { name: 'billing worker', exact: true }).waitFor({ state: 'detached' });
    const list = await server.api<{ keys: unknown[] }>('GET', '/v1/admin/keys');
    assert.deepEqual(list.body.keys, []);
    const revoked = await fetch(`${server.url}/v1/db/collections`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(revoked.status, 401);
  });
});
