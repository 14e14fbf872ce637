// The main journeys, once with JavaScript on (hydrated app) and once with it off (plain HTML
// forms): sign in, switch tenant, members page, gated actions, sign out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn as signInWith, visit } from './harness.mjs';

const env = serverAndBrowser();

for (const javaScriptEnabled of [true, false]) {
  describe(`with JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    const go = (page, url) => visit(page, url, javaScriptEnabled);
    const signIn = (page, email) => signInWith(page, env.server, email, javaScriptEnabled);
    const open = async () => {
      const context = await env.browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      const wasm = [];
      page.on('response', (response) => {
        if (response.url().endsWith('.wasm')) wasm.push(response.status());
      });
      return { context, page, wasm };
    };

    test('signed-out visitors are sent to sign in and back', async () => {
      const { context, page } = await open();
      await go(page, `${env.server.base}/admin/t/contoso/members`);
      assert.match(page.url(), /\/login\?next=\/admin\/t\/contoso\/members$/);
      await page.fill('input[name=email]', 'owner@demo.test');
      await page.fill('input[name=password]', env.server.password);
      await page.click('button[type=submit]');
      await page.waitForURL(`${env.server.base}/admin/t/contoso/members`);
      await page.getByRole('heading', { name: 'Members of Contoso Ltd' }).waitFor();
      await context.close();
    });

    test('a wrong password is refused with a message', async () => {
      const { context, page } = await open();
      await go(page, `${env.server.base}/login`);
      await page.fill('input[name=email]', 'owner@demo.test');
      await page.fill('input[name=password]', 'not the password');
      await page.click('button[type=submit]');
      await page.getByRole('alert').filter({ hasText: 'do not match an account' }).waitFor();
      assert.match(page.url(), /\/login/);
      await context.close();
    });

    test('sign in, switch tenant, see the members, sign out', async () => {
      const { context, page, wasm } = await open();
      await signIn(page, 'manager@demo.test');
      await page.getByRole('heading', { name: 'Your tenants' }).waitFor();
      // With JavaScript off the browser may still preload the module; it just never runs it.
      if (javaScriptEnabled) assert.deepEqual([...new Set(wasm)], [200], 'the app hydrates');

      await page.getByText('Choose a tenant').click();
      await page.locator('.switcher').getByRole('link', { name: /Fabrikam Inc/ }).click();
      await page.waitForURL(`${env.server.base}/admin/t/fabrikam`);
      await page.getByRole('heading', { name: 'Fabrikam Inc' }).waitFor();
      assert.equal(await page.locator('.switcher > summary').innerText(), 'Fabrikam Inc');

      await page.getByRole('navigation', { name: 'Tenant' }).getByRole('link', { name: 'Members' }).click();
      await page.waitForURL(`${env.server.base}/admin/t/fabrikam/members`);
      for (const email of ['owner@demo.test', 'manager@demo.test', 'operator@demo.test']) {
        await page.getByRole('cell', { name: email, exact: true }).waitFor();
      }
      // A manager may not manage members: the button is there, disabled, saying who may.
      const add = page.getByRole('button', { name: 'Add member' });
      assert.equal(await add.isDisabled(), true);
      const hint = await page.locator('.gated', { has: add }).getAttribute('title');
      assert.equal(hint, 'Requires the Owner role or higher');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${env.server.base}/login`);
      await go(page, `${env.server.base}/admin`);
      assert.match(page.url(), /\/login\?next=\/admin$/);
      await context.close();
    });

    test('an owner adds a member and changes their role, with confirmation', async () => {
      const { context, page } = await open();
      await signIn(page, 'owner@demo.test');
      // Each run adds someone who was not a member there (and whom no other test relies on).
      const [tenant, email] = javaScriptEnabled
        ? ['northwind', 'operator@demo.test']
        : ['fabrikam', 'readonly@demo.test'];
      await go(page, `${env.server.base}/admin/t/${tenant}/members`);
      await page.fill('input[name=email]', email);
      await page.selectOption('.inline-form select[name=role]', 'operator');
      await page.getByRole('button', { name: 'Add member' }).click();
      const row = page.getByRole('row').filter({ hasText: email });
      await row.locator('.badge', { hasText: 'Operator' }).waitFor();
      await page.getByRole('status').filter({ hasText: 'Member saved.' }).waitFor();

      await row.getByText('Change role…').click();
      await row.locator('select[name=role]').selectOption('manager');
      await row.getByRole('button', { name: 'Confirm role change' }).click();
      await page.getByRole('row').filter({ hasText: email }).locator('.badge', { hasText: 'Manager' }).waitFor();
      await context.close();
    });

    test('a platform admin creates a tenant', async () => {
      const { context, page } = await open();
      await signIn(page, 'admin@demo.test');
      await page.getByRole('link', { name: 'Platform', exact: true }).click();
      await page.waitForURL(`${env.server.base}/system`);
      const slug = javaScriptEnabled ? 'tailspin' : 'wingtip';
      await page.fill('input[name=slug]', slug);
      await page.fill('input[name=name]', `${slug} Toys`);
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await page.getByRole('row').filter({ hasText: `${slug} Toys` }).waitFor();
      // A taken slug is refused with a message, and nothing else changes.
      await page.fill('input[name=slug]', slug);
      await page.fill('input[name=name]', 'Again');
      await page.getByRole('button', { name: 'Create tenant' }).click();
      await page.getByRole('alert').filter({ hasText: `The tenant ${slug} exists already` }).waitFor();
      assert.equal(await page.getByRole('cell', { name: 'Again' }).count(), 0);
      await context.close();
    });

    test('no access looks like nothing there; a missing capability says which role has it', async () => {
      const { context, page } = await open();
      await signIn(page, 'readonly@demo.test');
      const members = await go(page, `${env.server.base}/admin/t/contoso/members`);
      assert.equal(members.status(), 403);
      await page.getByRole('heading', { name: 'Access denied' }).waitFor();
      await page.getByText('Requires the Operator role or higher').waitFor();
      const other = await go(page, `${env.server.base}/admin/t/northwind`);
      assert.equal(other.status(), 404);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      const system = await go(page, `${env.server.base}/system`);
      assert.equal(system.status(), 404);
      await context.close();
    });
  });
}
