// Writes docs/playground.png: the flow playground as a first-time visitor sees it after pressing Play and watching
// 20 s of training on two moons (the page's defaults), in Debian's Chromium, served by `nice-flow studio`.
//
//   node --import tsx scripts/screenshot-playground.ts [--no-build] [--seconds 20] [--out docs/playground.png]
import { join } from 'node:path';
import { buildWeb, launchChromium, root, startStudio } from './studio-harness.js';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(value('--seconds') ?? 20);
const out = value('--out') ?? join(root, 'docs', 'playground.png');

if (!args.includes('--no-build')) buildWeb();
const studio = await startStudio();
const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${studio.url}playground`);
  await page.waitForSelector('.pg-app[data-ready=true]', { timeout: 60_000 });
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(a: string): string | null } | null } }).document
    .querySelector('[data-testid=pg-loglik]')?.getAttribute('data-value') !== '');
  await page.getByTestId('pg-play').click();
  await page.waitForTimeout(seconds * 1000);
  // Hover a point on the density map, so the picture shows a path through the layers and its eq. (2) split.
  await page.getByTestId('pg-density').hover({ position: { x: 70, y: 110 } });
  await page.waitForTimeout(400);
  await page.screenshot({ path: out, fullPage: true });
  const step = await page.getByTestId('pg-step-count').textContent();
  const sps = await page.getByTestId('pg-steps-per-second').textContent();
  console.log(`wrote ${out}: step ${step}, ${sps} steps/s`);
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
  await studio.stop();
}
