import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

test('realtime: live change stream with filter and pause, join a channel with presence, send and receive broadcasts', async () => {
  await withApp(async (s, server) => {
    const { page, ctx } = s;
    await server.api('POST', '/v1/db/collections', { name: 'posts' });
    await server.api('POST', '/v1/db/collections', { name: 'notes' });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Realtime' }).click();
    await page.getByRole('status', { name: 'Socket' }).filter({ hasText: 'socket: open, watching every collection' }).waitFor();
    const stream = page.getByRole('table', { name: 'Change stream' });
    await server.api('POST', '/v1/db/posts', { id: 'first', data: { a: 1 } });
    await stream.getByRole('row').filter({ hasText: 'first' }).waitFor();
    await server.api('POST', '/v1/db/notes', { id: 'note1', data: {} });
    await stream.getByRole('row').filter({ hasText: 'note1' }).waitFor();
    await page.getByLabel('Collection filter').selectOption('posts');
    await stream.getByRole('row').filter({ hasText: 'note1' }).waitFor({ state: 'detached' });
    assert.equal(await stream.getByRole('row').filter({ hasText: 'first' }).count(), 1);

    await page.getByRole('button', { name: 'Pause' }).click();
    await server.api('PATCH', '/v1/db/posts/first', { data: { a: 2 } });
    await page.waitForTimeout(500);
    assert.equal(await stream.getByRole('row').filter({ hasText: 'update' }).count(), 0, 'paused: not shown');
    await page.getByRole('button', { name: 'Resume' }).click();
    await server.api('DELETE', '/v1/db/posts/first');
    await stream.getByRole('row').filter({ hasText: 'delete' }).waitFor();

    // Join a channel; a user joins from another tab and broadcasts; the dashboard broadcasts back.
    await page.getByLabel('Channel', { exact: true }).fill('room:1');
    await page.getByLabel('Presence (JSON)').fill('{"name": "dashboard"}');
    await page.getByRole('button', { name: 'Join channel' }).click();
    const presence = page.getByRole('list', { name: 'Presence in room:1' });
    await presence.getByText('{"name":"dashboard"}').waitFor();

    const signup = await fetch(`${server.url}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'guest@example.com', password: 'password123' }),
    });
    const userToken = ((await signup.json()) as { access_token: string }).access_token;
    const other = await ctx.newPage();
    await other.goto(`${server.url}/v1/health`);
    await other.evaluate(
      ([url, token]) =>
        new Promise<void>((resolve) => {
          const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/realtime?token=${token}`);
          (window as unknown as { got: unknown[] }).got = [];
          ws.onmessage = (e) => {
            const m = JSON.parse(e.data);
            (window as unknown as { got: unknown[] }).got.push(m);
            if (m.type === 'joined') {
              ws.send(JSON.stringify({ type: 'broadcast', channel: 'room:1', event: 'wave', payload: { from: 'guest' } }));
              resolve();
            }
          };
          ws.onopen = () => ws.send(JSON.stringify({ type: 'join', channel: 'room:1', presence: { name: 'guest' } }));
        }),
      [server.url, userToken],
    );
    await presence.getByText('{"name":"guest"}').waitFor();
    await page.getByText(/room:1 · wave from/).waitFor();

    await page.getByLabel('Event').fill('ping');
    await page.getByLabel('Payload (JSON)').fill('{"n": 1}');
    await page.getByRole('button', { name: 'Send broadcast' }).click();
    await other.waitForFunction(() =>
      (window as unknown as { got: { type: string; event?: string }[] }).got.some((m) => m.type === 'broadcast' && m.event === 'ping'),
    );
    const got = await other.evaluate(() => (window as unknown as { got: { type: string; payload?: unknown }[] }).got.find((m) => m.type === 'broadcast'));
    assert.deepEqual(got?.payload, { n: 1 });
    await other.close();
    await shoot(s, 'realtime');
  });
});

test('realtime: one subscription to every collection shows changes in a collection made after the screen opened', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const sent: { type: string; id?: string; collection?: string }[] = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(JSON.parse(String(f.payload)))));
    await server.api('POST', '/v1/db/collections', { name: 'early' });
    await page.goto('/_/realtime');
    await page.getByRole('status', { name: 'Socket' }).filter({ hasText: 'socket: open, watching every collection' }).waitFor();
    const subs = sent.filter((m) => m.type === 'subscribe');
    assert.deepEqual(subs.map((m) => m.collection), ['*'], 'one subscription, to "*"');

    // A collection that did not exist when the screen subscribed.
    await server.api('POST', '/v1/db/collections', { name: 'later' });
    const doc = (await server.api<{ id: string; collection: string }>('POST', '/v1/db/later', { data: { hello: 'world' } })).body;
    await server.api('POST', '/v1/db/early', { id: 'e1', data: {} });
    const stream = page.getByRole('table', { name: 'Change stream' });
    const row = stream.getByRole('row').filter({ hasText: doc.id });
    await row.waitFor();
    assert.match(await row.innerText(), /create\s+later/);
    await stream.getByRole('row').filter({ hasText: 'e1' }).waitFor();
    await page.getByLabel('Collection filter').selectOption('later');
    await stream.getByRole('row').filter({ hasText: 'e1' }).waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1);
    const stored = await server.api<{ id: string; collection: string }>('GET', `/v1/db/later/${doc.id}`);
    assert.equal(stored.body.collection, 'later');
    await shoot(s, 'realtime-all');
  });
});
