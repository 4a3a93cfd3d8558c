import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withApp, shoot, ADMIN } from './harness.ts';

const NAV = ['Overview', 'Collections', 'Rules', 'Users', 'Files', 'Realtime', 'Functions', 'Webhooks', 'Logs', 'Keys', 'Settings'];

test('served at /_/ with the CSP, deep links answer the app', async () => {
  await withApp(
    async (s, server) => {
      const res = await fetch(`${server.url}/_/collections/posts`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      const html = await res.text();
      assert.doesNotMatch(html, /<script>(?!<)/, 'no inline script');
      await s.page.goto('/_/collections/none');
      assert.match(s.page.url(), /\/_\/login\?next=collections%2Fnone$/, 'signed out: to sign in, which comes back here');
    },
    { signIn: false },
  );
});

test('sign in, navigation, theme, wrong password alert, 401 sends back to sign in', async () => {
  await withApp(
    async (s, server) => {
      const { page } = s;
      await page.goto('/_/');
      await page.waitForURL(/\/_\/login$/);
      await shoot(s, 'login');
      // A wrong password: an alert with the message and the request id.
      s.expect({ status: 401, path: /^\/v1\/admin\/login$/ });
      await page.getByLabel('Email').fill(ADMIN.email);
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.match(await alert.innerText(), /invalid email or password/);
      assert.match(await alert.innerText(), /request id\s+\S{10,}/);

      await page.getByLabel('Password').fill(ADMIN.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.waitFor();
      const names = await nav.getByRole('link').allInnerTexts();
      assert.deepEqual(names.map((n) => n.trim()), NAV);
      assert.ok(await page.evaluate(() => sessionStorage.getItem('basalt.admin.token')), 'token kept');
      const me = await fetch(`${server.url}/v1/admin/me`, {
        headers: { authorization: `Bearer ${await page.evaluate(() => sessionStorage.getItem('basalt.admin.token'))}` },
      });
      if (me.status === 200) await page.getByLabel('Signed in as').filter({ hasText: `${ADMIN.email} · owner` }).waitFor();

      // Every screen opens from the navigation, by keyboard too.
      for (const name of NAV) {
        await nav.getByRole('link', { name, exact: true }).click();
        await page.getByRole('heading', { level: 1 }).first().waitFor();
        assert.equal(await nav.getByRole('link', { name, exact: true }).getAttribute('aria-current'), 'page');
      }
      await nav.getByRole('link', { name: 'Overview' }).focus();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Collections');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/_\/collections$/);

      // Theme: system by default, switchable, remembered after a reload.
      const theme = page.getByRole('button', { name: /^Theme:/ });
      assert.equal(await theme.innerText(), 'Theme: system');
      await theme.click();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
      await page.reload();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, 'rgb(21, 23, 28)', 'dark background');
      await page.getByRole('button', { name: /^Theme:/ }).click();
      await page.getByRole('button', { name: /^Theme:/ }).click();
      assert.equal(await page.evaluate(() => localStorage.getItem('basalt.theme')), null);

      // A token that stops working (here: replaced by garbage) asks to sign in again over the
      // page; signing out from there goes to the sign-in page.
      s.expect({ status: 401, path: /^\/v1\// });
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys' }).click();
      await page.evaluate(() => sessionStorage.setItem('basalt.admin.token', 'not-a-token'));
      await page.reload();
      const dialog = page.getByRole('dialog', { name: 'Session expired' });
      await dialog.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.match(page.url(), /\/_\/keys$/);
      await dialog.getByRole('button', { name: 'Sign out instead' }).click();
      await page.waitForURL(/\/_\/login$/);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    },
    { signIn: false },
  );
});

test('works at 390×844: menu, overview, collections', async () => {
  await withApp(
    async (s, server) => {
      const { page } = s;
      const nav = page.getByRole('navigation', { name: 'Main' });
      assert.equal(await nav.getByRole('link', { name: 'Collections' }).isVisible(), false, 'navigation folded');
      await page.getByRole('button', { name: 'Menu' }).click();
      await nav.getByRole('link', { name: 'Collections' }).click();
      await page.getByRole('button', { name: 'New collection' }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          // Inside a horizontally scrolling box (a wide table) is fine.
          .filter((e) => !e.closest('.scroll-x'))
          .map((e) => e.tagName + '.' + e.className)
          .slice(0, 5),
      );
      assert.deepEqual(wide, [], 'nothing wider than the screen');
      assert.ok(overflow <= 0, `no horizontal scroll (overflow ${overflow}px)`);
      await shoot(s, 'mobile-collections');

      // The documents screen is usable too: the grid scrolls inside its box, a document opens.
      await server.api('POST', '/v1/db/collections', { name: 'posts' });
      await server.api('POST', '/v1/db/posts', { id: 'm1', data: { title: 'on a phone' } });
      await page.goto('/_/collections/posts/documents');
      await page.getByRole('grid', { name: 'Documents of posts' }).getByRole('button', { name: 'm1' }).click();
      await page.getByRole('textbox', { name: 'Document data', exact: true }).waitFor();
      const box = await page.getByRole('region', { name: 'Document m1' }).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, 'editor fits the screen');
      await shoot(s, 'mobile-document');
    },
    { width: 390, height: 844 },
  );
});
