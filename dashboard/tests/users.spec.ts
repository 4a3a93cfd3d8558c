import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';

type User = { id: string; email: string; email_verified: boolean; disabled: boolean; data: unknown; claims: unknown };

async function userLogin(url: string, email: string, password: string) {
  return fetch(`${url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
}

test('users: create, search, edit profile and claims, disable, sign out everywhere, delete', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    await server.api('POST', '/v1/admin/users', { email: 'other@example.com', password: 'password123' });
    s.expect({ status: 404, path: /^\/v1\/admin\/users\/[^/]+\/sessions$/ }); // no such admin route yet
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'New user' }).click();
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Email').fill('Ada@Example.com');
    await form.getByLabel('Password').fill('password123');
    await form.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { name: 'ada@example.com' }).waitFor();
    const id = page.url().split('/').pop()!;
    const created = await server.api<User>('GET', `/v1/admin/users/${id}`);
    assert.equal(created.body.email, 'ada@example.com');

    // Search finds one and not the other.
    await page.getByRole('link', { name: 'Users' }).first().click();
    await page.getByLabel('Search users').fill('ada@');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'other@example.com' }).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('link', { name: 'ada@example.com' }).count(), 1);
    await shoot(s, 'users');
    await page.getByRole('link', { name: 'ada@example.com' }).click();

    // Profile, verified flag and claims.
    const profile = page.getByRole('form', { name: 'Profile' });
    await profile.getByLabel('Email verified').check();
    await profile.getByLabel('Profile data (JSON)').fill('{"name": "Ada"}');
    await profile.getByLabel('Custom claims (JSON)').fill('{"plan": "pro"}');
    await profile.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const edited = (await server.api<User>('GET', `/v1/admin/users/${id}`)).body;
    assert.deepEqual([edited.email_verified, edited.data, edited.claims], [true, { name: 'Ada' }, { plan: 'pro' }]);
    await shoot(s, 'user');

    // Sign out everywhere ends the user's refresh tokens.
    const session = (await (await userLogin(server.url, 'ada@example.com', 'password123')).json()) as { refresh_token: string };
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('status').filter({ hasText: 'Every session of this user ended.' }).waitFor();
    const refresh = await fetch(`${server.url}/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    });
    assert.equal(refresh.status, 401);

    // Disable: sign-in refused; enable again.
    await page.getByRole('button', { name: 'Disable user' }).click();
    await page.getByRole('button', { name: 'Enable user' }).waitFor();
    assert.equal((await server.api<User>('GET', `/v1/admin/users/${id}`)).body.disabled, true);
    assert.equal((await userLogin(server.url, 'ada@example.com', 'password123')).status, 403);
    await page.getByRole('button', { name: 'Enable user' }).click();
    await page.getByRole('button', { name: 'Disable user' }).waitFor();
    assert.equal((await server.api<User>('GET', `/v1/admin/users/${id}`)).body.disabled, false);

    // Delete.
    await page.getByRole('button', { name: 'Delete user' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.waitForURL(/\/_\/users$/);
    assert.equal((await server.api('GET', `/v1/admin/users/${id}`)).status, 404);
  });
});
