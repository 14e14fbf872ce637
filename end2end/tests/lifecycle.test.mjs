// A tenant's lifecycle page in the browser, with JavaScript on (the job's progress shows by
// itself) and off (plain forms and reloads): disable, install again with sample policies from
// the provider simulator, a purge refused until the slug is typed, then the purge.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn as signInWith, untilShown, visit } from './harness.mjs';

const env = serverAndBrowser();

for (const javaScriptEnabled of [true, false]) {
  describe(`with JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    const go = (page, url) => visit(page, url, javaScriptEnabled);
    // Each pass works on a demo tenant of its own.
    const [slug, name] = javaScriptEnabled ? ['northwind', 'Northwind Traders'] : ['fabrikam', 'Fabrikam Inc'];
    const until = (page, locator, timeout) => untilShown(page, locator, javaScriptEnabled, timeout);
    const state = (page) => page.locator('h1 [data-state]');

    test('disable, install with sample policies, and purge a tenant', async () => {
      const context = await env.browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      await signInWith(page, env.server, 'admin@demo.test', javaScriptEnabled);
      await go(page, `${env.server.base}/system`);
      await page.getByRole('link', { name }).click();
      await page.waitForURL(`${env.server.base}/system/tenants/${slug}`);
      if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
      assert.equal(await state(page).textContent(), 'Enabled');
      assert.match(await page.locator('[data-module-version]').textContent(), /^mod-tenantpilot-\d+\.\d+\.\d+$/);

      await page.getByRole('button', { name: 'Disable' }).click();
      await page.getByRole('status').filter({ hasText: 'Tenant disabled' }).waitFor();
      await until(page, page.locator('h1 [data-state=Disabled]'));
      await page.getByRole('cell', { name: /Disabled tenant/ }).waitFor();
      // A disabled tenant's pages are gone for its members too.
      const member = await env.browser.newContext({ javaScriptEnabled });
      const owner = await member.newPage();
      await signInWith(owner, env.server, 'owner@demo.test', javaScriptEnabled);
      assert.equal((await owner.goto(`${env.server.base}/admin/t/${slug}`)).status(), 404);

      // Install again with sample policies: a background job the page follows to its end.
      const install = page.locator('form[data-action=install]');
      await install.getByLabel('Load sample policies').check();
      await install.getByRole('button', { name: /^Install mod-tenantpilot-/ }).click();
      await page.getByRole('status').filter({ hasText: 'Job started' }).waitFor();
      const installJob = page.locator('tr[data-job]').filter({ hasText: 'Install tenant' });
      await until(page, installJob.filter({ has: page.locator('[data-outcome=succeeded]') }));
      await installJob.getByText(/Loaded \d+ sample policies into backup set/).waitFor();
      await until(page, page.locator('h1 [data-state=Enabled]'));
      assert.equal((await owner.goto(`${env.server.base}/admin/t/${slug}`)).status(), 200);
      await member.close();

      // Purge: refused until the slug is typed, then nothing of the tenant is left.
      const purge = async (typed) => {
        const confirm = page.getByLabel("Type the tenant's slug to confirm");
        if (!(await confirm.isVisible())) await page.getByText('Purge…').click();
        await confirm.fill(typed);
        await page.getByRole('button', { name: 'Purge tenant' }).click();
      };
      await purge(`${slug}x`);
      await page.getByRole('alert').filter({ hasText: `Type the tenant's slug, ${slug}` }).waitFor();
      assert.equal(await state(page).textContent(), 'Enabled');
      await purge(slug);
      await until(page, page.locator('h1 [data-state=Purged]'));
      await page.getByText('This tenant was purged').waitFor();
      await page.getByRole('cell', { name: new RegExp(`Purged tenant ${slug}`) }).waitFor();
      await go(page, `${env.server.base}/system`);
      assert.equal(await page.getByRole('link', { name }).count(), 0);
      await context.close();
    });
  });
}
