// A user's push devices on the user page: listed, a test notification sent and followed until
// each delivery is settled, one device removed; the empty state and the narrow screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { withApp, shoot, type Server } from './harness.ts';
import { shortAddress } from '../src/lib/util.ts';

type Device = { id: string; kind: string; address: string; topic?: string; user_id: string };
type Sent = {
  status: string;
  notification: { title: string; body?: string };
  counts: Record<string, number>;
  results: { subscription_id: string; status: string; error: string | null }[];
};

const FCM_TOKEN = 'dGVzdC10b2tlbg:APA91bHunv8YtT2xQxLz1aYe3kF';
const APNS_TOKEN = '5c0f'.repeat(16);

/** A user made over the admin API, signed in over the user API: their id and access token. */
async function makeUser(server: Server, email: string): Promise<{ id: string; token: string }> {
  const made = await server.api<{ id: string }>('POST', '/v1/admin/users', { email, password: 'password123' });
  assert.equal(made.status, 201);
  const login = await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'password123' }),
  });
  assert.equal(login.status, 200);
  return { id: made.body.id, token: ((await login.json()) as { access_token: string }).access_token };
}

/** Registers a device as the user's app does, with the user's own token. */
async function register(server: Server, token: string, device: Record<string, string>): Promise<Device> {
  const r = await fetch(`${server.url}/v1/push/subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(device),
  });
  assert.equal(r.status, 201, `registering a ${device.kind} device`);
  return (await r.json()) as Device;
}

async function devicesOf(server: Server, userId: string): Promise<Device[]> {
  const r = await server.api<{ subscriptions: Device[] }>('GET', `/v1/admin/push/subscriptions?user_id=${userId}`);
  assert.equal(r.status, 200);
  return r.body.subscriptions;
}

/** The text of each cell of each body row of `table`. */
async function cells(table: Locator): Promise<string[][]> {
  return table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').replace(/\s+/g, ' ').trim())),
  );
}

/** Waits until `target` has the keyboard focus. */
async function focusIsOn(page: Page, target: Locator, what: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await target.evaluate((el) => el === document.activeElement, undefined, { timeout: 1000 }).catch(() => false)) return;
    await page.waitForTimeout(50);
  }
  assert.fail(`the focus should be on ${what}`);
}

test('shortAddress: tokens keep their ends, Web Push endpoints their host and the end of their path', () => {
  assert.equal(shortAddress(FCM_TOKEN), 'dGVzdC10…aYe3kF');
  assert.equal(shortAddress(APNS_TOKEN), '5c0f5c0f…0f5c0f');
  assert.equal(shortAddress('short-token'), 'short-token');
  assert.equal(shortAddress('https://fcm.googleapis.com/fcm/send/cQz3-abc:APA91bXyz12345678'), 'fcm.googleapis.com/…12345678');
  assert.equal(shortAddress('https://push.example.com/a'), 'push.example.com/a');
});

test('user page: devices listed, a test notification followed to each device\'s result, one device removed', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const user = await makeUser(server, 'ada@example.com');
    const fcm = await register(server, user.token, { kind: 'fcm', token: FCM_TOKEN });
    const apns = await register(server, user.token, { kind: 'apns', token: APNS_TOKEN, topic: 'com.example.app' });

    await page.goto(`/_/users/${user.id}`);
    const section = page.getByRole('region', { name: 'Devices' });
    await section.getByRole('heading', { name: 'Devices', level: 2 }).waitFor();
    const list = section.getByRole('table', { name: 'Device list' });
    await list.waitFor();
    const rows = await cells(list);
    assert.equal(rows.length, 2);
    const byKind = Object.fromEntries(rows.map((r) => [r[0], r]));
    assert.equal(byKind.FCM[1], shortAddress(FCM_TOKEN));
    assert.equal(byKind.APNs[1], `${shortAddress(APNS_TOKEN)} com.example.app`);
    for (const r of rows) assert.match(r[2], /\d/, 'the time the device registered');
    await shoot(s, 'user-devices');

    // A test notification: neither FCM nor APNs is configured, so both deliveries are dead.
    const form = section.getByRole('form', { name: 'Send a test notification' });
    await form.getByLabel('Title').fill('Hello Ada');
    await form.getByLabel('Body').fill('A test from the dashboard');
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/admin/push');
    await form.getByRole('button', { name: 'Send' }).click();
    const answer = await posted;
    assert.equal(answer.status(), 202);
    const { id } = (await answer.json()) as { id: string };
    const result = section.getByRole('region', { name: 'Test notification: done' });
    await result.waitFor();
    const counts = await result.getByRole('list', { name: 'Delivery counts' }).getByRole('listitem').allInnerTexts();
    assert.deepEqual(counts, ['0 ok', '2 dead', '0 removed', '0 pending', '0 retrying']);
    const results = await cells(result.getByRole('table', { name: 'Delivery results' }));
    const resultOf = (name: string) => results.find((r) => r[0] === name);
    const fcmResult = resultOf(`FCM ${shortAddress(FCM_TOKEN)}`);
    const apnsResult = resultOf(`APNs ${shortAddress(APNS_TOKEN)}`);
    assert.ok(fcmResult && apnsResult, `a result for each device: ${JSON.stringify(results)}`);
    assert.equal(fcmResult[1], 'dead 1 attempt');
    assert.match(fcmResult[2], /^FCM is not configured/);
    assert.equal(apnsResult[1], 'dead 1 attempt');
    assert.match(apnsResult[2], /^APNs is not configured/);
    // What the screen shows is what the API says.
    const over = (await server.api<Sent>('GET', `/v1/admin/push/${id}`)).body;
    assert.equal(over.status, 'done');
    assert.deepEqual(over.notification, { title: 'Hello Ada', body: 'A test from the dashboard' });
    assert.deepEqual(
      over.results.map((r) => [r.subscription_id, r.status]).sort(),
      [[fcm.id, 'dead'], [apns.id, 'dead']].sort(),
    );
    await shoot(s, 'user-devices-sent');

    // Remove the FCM device: confirmed first, then gone from the screen and from the server.
    const remove = list.getByRole('button', { name: `Remove FCM device ${shortAddress(FCM_TOKEN)}` });
    await remove.click();
    const confirm = page.getByRole('alertdialog', { name: 'Remove this FCM device?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    assert.equal((await devicesOf(server, user.id)).length, 2, 'Cancel removes nothing');
    await remove.click();
    await confirm.getByRole('button', { name: 'Confirm remove' }).click();
    await section.getByRole('status').filter({ hasText: `FCM device ${shortAddress(FCM_TOKEN)} removed.` }).waitFor();
    await remove.waitFor({ state: 'detached' });
    assert.deepEqual((await devicesOf(server, user.id)).map((d) => d.id), [apns.id]);
    // The removed row's button is gone: the focus is on the next device's Remove.
    await focusIsOn(page, list.getByRole('button', { name: /^Remove APNs device/ }), 'the remaining Remove');
    // The last result still names the device removed since.
    await result.getByRole('cell', { name: `FCM ${shortAddress(FCM_TOKEN)}` }).waitFor();
  });
});

test('devices: a refused send shown with its message and request id; the empty state; 390×844 by keyboard', async () => {
  await withApp(
    async (s, server) => {
      const { page } = s;
      const lone = await makeUser(server, 'lone@example.com');
      await page.goto(`/_/users/${lone.id}`);
      const section = page.getByRole('region', { name: 'Devices' });
      await section.getByText('No devices registered.').waitFor();
      await section.getByText(/POST \/v1\/push\/subscriptions/).waitFor();
      assert.equal(await section.getByRole('table', { name: 'Device list' }).count(), 0);
      await shoot(s, 'user-devices-empty-narrow');

      const grace = await makeUser(server, 'grace@example.com');
      const device = await register(server, grace.token, { kind: 'fcm', token: FCM_TOKEN });
      await page.goto(`/_/users/${grace.id}`);
      const list = section.getByRole('table', { name: 'Device list' });
      await list.waitFor();
      const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
      assert.ok(fits, 'the page does not scroll sideways at 390 px');

      // Keyboard alone: Enter on Remove opens the confirmation on Cancel; Escape closes it.
      const remove = list.getByRole('button', { name: /^Remove FCM device/ });
      await remove.focus();
      await page.keyboard.press('Enter');
      const confirm = page.getByRole('alertdialog', { name: 'Remove this FCM device?' });
      await focusIsOn(page, confirm.getByRole('button', { name: 'Cancel' }), 'Cancel');
      await page.keyboard.press('Escape');
      await confirm.waitFor({ state: 'hidden' });
      await focusIsOn(page, remove, 'Remove');

      // A notification bigger than push services take is refused: the alert says why.
      s.expect({ status: 413, path: /^\/v1\/admin\/push$/, method: 'POST' });
      const form = section.getByRole('form', { name: 'Send a test notification' });
      await form.getByLabel('Title').fill('Too big');
      await form.getByLabel('Body').fill('€'.repeat(2000));
      await form.getByRole('button', { name: 'Send' }).click();
      const alert = form.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /payload_too_large/);
      assert.match(await alert.innerText(), /request id\s+\S{10,}/);
      await shoot(s, 'user-devices-refused-narrow');

      // Typed and sent with Enter: the alert goes, the result comes.
      await form.getByLabel('Body').fill('');
      await form.getByLabel('Title').focus();
      await page.keyboard.insertText(' again');
      await page.keyboard.press('Enter');
      const result = section.getByRole('region', { name: 'Test notification: done' });
      await result.waitFor();
      assert.equal(await form.getByRole('alert').count(), 0);
      const rows = await cells(result.getByRole('table', { name: 'Delivery results' }));
      assert.equal(rows.length, 1);
      assert.equal(rows[0][1], 'dead 1 attempt');
      assert.match(rows[0][2], /FCM is not configured/);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the result fits at 390 px');
      await shoot(s, 'user-devices-sent-narrow');
      assert.deepEqual((await devicesOf(server, grace.id)).map((d) => d.id), [device.id]);
    },
    { width: 390, height: 844 },
  );
});
