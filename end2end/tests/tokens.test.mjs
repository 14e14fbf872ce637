// Personal access tokens in the browser, with JavaScript on and off: create one, see its secret
// exactly once, use it from a script, revoke it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn as signInWith, visit } from './harness.mjs';

const env = serverAndBrowser();

for (const javaScriptEnabled of [true, false]) {
  describe(`with JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    test('create a token, see it once, use it, revoke it', async () => {
      const context = await env.browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      await signInWith(page, env.server, 'operator@demo.test', javaScriptEnabled);
      await page.getByRole('link', { name: 'API tokens' }).click();
      await page.waitForURL(`${env.server.base}/admin/tokens`);
      if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
      const name = `ci-${javaScriptEnabled ? 'js' : 'html'}`;
      await page.fill('input[name=name]', name);
      await page.getByLabel('Operations').check();
      await page.getByRole('button', { name: 'Create token' }).click();
      const secret = await page.locator('.fresh-token code.secret').innerText();
      assert.match(secret, /^tpat_[A-Za-z0-9]{40}$/);

      const call = () => fetch(`${env.server.base}/admin/monitoring/operations`, { headers: { Authorization: `Bearer ${secret}` } });
      assert.equal((await call()).status, 200, 'the token works for scripts');

      await visit(page, `${env.server.base}/admin/tokens`, javaScriptEnabled);
      assert.equal(await page.locator('.fresh-token').count(), 0, 'the secret is shown only once');
      const row = page.locator(`tr[data-token="${secret.slice(0, 13)}"]`);
      assert.match(await row.innerText(), new RegExp(`${name}[\\s\\S]*API Access, Operations[\\s\\S]*Active`));
      await row.getByText('Revoke…').click();
      await row.getByRole('button', { name: 'Confirm revoke' }).click();
      await page.locator(`tr[data-token="${secret.slice(0, 13)}"] td`, { hasText: 'Revoked' }).waitFor();
      assert.equal((await call()).status, 401, 'a revoked token is refused');
      await context.close();
    });
  });
}
