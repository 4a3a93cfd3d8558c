import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withApp, shoot, openBrowser, signIn } from './harness.ts';

type Webhook = { name: string; url: string; events: string[]; enabled: boolean; disabled_reason?: string; secret?: string };
type Delivery = { id: string; event_id: string; status: string; attempts: number; response_status?: number | null };
type Received = { headers: IncomingHttpHeaders; body: string };

/** A webhook receiver on loopback: answers each POST with the next status of `statuses`
 *  (the last one from then on) and keeps what it got. */
async function receiver(statuses: number[]) {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(statuses[Math.min(got.length - 1, statuses.length - 1)]).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/basalt`;
  return { url, got, close: () => new Promise((r) => server.close(r)) };
}

/** Polls `probe` until it answers something other than undefined (at most 15 s). */
async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Standard Webhooks: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` keyed with the secret's bytes. */
function signedBy(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`).digest('base64');
  return String(r.headers['webhook-signature']).split(' ').includes(`v1,${mac}`);
}

const VIEWER = { email: 'viewer@example.com', password: 'viewer password 1' };

test('webhooks: created here with its secret shown once, a 410 disables it and kills the delivery, enabled again and retried, deliveries paged, a viewer only reads, deleted', async () => {
  const hook = await receiver([410, 200]);
  try {
    await withApp(
      async (s, server) => {
        const { page } = s;
        await server.api('POST', '/v1/db/collections', { name: 'posts' });
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).click();
        await page.getByText('No webhooks.').waitFor();
        await page.getByRole('button', { name: 'New webhook' }).click();
        const form = page.getByRole('form', { name: 'New webhook' });
        await form.getByLabel('Webhook name').fill('orders');
        await form.getByLabel('URL').fill(hook.url);
        await form.getByLabel('Events').fill('posts.create,\nposts.update');
        assert.equal(await form.getByLabel('Enabled').isChecked(), true);
        await form.getByRole('button', { name: 'Create webhook' }).click();

        // The secret, shown this once, copied.
        const card = page.getByRole('dialog', { name: 'New webhook secret' });
        await card.waitFor();
        assert.match(await card.innerText(), /shown only this once/);
        const secret = (await card.getByLabel('Signing secret').innerText()).trim();
        assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
        await card.getByRole('button', { name: 'Copy secret' }).click();
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
        const saved = (await server.api<Webhook>('GET', '/v1/admin/webhooks/orders')).body;
        assert.deepEqual([saved.url, saved.events, saved.enabled, saved.secret], [hook.url, ['posts.create', 'posts.update'], true, undefined]);
        const list = page.getByRole('table', { name: 'Webhook list' });
        await list.getByRole('link', { name: 'orders' }).waitFor();
        await shoot(s, 'webhook-secret');
        await card.getByRole('button', { name: 'Done' }).click();
        await page.reload();
        await list.getByRole('link', { name: 'orders' }).waitFor();
        assert.equal(await page.getByText(secret).count(), 0, 'not shown again');

        // A change reaches the receiver, signed with that secret; it answers 410 Gone.
        assert.equal((await server.api('POST', '/v1/db/posts', { id: 'p1', data: { title: 'first' } })).status, 201);
        const first = await until('the first delivery', () => hook.got[0]);
        assert.ok(signedBy(secret, first), 'signed with the secret shown');
        assert.equal((JSON.parse(first.body) as { type: string }).type, 'posts.create');
        const dead = await until('the dead delivery', async () => {
          const ds = (await server.api<{ deliveries: Delivery[] }>('GET', '/v1/admin/webhooks/orders/deliveries')).body.deliveries;
          return ds.find((d) => d.status === 'dead');
        });

        // The list and the webhook's page say it is disabled, and why.
        await page.reload();
        await list.locator('tbody tr').filter({ hasText: 'disabled: the receiver answered 410 Gone' }).waitFor();
        await list.getByRole('link', { name: 'orders' }).click();
        await page.getByLabel('Webhook state').filter({ hasText: 'disabled: the receiver answered 410 Gone' }).waitFor();
        const deliveries = page.getByRole('table', { name: 'Delivery list' });
        const row = deliveries.locator('tbody tr').filter({ hasText: dead.event_id });
        await row.waitFor();
        const cells = await row.locator('td').allInnerTexts();
        assert.deepEqual(cells.slice(2, 6), ['dead', '1', '410', '410 Gone: the webhook is disabled']);
        assert.match(cells[1], /^posts\.create/);

        // A viewer reads it all, with no Retry, Save or Delete.
        assert.equal((await server.api('POST', '/v1/admin/admins', { ...VIEWER, role: 'viewer' })).status, 201);
        const v = await openBrowser(server);
        try {
          await signIn(v, VIEWER);
          await v.page.goto('/_/webhooks/orders');
          await v.page.getByRole('table', { name: 'Delivery list' }).locator('tbody tr').filter({ hasText: 'dead' }).waitFor();
          assert.deepEqual(await v.page.getByRole('button', { name: /Retry|Save|Delete|New/ }).allInnerTexts(), []);
          assert.equal(await v.page.getByLabel('URL').getAttribute('readonly'), '');
          assert.equal(await v.page.getByLabel('Enabled').isDisabled(), true);
          await v.page.goto('/_/webhooks');
          await v.page.getByRole('table', { name: 'Webhook list' }).getByRole('link', { name: 'orders' }).waitFor();
          assert.equal(await v.page.getByRole('button', { name: 'New webhook' }).count(), 0);
          await v.assertClean();
        } finally {
          await v.close();
        }

        // Enabled again, then the dead delivery is retried: the same event, answered 200 now.
        const editing = page.getByRole('form', { name: 'Webhook' });
        await editing.getByLabel('Enabled').check();
        await editing.getByRole('button', { name: 'Save webhook' }).click();
        await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
        const enabled = (await server.api<Webhook>('GET', '/v1/admin/webhooks/orders')).body;
        assert.deepEqual([enabled.enabled, enabled.disabled_reason, enabled.events], [true, undefined, ['posts.create', 'posts.update']]);
        await row.getByRole('button', { name: /^Retry/ }).click();
        await page.getByRole('status').filter({ hasText: 'Retry queued' }).waitFor();
        const second = await until('the retried delivery', () => hook.got[1]);
        assert.equal(second.headers['webhook-id'], first.headers['webhook-id'], 'the same event id');
        await until('the delivery to be ok', async () => {
          await page.getByRole('button', { name: 'Refresh deliveries' }).click();
          const t = await row.locator('td').allInnerTexts();
          return t[2] === 'ok' && t[4] === '200' ? t : undefined;
        });
        assert.equal(await row.getByRole('button', { name: /^Retry/ }).count(), 0, 'nothing to retry');
        await page.getByLabel('Delivery status').selectOption('dead');
        await page.getByText('No deliveries with status dead.').waitFor();
        await page.getByLabel('Delivery status').selectOption('ok');
        await row.waitFor();

        // 24 more changes: 20 deliveries a page, then Load more.
        for (let i = 0; i < 24; i++) await server.api('POST', '/v1/db/posts', { id: `q${i}`, data: { n: i } });
        await until('25 deliveries done', async () => {
          const ds = (await server.api<{ deliveries: Delivery[] }>('GET', '/v1/admin/webhooks/orders/deliveries?status=ok&limit=100')).body.deliveries;
          return ds.length === 25 ? ds : undefined;
        });
        await page.getByLabel('Delivery status').selectOption('');
        await deliveries.locator('tbody tr').nth(19).waitFor();
        assert.equal(await deliveries.locator('tbody tr').count(), 20);
        await page.getByRole('button', { name: 'Load more' }).click();
        await deliveries.locator('tbody tr').nth(24).waitFor();
        assert.equal(await deliveries.locator('tbody tr').count(), 25);
        assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);
        await shoot(s, 'webhook');

        // Delete, after a confirmation.
        await editing.getByRole('button', { name: 'Delete webhook' }).click();
        await editing.getByRole('button', { name: 'Confirm delete' }).click();
        await page.waitForURL(/\/_\/webhooks$/);
        await page.getByText('No webhooks.').waitFor();
        assert.equal((await server.api('GET', '/v1/admin/webhooks/orders')).status, 404);
      },
      { serverArgs: ['--functions-allow-private-net', 'true'] },
    );
  } finally {
    await hook.close();
  }
});

test('webhooks: a loopback URL on a server that keeps to public addresses, and a bad pattern, are refused with the server message in the form; auth and storage patterns are taken', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await page.goto('/_/webhooks');
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('Webhook name').fill('local');
    await form.getByLabel('URL').fill('http://127.0.0.1/');
    await form.getByLabel('Events').fill('*');
    s.expect({ status: 400, path: /^\/v1\/admin\/webhooks\/local$/, method: 'PUT' });
    await form.getByRole('button', { name: 'Create webhook' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /invalid_argument: `url`: 127\.0\.0\.1 is a private, loopback or reserved address \(set functions_allow_private_net to allow it\)/);
    assert.match(await alert.innerText(), /request id\s+\S{10,}/);
    await shoot(s, 'webhook-refused');

    await form.getByLabel('URL').fill('https://example.com/hook');
    await form.getByLabel('Events').fill('posts.create\nposts..x');
    await form.getByRole('button', { name: 'Create webhook' }).click();
    await alert.filter({ hasText: 'event `posts..x`' }).waitFor();
    assert.equal((await server.api('GET', '/v1/admin/webhooks/local')).status, 404, 'nothing saved');
    assert.equal(await page.getByRole('dialog', { name: 'New webhook secret' }).count(), 0);

    // Sign-ups, sign-ins and files have patterns too; the help names them.
    const help = await form.getByText(/^One pattern a line/).innerText();
    for (const p of ['auth.signup', 'auth.login', 'storage.upload', 'storage.delete']) assert.ok(help.includes(p), `the help names ${p}`);
    await form.getByLabel('Events').fill('auth.*\nstorage.upload');
    await form.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('dialog', { name: 'New webhook secret' }).waitFor();
    assert.deepEqual((await server.api<Webhook>('GET', '/v1/admin/webhooks/local')).body.events, ['auth.*', 'storage.upload']);
  });
});
