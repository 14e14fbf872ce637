// Schedules in the browser, with JavaScript on and off: on the Schedules page, a Site Admin
// schedules a nightly capture of every tenant of the workspace (spread over two hours), reads its
// next five fire times on its own clock and on theirs (their account's time zone), runs it now and
// follows the run, pauses, resumes and deletes it; a pipeline's page schedules the pipeline.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn as signInWith, untilShown, visit } from './harness.mjs';

const env = serverAndBrowser();

for (const javaScriptEnabled of [true, false]) {
  describe(`with JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    const mode = javaScriptEnabled ? 'js' : 'html';
    const go = (page, url) => visit(page, url, javaScriptEnabled);
    const until = (page, locator, timeout) => untilShown(page, locator, javaScriptEnabled, timeout ?? 30_000);
    const open = async () => {
      const context = await env.browser.newContext({ javaScriptEnabled, timezoneId: 'UTC' });
      const page = await context.newPage();
      await signInWith(page, env.server, 'owner@demo.test', javaScriptEnabled);
      return { context, page };
    };

    test('schedule every tenant of the workspace nightly, read its fire times, run it now, pause and delete it', async () => {
      const { context, page } = await open();
      // Times show in the account's time zone once it names one.
      await go(page, `${env.server.base}/admin/account`);
      await page.selectOption('select[name=time_zone]', 'Asia/Tokyo');
      await page.getByRole('button', { name: 'Save' }).click();
      await until(page, page.getByText('Times show in Asia/Tokyo'));

      await page.getByRole('link', { name: 'Schedules' }).click();
      await page.waitForURL(`${env.server.base}/admin/schedules`);
      if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
      const name = `Nightly everything (${mode})`;
      const section = page.locator('section.schedules');
      await section.getByText('New schedule…').click();
      await section.locator('select[name=target]').selectOption({ label: 'Capture of every tenant of Demo' });
      await section.locator('input[name=name]').fill(name);
      await section.locator('input[name=time_zone]').fill('Europe/Berlin');
      await section.locator('input[name=jitter_minutes]').fill('120');
      await section.getByRole('button', { name: 'Create schedule' }).click();
      const row = section.locator('tr', { hasText: name });
      await until(page, row);
      assert.match(await row.innerText(), /Capture of every tenant of Demo/);
      assert.match(await row.innerText(), /0 2 \* \* \*\s+Europe\/Berlin · spread over 120 min/);

      // Five fire times, each at 02:00 in Berlin and, for this viewer, 10:00 in Tokyo (both
      // zones keep their offset in winter: CET is UTC+1, JST UTC+9).
      const times = row.locator('ol.fire-times li');
      assert.equal(await times.count(), 5);
      for (const text of await times.allInnerTexts()) {
        assert.match(text, /^\w{3} \d{4}-\d{2}-\d{2} 02:00 CES?T · \w{3} \d{4}-\d{2}-\d{2} 10:00 JST$/);
      }

      // Run now: every tenant's capture starts at once; the first one's page follows it.
      await row.getByRole('button', { name: `Run ${name} now` }).click();
      await page.waitForURL(/\/admin\/monitoring\/runs\/\d+$/);
      await until(page, page.locator('h1 .badge[data-outcome=succeeded]'));
      assert.match(await page.locator('time').first().innerText(), /UTC\+9$/, "the run's times on the account's clock");

      await go(page, `${env.server.base}/admin/schedules`);
      await row.getByRole('button', { name: `Pause ${name}` }).click();
      await until(page, row.locator('.badge', { hasText: 'Paused' }));
      assert.equal(await row.locator('ol.fire-times').count(), 0, 'a paused schedule has no fire times');
      await row.getByRole('button', { name: `Resume ${name}` }).click();
      await until(page, row.locator('ol.fire-times'));
      await row.getByText(`Delete ${name}…`).click();
      await row.getByRole('button', { name: 'Confirm delete' }).click();
      // The demo's own "Nightly capture" stays; ours is gone.
      if (javaScriptEnabled) await row.waitFor({ state: 'detached' });
      await until(page, section.locator('tr', { hasText: 'Nightly capture' }));
      assert.equal(await row.count(), 0);

      await go(page, `${env.server.base}/admin/account`);
      await page.selectOption('select[name=time_zone]', '');
      await page.getByRole('button', { name: 'Save' }).click();
      await until(page, page.getByText('Times show in UTC'));
      await context.close();
    });

    test("a pipeline's page schedules the pipeline", async () => {
      const { context, page } = await open();
      await go(page, `${env.server.base}/admin/pipelines`);
      await page.fill('input[name=name]', `Scheduled (${mode})`);
      await page.getByRole('button', { name: 'Create and add steps' }).click();
      await page.waitForURL(/\/admin\/pipelines\/\d+$/);
      if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
      const section = page.locator('section.schedules');
      await until(page, section.getByText('No schedule yet'));
      await section.getByText('New schedule…').click();
      await section.locator('input[name=cron]').fill('30 6 * * 1-5');
      await section.getByRole('button', { name: 'Create schedule' }).click();
      const row = section.locator('tr', { hasText: 'Nightly run' });
      await until(page, row);
      assert.match(await row.innerText(), /30 6 \* \* 1-5\s+UTC/);
      for (const text of await row.locator('ol.fire-times li').allInnerTexts()) {
        assert.match(text, /^(Mon|Tue|Wed|Thu|Fri) \d{4}-\d{2}-\d{2} 06:30 UTC$/);
      }
      await row.getByText('Delete Nightly run…').click();
      await row.getByRole('button', { name: 'Confirm delete' }).click();
      await until(page, section.getByText('No schedule yet'));
      await context.close();
    });
  });
}
