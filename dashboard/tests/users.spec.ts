import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot } from './harness.ts';
import { totp } from './totp.ts';

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
    await page.getByRole('link', { name: 'other@example.com' }).waitFor();
    await page.getByLabel('Search users').fill('ada@');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'other@example.com' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'ada@example.com' }).waitFor();
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

test('user page: sessions listed with their client, one revoked; MFA reset', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const user = (await server.api<User>('POST', '/v1/admin/users', { email: 'grace@example.com', password: 'password123' })).body;
    const signInAs = async (agent: string) => {
      const r = await fetch(`${server.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': agent },
        body: JSON.stringify({ email: 'grace@example.com', password: 'password123' }),
      });
      return (await r.json()) as { access_token: string; refresh_token: string };
    };
    const phone = await signInAs('PhoneApp/1.0');
    const laptop = await signInAs('LaptopBrowser/2.0');
    type Sessions = { sessions: { id: string; user_agent: string | null }[] };
    const before = (await server.api<Sessions>('GET', `/v1/admin/users/${user.id}/sessions`)).body.sessions;
    assert.equal(before.length, 2);

    await page.goto(`/_/users/${user.id}`);
    const list = page.getByRole('region', { name: 'Sessions' });
    await list.getByText(/PhoneApp\/1\.0/).waitFor();
    await list.getByText(/LaptopBrowser\/2\.0/).waitFor();
    await shoot(s, 'user-sessions');
    await list.getByRole('button', { name: 'Revoke session PhoneApp/1.0' }).click();
    await list.getByText(/PhoneApp\/1\.0/).waitFor({ state: 'detached' });
    const after = (await server.api<Sessions>('GET', `/v1/admin/users/${user.id}/sessions`)).body.sessions;
    assert.deepEqual(after.map((x) => x.user_agent), ['LaptopBrowser/2.0']);
    const refresh = (t: string) =>
      fetch(`${server.url}/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: t }),
      });
    assert.equal((await refresh(phone.refresh_token)).status, 401, 'the revoked session cannot refresh');

    // The user turns on MFA (over the API, as an app would); the admin resets it.
    const asUser = (path: string, body?: unknown) =>
      fetch(server.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${laptop.access_token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // Turning MFA on takes the password, not the access token alone.
    assert.equal((await asUser('/v1/auth/mfa/totp/enroll')).status, 400);
    const enrolled = (await (await asUser('/v1/auth/mfa/totp/enroll', { current_password: 'password123' })).json()) as { secret: string };
    assert.equal((await asUser('/v1/auth/mfa/totp/confirm', { code: totp(enrolled.secret) })).status, 200);
    assert.equal((await server.api<{ mfa_enabled: boolean }>('GET', `/v1/admin/users/${user.id}`)).body.mfa_enabled, true);
    await page.reload();
    await page.getByText(/MFA on/).waitFor();
    await page.getByRole('button', { name: 'Reset MFA' }).click();
    await page.getByRole('status').filter({ hasText: 'MFA reset.' }).waitFor();
    await page.getByText(/MFA off/).waitFor();
    assert.equal((await server.api<{ mfa_enabled: boolean }>('GET', `/v1/admin/users/${user.id}`)).body.mfa_enabled, false);
    const login = (await signInAs('PhoneApp/1.0')) as { access_token?: string; mfa_required?: boolean };
    assert.ok(login.access_token && !login.mfa_required, 'the password alone signs in again');
  });
});
