// Pipelines in the browser, with JavaScript on (live console by push/polling) and off (plain
// forms and reloads): build a two-step pipeline in the steps editor, run it and watch its console
// fill in, and stop a long one after its current step.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn as signInWith, untilShown, visit } from './harness.mjs';

const env = serverAndBrowser();

for (const javaScriptEnabled of [true, false]) {
  describe(`with JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    const mode = javaScriptEnabled ? 'js' : 'html';
    const open = async () => {
      const context = await env.browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      await signInWith(page, env.server, 'owner@demo.test', javaScriptEnabled);
      return { context, page };
    };
    const until = (page, locator, timeout) => untilShown(page, locator, javaScriptEnabled, timeout ?? 30_000);
    const create = async (page, name) => {
      await page.getByRole('link', { name: 'Pipelines' }).click();
      await page.waitForURL(`${env.server.base}/admin/pipelines`);
      if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
      await page.fill('input[name=name]', name);
      await page.getByRole('button', { name: 'Create and add steps' }).click();
      await page.waitForURL(/\/admin\/pipelines\/\d+$/);
      if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
    };
    /// Fills the editor's blank row (row `n`) with a step and saves.
    const addStep = async (page, n, name, kind, params) => {
      await page.fill(`input[name="steps[${n}][name]"]`, name);
      await page.selectOption(`select[name="steps[${n}][kind]"]`, kind);
      await page.fill(`textarea[name="steps[${n}][params]"]`, JSON.stringify(params));
      await page.getByRole('button', { name: 'Save pipeline' }).click();
      // The saved step's row comes back, and a new blank row after it.
      await page.locator(`input[name="steps[${n + 1}][name]"]`).waitFor();
      assert.equal(await page.inputValue(`input[name="steps[${n}][name]"]`), name);
    };

    test('build a two-step pipeline, run it, watch the console fill in', async () => {
      const { context, page } = await open();
      await create(page, `Two steps (${mode})`);
      await addStep(page, 0, 'Short nap', 'wait', { seconds: 1 });
      await addStep(page, 1, 'Capture', 'backup_set.capture', { tenant: javaScriptEnabled ? 'contoso' : 'fabrikam' });

      // A bad step is refused with the field named, and nothing is lost.
      await page.fill('input[name="steps[2][name]"]', 'Broken');
      await page.fill('textarea[name="steps[2][params]"]', '{"seconds": "soon"}');
      await page.getByRole('button', { name: 'Save pipeline' }).click();
      await page.getByRole('alert').filter({ hasText: 'steps[2].params' }).waitFor();
      if (!javaScriptEnabled) await page.goto(page.url().split('?')[0]);
      assert.equal(await page.locator('select[name="steps[2][kind]"]').count(), 1);
      assert.equal(await page.inputValue('input[name="steps[1][name]"]'), 'Capture');

      const console = page.locator('ol.console li');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await until(page, console.filter({ hasText: 'Step 1 of 2: Short nap (wait)' }));
      await until(page, console.filter({ hasText: 'Step 2 succeeded.' }));
      assert.ok((await console.count()) >= 5, 'each step writes its lines');
      await until(page, page.locator('.badge', { hasText: 'Succeeded' }));
      const lines = await console.allInnerTexts();
      assert.ok(lines.findIndex((line) => line.includes('Step 1 of 2')) < lines.findIndex((line) => line.includes('Step 2 of 2')),
        'oldest line first');
      await context.close();
    });

    if (javaScriptEnabled) {
      test('the live page waits while someone types in it, then catches up', async () => {
        const { context, page } = await open();
        await create(page, `Typing (${mode})`);
        await addStep(page, 0, 'Nap', 'wait', { seconds: 3 });
        await page.getByRole('button', { name: 'Run', exact: true }).click();
        await page.waitForSelector('body[data-hydrated]');
        await page.locator('ol.console li', { hasText: 'Step 1 of 1: Nap (wait)' }).waitFor();
        // The page changes every second while it runs; what is being typed stays.
        const draft = page.locator('input[name="steps[1][name]"]');
        await draft.fill('Half typed');
        await page.waitForTimeout(4_000);
        assert.equal(await draft.inputValue(), 'Half typed');
        assert.equal(await page.locator('ol.console li', { hasText: 'Step 1 succeeded.' }).count(), 0, 'held back');
        // Once the field is left, the page catches up.
        await page.locator('h1').click();
        await page.locator('ol.console li', { hasText: 'Step 1 succeeded.' }).waitFor({ timeout: 10_000 });
        await context.close();
      });
    }

    test('stop a long pipeline: the current step finishes, the rest are skipped', async () => {
      const { context, page } = await open();
      await create(page, `Long (${mode})`);
      await addStep(page, 0, "First", "wait", { seconds: 5 });
      await addStep(page, 1, 'Very long', 'wait', { seconds: 600 });
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await until(page, page.locator('ol.console li', { hasText: 'Step 1 of 2: First (wait)' }));
      await page.getByRole('button', { name: 'Stop' }).click();
      await until(page, page.locator('h1 .badge', { hasText: 'Stopped' }));
      await until(page, page.locator('.badge', { hasText: 'Cancelled' }));
      const text = await page.locator('ol.console').innerText();
      assert.match(text, /Step 1 succeeded\./);
      assert.doesNotMatch(text, /Step 2 of 2/, 'the long step never started');
      await context.close();
    });
  });
}
