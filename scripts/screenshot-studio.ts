// Takes docs/studio.png: the studio as a first visitor sees it. The static build (`dist/web`) served by a plain host
// with no special headers, opened in a fresh browser (Debian's Chromium): the gallery's first model loads by itself
// and the page draws its samples, evaluates it on the test set and decodes a line between two test digits unasked.
// Then, as a visitor's first clicks would: a sample sent to the latent editor, and a test digit half completed.
//
//   node --import tsx scripts/screenshot-studio.ts [--out docs/studio.png] [--no-build]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { buildWeb, launchChromium, openStudio, root, serveStatic, WEB_DIR } from './studio-harness.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'docs/studio.png') }, 'no-build': { type: 'boolean', default: false } } });

async function until(page: Page, test: () => Promise<boolean>, what: string, timeout = 300_000): Promise<void> {
  const t0 = Date.now();
  while (!(await test())) {
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(200);
  }
}

if (!values['no-build']) buildWeb();
const host = await serveStatic(WEB_DIR);
const browser = await launchChromium();
try {
  const { page, errors } = await openStudio(browser, host.url, { viewport: { width: 1440, height: 1000 } });
  const text = async (id: string): Promise<string> => (await page.getByTestId(id).textContent()) ?? '';
  // What the page does by itself.
  await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=interpolate-strip][data-filled=true]', { timeout: 60_000 });
  await until(page, async () => /nats/.test(await text('model-eval')), 'the test log-likelihood');
  // A visitor's first clicks.
  await page.getByTestId('sample-grid').click({ position: { x: 40, y: 40 } });
  await until(page, async () => /^sample/.test(await page.locator('.latent-images figcaption').first().textContent() ?? ''), 'the sample in the latent editor');
  await page.getByTestId('draw-test-digit').click();
  await page.waitForTimeout(500);
  await page.getByTestId('mask-select').selectOption('bottom-half');
  await page.getByTestId('inpaint-button').click();
  await until(page, async () => /^done/.test(await text('inpaint-status')), 'the completion');
  await page.mouse.move(0, 0);
  await page.waitForTimeout(1000);
  await page.screenshot({ path: values.out, fullPage: true });
  if (errors.length) throw new Error(`the page reported errors: ${errors.join('; ')}`);
  process.stderr.write(`wrote ${values.out}\n`);
} finally {
  await browser.close();
  await host.close();
}
