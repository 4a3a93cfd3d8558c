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
    // An id a generated id cannot contain (they have no '-'), so the row filter matches one row.
    await server.api('POST', '/v1/db/early', { id: 'in-early', data: {} });
    const stream = page.getByRole('table', { name: 'Change stream' });
    const row = stream.getByRole('row').filter({ hasText: doc.id });
    await row.waitFor();
    assert.match(await row.innerText(), /create\s+later/);
    await stream.getByRole('row').filter({ hasText: 'in-early' }).waitFor();
    await page.getByLabel('Collection filter').selectOption('later');
    await stream.getByRole('row').filter({ hasText: 'in-early' }).waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1);
    const stored = await server.api<{ id: string; collection: string }>('GET', `/v1/db/later/${doc.id}`);
    assert.equal(stored.body.collection, 'later');
    await shoot(s, 'realtime-all');
  });
});

type Inspection = {
  node: string;
  sockets: number;
  connections: { id: string; caller: string; email: string | null; ip: string; subscriptions: { collection: string; doc_id: string | null }[]; channels: string[] }[];
  channels: { name: string; members: { id: string; presence: unknown; here: boolean }[] }[];
};

test('realtime inspector: open sockets with caller, address, subscriptions and channels, presence per channel, a closed socket gone after a refresh, paused while hidden', async () => {
  await withApp(async (s, server) => {
    const { page, ctx } = s;
    await server.api('POST', '/v1/db/collections', { name: 'posts', rules: { read: 'true' } });
    const token = async (email: string) => {
      const r = await fetch(`${server.url}/v1/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'password123' }),
      });
      return ((await r.json()) as { access_token: string }).access_token;
    };
    const alice = await token('alice@example.com');
    const bob = await token('bob@example.com');

    // Two app sockets, from a second page (Node 20 has no WebSocket of its own): Alice watches
    // the collection, Bob one document; both join room:lobby with a presence state.
    const other = await ctx.newPage();
    await other.goto(`${server.url}/v1/health`);
    const open = (name: string, tok: string, sub: Record<string, unknown>, presence: unknown) =>
      other.evaluate(
        ([url, name, tok, sub, presence]) =>
          new Promise<void>((resolve, reject) => {
            const w = window as unknown as Record<string, WebSocket>;
            const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/realtime?token=${tok}`);
            w[name] = ws;
            let got = 0;
            ws.onerror = () => reject(new Error(`socket ${name} failed`));
            ws.onmessage = (e) => {
              const m = JSON.parse(e.data);
              if (m.type === 'error') reject(new Error(`socket ${name}: ${m.code}: ${m.message}`));
              if (m.type === 'subscribed' || m.type === 'joined') got++;
              if (got === 2) resolve();
            };
            ws.onopen = () => {
              ws.send(JSON.stringify({ type: 'subscribe', id: 's1', ...sub }));
              ws.send(JSON.stringify({ type: 'join', channel: 'room:lobby', presence }));
            };
          }),
        [server.url, name, tok, sub, presence] as const,
      );
    await open('alice', alice, { collection: 'posts' }, { name: 'Alice' });
    await open('bob', bob, { collection: 'posts', doc_id: 'd1' }, { name: 'Bob' });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Realtime' }).click();
    await page.getByRole('status', { name: 'Socket' }).filter({ hasText: 'socket: open, watching every collection' }).waitFor();
    const sockets = page.getByRole('table', { name: 'Open sockets' });
    const row = (email: string) => sockets.getByRole('row').filter({ hasText: email });
    // The dashboard's own socket subscribed after its first look: refresh until it shows "*".
    await page.getByRole('button', { name: 'Refresh' }).click();
    await sockets.getByRole('row').filter({ hasText: 'every collection' }).waitFor();
    await row('alice@example.com').waitFor();
    assert.match(await row('alice@example.com').innerText(), /^user\s+\S+\s+alice@example\.com\s+127\.0\.0\.1\s[\s\S]*posts \(s1\)\s+room:lobby$/);
    assert.match(await row('bob@example.com').innerText(), /posts \/ d1 \(s1\)\s+room:lobby$/);
    assert.match(await row('admin@example.com').innerText(), /^admin\s[\s\S]*every collection \(all\)\s+none$/);

    // The numbers are the API's.
    const api = (await server.api<Inspection>('GET', '/v1/admin/realtime')).body;
    assert.equal(api.sockets, 3);
    assert.equal(api.connections.length, 3);
    assert.equal(await sockets.locator('tbody tr').count(), api.connections.length);
    await page.getByText(`${api.sockets} open sockets on node ${api.node}`).waitFor();
    const lobby = api.channels.find((c) => c.name === 'room:lobby');
    assert.deepEqual(lobby?.members.map((m) => m.presence).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [{ name: 'Alice' }, { name: 'Bob' }]);
    assert.ok(lobby?.members.every((m) => m.here));
    const members = page.getByRole('list', { name: 'Members of room:lobby' });
    await members.getByText('alice@example.com: {"name":"Alice"}').waitFor();
    await members.getByText('bob@example.com: {"name":"Bob"}').waitFor();
    await shoot(s, 'realtime-inspector');

    // Bob closes his socket: once the server has let go of it, a refresh shows it gone.
    await other.evaluate(() => (window as unknown as Record<string, WebSocket>).bob.close());
    for (let i = 0; i < 100; i++) {
      const now = (await server.api<Inspection>('GET', '/v1/admin/realtime')).body;
      if (now.sockets === 2 && now.channels.every((c) => c.members.length === 1)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row('bob@example.com').waitFor({ state: 'detached' });
    await members.getByText('bob@example.com', { exact: false }).waitFor({ state: 'detached' });
    await page.getByText(/^2 open sockets on node/).waitFor();
    assert.equal(await sockets.locator('tbody tr').count(), 2);

    // It refreshes by itself: a socket opened now shows up without a click.
    await open('carol', await token('carol@example.com'), { collection: 'posts' }, { name: 'Carol' });
    await row('carol@example.com').waitFor();

    // While the tab is hidden it asks nothing; shown again, it refreshes at once.
    const asked: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/admin/realtime') asked.push(r.url());
    });
    const status = page.getByRole('status', { name: 'Inspector refresh' });
    // A string, not a function: tsx names functions with a helper the page does not have.
    await page.evaluate(
      `Object.defineProperty(document, 'hidden', { configurable: true, value: true }); document.dispatchEvent(new Event('visibilitychange'))`,
    );
    await status.filter({ hasText: 'paused while this tab is hidden' }).waitFor();
    asked.length = 0;
    await page.waitForTimeout(6000);
    assert.deepEqual(asked, [], 'no refresh while hidden (one is due every 5 s)');
    const again = page.waitForRequest((r) => new URL(r.url()).pathname === '/v1/admin/realtime');
    await page.evaluate(
      `Object.defineProperty(document, 'hidden', { configurable: true, value: false }); document.dispatchEvent(new Event('visibilitychange'))`,
    );
    await again;
    await status.filter({ hasText: /^updated / }).waitFor();
    await other.close();
  });
});
