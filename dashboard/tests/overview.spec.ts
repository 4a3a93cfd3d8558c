import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

test('overview shows health, version, readiness and the counts from the API', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await server.api('POST', '/v1/db/collections', { name: 'posts' });
    await server.api('POST', '/v1/db/posts', { data: { a: 1 } });
    await server.api('POST', '/v1/admin/users', { email: 'u@example.com', password: 'password123' });
    const series = await server.api('GET', '/v1/admin/stats/series?metric=requests&range=1h');
    assert.equal(series.status, 200, 'the server has the request series');
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const health = (await server.api<{ version: string }>('GET', '/v1/health')).body;
    await page.getByText(health.version, { exact: true }).waitFor();
    await page.getByText('ready', { exact: true }).waitFor();
    await page.locator('.card', { has: page.getByText('Database', { exact: true }) }).getByText('sqlite').waitFor();
    const stats = (await server.api<Record<string, number>>('GET', '/v1/admin/stats')).body;
    for (const [label, key] of [['Users', 'users'], ['Collections', 'collections'], ['Documents', 'documents']]) {
      const card = page.locator('.card', { has: page.getByText(label, { exact: true }) });
      assert.equal((await card.locator('dd').innerText()).trim(), String(stats[key]), label);
    }
    const requests = page.getByRole('img', { name: /^Requests:/ });
    await requests.waitFor();
    await page.getByRole('img', { name: /^Errors:/ }).waitFor();
    // This test's own requests (sign-in, seeding) are in the last hour: the chart is not flat.
    const label = (await requests.getAttribute('aria-label')) ?? '';
    const total = Number(/total (\d+(?:\.\d+)?)/.exec(label)?.[1]);
    assert.ok(total >= 3, `requests in the last hour: ${label}`);
    const api = (await server.api<{ points: { value: number }[] }>('GET', '/v1/admin/stats/series?metric=requests&range=1h')).body;
    assert.ok(api.points.reduce((a, p) => a + p.value, 0) >= total, 'the chart shows no more than the API has');
    await shoot(s, 'overview');
  });
});
