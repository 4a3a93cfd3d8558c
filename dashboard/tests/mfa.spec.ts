import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { withApp, shoot, ADMIN, type Server } from './harness.ts';
import { totp } from './totp.ts';

// Two-factor sign-in for admins: set up from Settings, the code step at sign-in (a TOTP code or
// a recovery code), turned off again, and an owner resetting another admin's.

type Me = { email: string; mfa_enabled: boolean };

async function passwordStep(page: Page, who = ADMIN) {
  await page.goto('/_/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Code').waitFor();
}

/** Milliseconds until the next 30-second TOTP step: a code is accepted once per step. */
const untilNextStep = () => 30_000 - (Date.now() % 30_000) + 200;

async function adminLogin(server: Server, who: { email: string; password: string }) {
  const r = await fetch(`${server.url}/v1/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(who),
  });
  return (await r.json()) as { access_token?: string; mfa_required?: boolean; mfa_token?: string };
}

test('admin two-factor: set up in Settings, the code step at sign-in (TOTP and recovery code), turned off; an owner resets another admin', async () => {
  await withApp(async (s, server) => {
    const { page } = s;
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Settings' }).click();
    const account = page.getByRole('region', { name: 'Your account' });
    await account.getByText('Two-factor sign-in is off.').waitFor();
    await account.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const secret = (await account.getByLabel('TOTP secret').innerText()).trim();
    const recovery = (await account.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts()).map((c) => c.trim());
    assert.match(secret, /^[A-Z2-7]{16,}$/);
    assert.ok(recovery.length >= 5, `recovery codes shown (${recovery.length})`);
    assert.match(await account.innerText(), /otpauth:\/\/totp\//);
    await shoot(s, 'settings-mfa-setup');
    await account.getByLabel('Code from the app').fill(totp(secret));
    const confirmedStep = Math.floor(Date.now() / 30_000);
    await account.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await account.getByText('Two-factor sign-in is on').first().waitFor();
    assert.equal((await server.api<Me>('GET', '/v1/admin/me')).body.mfa_enabled, true);
    assert.equal((await adminLogin(server, ADMIN)).mfa_required, true, 'the API now asks for a code');

    // Sign in again: a wrong code sends back to the password (the sign-in token is good for
    // one try), a recovery code gets in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await passwordStep(page);
    await shoot(s, 'login-code');
    s.expect({ status: 401, path: /^\/v1\/admin\/mfa\/verify$/ });
    await page.getByLabel('Code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: /code is wrong/ }).waitFor();
    await page.getByLabel('Password').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code').fill(recovery[0]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // An owner resets another admin's two-factor (set up here over the API).
    const other = { email: 'second@example.com', password: 'second long password' };
    await server.api('POST', '/v1/admin/admins', { ...other, role: 'developer' });
    const otherToken = (await adminLogin(server, other)).access_token!;
    const asOther = (path: string, body?: unknown) =>
      fetch(server.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${otherToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const enrolled = (await (await asOther('/v1/admin/mfa/totp/enroll')).json()) as { secret: string };
    assert.equal((await asOther('/v1/admin/mfa/totp/confirm', { code: totp(enrolled.secret) })).status, 200);
    await nav.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: `Reset two-factor of ${other.email}` }).click();
    await page.getByRole('status').filter({ hasText: `Two-factor sign-in of ${other.email} turned off.` }).waitFor();
    type Admin = { email: string; mfa_enabled: boolean };
    const admins = (await server.api<{ admins: Admin[] }>('GET', '/v1/admin/admins')).body.admins;
    assert.equal(admins.find((a) => a.email === other.email)?.mfa_enabled, false);
    assert.ok((await adminLogin(server, other)).access_token, 'the other admin signs in with the password alone');

    // The TOTP code itself at sign-in, from a later step than the one used to confirm.
    if (Math.floor(Date.now() / 30_000) === confirmedStep) await page.waitForTimeout(untilNextStep());
    await page.getByRole('button', { name: 'Sign out' }).click();
    await passwordStep(page);
    await page.getByLabel('Code').fill(totp(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // Turn it off again (with a recovery code: the TOTP code of this step is spent).
    await nav.getByRole('link', { name: 'Settings' }).click();
    await account.getByLabel('Current code').fill(recovery[1]);
    await account.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
    await account.getByRole('status').filter({ hasText: 'Two-factor sign-in turned off.' }).waitFor();
    await account.getByRole('button', { name: 'Set up two-factor sign-in' }).waitFor();
    assert.equal((await server.api<Me>('GET', '/v1/admin/me')).body.mfa_enabled, false);
    assert.ok((await adminLogin(server, ADMIN)).access_token, 'the password alone signs in again');
  });
});
