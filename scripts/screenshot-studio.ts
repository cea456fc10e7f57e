// Takes docs/studio.png: the studio served by `nice-flow studio` with a model trained by the CLI, every panel in
// use (a short run trained in the page, samples, a completion, an interpolation, a latent moved), in Debian's
// Chromium. The same setup as test/studio.test.ts (scripts/studio-harness.ts).
//
//   node --import tsx scripts/screenshot-studio.ts [--model runs/x/model.safetensors] [--out docs/studio.png]
//
// Without --model it first trains the small model for a few epochs with the CLI into runs/studio-screenshot/ (a few
// minutes; kept, so the next run reuses it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { buildWeb, launchChromium, openStudio, root, startStudio, trainModel } from './studio-harness.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string', default: join(root, 'docs/studio.png') } } });

async function until(page: Page, test: () => Promise<boolean>, what: string, timeout = 300_000): Promise<void> {
  const t0 = Date.now();
  while (!(await test())) {
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(200);
  }
}

buildWeb();
let model = values.model;
if (!model) {
  const out = join(root, 'runs/studio-screenshot');
  model = join(out, 'model.safetensors');
  if (!existsSync(model)) {
    process.stderr.write(`training the small model for the screenshot into ${out} (a few minutes)…\n`);
    trainModel(out, ['--hidden', '256', '--depth', '3', '--scale-init', 'data', '--epochs', '8']);
  }
}
const studio = await startStudio(['--model', model]);
const browser = await launchChromium();
try {
  const { page, errors } = await openStudio(browser, studio.url, { viewport: { width: 1440, height: 960 } });
  const text = async (id: string): Promise<string> => (await page.getByTestId(id).textContent()) ?? '';
  await until(page, async () => /nats/.test(await text('model-eval')), 'the test log-likelihood');

  // A short run in the page: a few epochs on 10,000 images, so the chart and the epoch grid have something to show.
  await page.locator('details.advanced summary').click();
  await page.getByTestId('train-limit').fill('10000');
  await page.getByTestId('train-valid-limit').fill('2000');
  await page.getByTestId('train-epochs').fill('4');
  await page.locator('details.advanced summary').click();
  await page.getByTestId('train-start').click();
  await until(page, async () => (await page.getByTestId('train-status').getAttribute('data-phase')) === 'done', 'the run in the page');
  // The panels go back to the file's model, trained longer by the CLI.
  await page.getByTestId('use-file').click();
  await until(page, async () => /nats/.test(await text('model-eval')), 'the test log-likelihood');

  await page.getByTestId('temperature').fill('0.75');
  await page.getByTestId('temperature').dispatchEvent('change');
  await page.waitForTimeout(800);
  await page.getByTestId('sample-grid').click({ position: { x: 40, y: 40 } });
  await until(page, async () => /^sample/.test(await page.locator('.latent-images figcaption').first().textContent() ?? ''), 'the sample in the latent editor');
  await page.waitForTimeout(500);
  await page.getByTestId('latent-slider-0').fill('3');
  await page.getByTestId('latent-slider-1').fill('-2.5');

  await page.getByTestId('draw-test-digit').click();
  await page.waitForTimeout(500);
  await page.getByTestId('mask-select').selectOption('bottom-half');
  await page.getByTestId('inpaint-button').click();
  await until(page, async () => /^done/.test(await text('inpaint-status')), 'the completion');

  await page.getByTestId('interp-a-index').fill('3');
  await page.getByTestId('interp-a-index').dispatchEvent('change');
  await page.getByTestId('interp-a-test').click();
  await page.getByTestId('interp-b-index').fill('2');
  await page.getByTestId('interp-b-index').dispatchEvent('change');
  await page.getByTestId('interp-b-test').click();
  await page.getByTestId('interpolate-button').click();
  await page.waitForSelector('[data-testid=interpolate-button]:not([disabled])');
  await page.getByTestId('interpolate-t').fill('14');
  await page.mouse.move(0, 0);
  await page.waitForTimeout(1000);
  await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
  await page.screenshot({ path: values.out!, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  process.stdout.write(`wrote ${values.out}\n`);
} finally {
  await browser.close();
  await studio.stop();
}
