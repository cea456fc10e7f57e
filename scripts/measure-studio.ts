// Measures the studio in Debian's Chromium and prints the figures (a script, not a timed test):
//   - the static build served with no isolation headers, cold cache (a fresh browser context): time from opening the
//     page to the first sample grid of each gallery model (`?model=name`), with its download size;
//   - time from opening the page to the first sample grid (with `nice-flow studio --model …`), small and paper model;
//   - sample-grid latency (64 samples, the button to the painted grid), median of 7;
//   - in-page training throughput (samples/s) for the small and the paper model, with 1 and 2 threads, beside the
//     library's `wasm` backend in Node (2 threads) on the same steps in the same run, and the time of the checkpoint a
//     pause writes to IndexedDB.
//
//   node --import tsx scripts/measure-studio.ts [--no-build] [--only training]
//
// The models are built by the CLI (one step: their weights do not matter for timing). Other work on the machine
// skews the numbers: the load average is printed with them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { createWasmBackendNode } from '../src/node/index.js';
import { configFromSettings, NiceModel, Rng, Trainer, UNIT_RANGE } from '../src/index.js';
import { loadSplit } from '../cli/data.js';
import { buildWeb, launchChromium, openStudio, serveStatic, startStudio, trainModel, WEB_DIR } from './studio-harness.js';

const { values } = parseArgs({ options: { 'no-build': { type: 'boolean', default: false }, only: { type: 'string' } } });
/** `--only training`: the training comparison alone (page against Node), without the gallery and sampling timings. */
const onlyTraining = values.only === 'training';
if (values.only !== undefined && !onlyTraining) throw new Error(`--only: the one part that runs alone is training, got ${values.only}`);
const dir = mkdtempSync(join(tmpdir(), 'nice-flow-measure-'));

const SIZES = {
  small: ['--hidden', '256', '--depth', '3'],
  paper: ['--hidden', '1000', '--depth', '5'],
} as const;
type Size = keyof typeof SIZES;

const samplesCount = (page: Page): Promise<number> =>
  page.evaluate(() => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.samples ?? 0));
const stepOf = async (page: Page): Promise<number> => Number(/step ([\d,]+)/.exec((await page.getByTestId('train-status').textContent()) ?? '')?.[1].replace(/,/g, '') ?? 0);

async function until(page: Page, test: () => Promise<boolean>, what: string, timeout = 600_000, every = 20): Promise<void> {
  const t0 = Date.now();
  while (!(await test())) {
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(every);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function sampling(browser: Browser, size: Size, model: string): Promise<{ first: number; latency: number }> {
  const studio = await startStudio(['--model', model]);
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(studio.url);
    await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 600_000 });
    const first = Date.now() - t0;
    // The test log-likelihood runs after loading: let it finish, so the latency is the grid's alone.
    await until(page, async () => /nats/.test((await page.getByTestId('model-eval').textContent()) ?? ''), 'the evaluation');
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const n = await samplesCount(page);
      const t = Date.now();
      await page.getByTestId('sample-button').click();
      await until(page, async () => (await samplesCount(page)) > n, 'a sample grid');
      await page.evaluate(() => new Promise((r) => (globalThis as unknown as { requestAnimationFrame(f: () => void): void }).requestAnimationFrame(() => r(null))));
      times.push(Date.now() - t);
    }
    await context.close();
    process.stderr.write(`  ${size}: first grid ${first} ms, latency ${median(times)} ms\n`);
    return { first, latency: median(times) };
  } finally {
    await studio.stop();
  }
}

/** The static build, no isolation headers, a fresh context (cold cache): open → first grid of a gallery model. */
async function galleryFirstGrid(browser: Browser, url: string, name: string): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  try {
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${url}?model=${encodeURIComponent(name)}`);
    await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 120_000 });
    const ms = Date.now() - t0;
    const shown = await page.locator(`[data-testid=gallery-entry][data-name="${name}"]`).getAttribute('aria-pressed');
    if (shown !== 'true') throw new Error(`the page did not open with ${name}`);
    return ms;
  } finally {
    await context.close();
  }
}

/** The library's `wasm` backend in Node, 2 threads, the same model and batch as the page: samples/s. */
async function nodeWasm(size: Size): Promise<number> {
  const backend = await createWasmBackendNode({ threads: 2 });
  try {
    const [hidden, depth] = size === 'small' ? [256, 3] : [1000, 5];
    const data = loadSplit('mnist', 'train', { validSize: 10000 });
    const config = configFromSettings(data, { couplings: 4, hidden, depth }, undefined, UNIT_RANGE);
    const model = new NiceModel(backend, config);
    model.init(new Rng(0));
    const trainer = new Trainer(model, data, { batchSize: 200 });
    const warm = size === 'small' ? 10 : 3;
    const steps = size === 'small' ? 200 : 20;
    for (let i = 0; i < warm; i++) trainer.trainStep();
    const t = performance.now();
    for (let i = 0; i < steps; i++) trainer.trainStep();
    const rate = (steps * 200) / ((performance.now() - t) / 1000);
    process.stderr.write(`  ${size}, wasm in Node, 2 threads: ${Math.round(rate)} samples/s\n`);
    return rate;
  } finally {
    backend.dispose();
  }
}

/**
 * The step the page shows next and the moment it appears. The page shows the step twice a second; reading it
 * often for a whole window takes CPU from the two cores the kernels run on (the harness's own polling cost the
 * paper's model a few percent), so the window is a plain wait between two short bursts of reading, each ending when the shown
 * step changes: both ends of the window are then known to ~10 ms.
 */
async function nextStep(page: Page): Promise<{ step: number; t: number }> {
  const s0 = await stepOf(page);
  for (;;) {
    const step = await stepOf(page);
    if (step !== s0) return { step, t: performance.now() };
    await page.waitForTimeout(10);
  }
}

interface PageTraining {
  /** Samples/s over the window: steady training, no validation, no checkpoint in it. */
  rate: number;
  /** Time of the checkpoint a pause writes (weights and Adam moments to IndexedDB), ms. */
  checkpointMs: number;
}

async function training(browser: Browser, url: string, size: Size, threads: number): Promise<PageTraining> {
  const { page, context } = await openStudio(browser, `${url}?threads=${threads}`);
  try {
    const badge = (await page.getByTestId('backend-info').textContent()) ?? '';
    if (!badge.includes(`${threads} thread`)) throw new Error(`asked for ${threads} threads, the page has ${badge}`);
    // The page evaluates the model it opens with (the gallery's first) on the test set, in the same Worker: training
    // started before that ends shares the Worker with it for its first seconds. Steady training is what is measured.
    await until(page, async () => /nats/.test((await page.getByTestId('model-eval').textContent()) ?? ''), 'the evaluation of the opening model');
    await page.getByTestId('train-size').selectOption(size);
    await page.getByTestId('train-start').click();
    // The window ends before the first epoch's end (250 steps) and before the first timed checkpoint (60 s).
    const warm = size === 'small' ? 10 : 3;
    const windowMs = size === 'small' ? 6000 : 15_000;
    await until(page, async () => (await stepOf(page)) >= warm, 'the first steps', undefined, 250);
    const a = await nextStep(page);
    await page.waitForTimeout(windowMs);
    const b = await nextStep(page);
    const t = performance.now();
    await page.getByTestId('train-pause').click();
    await until(page, async () => (await page.getByTestId('train-status').getAttribute('data-phase')) === 'paused', 'the pause', undefined, 10);
    const pauseMs = performance.now() - t;
    const status = (await page.getByTestId('train-status').textContent()) ?? '';
    if (!/checkpoint at step/.test(status)) throw new Error(`the pause kept no checkpoint: ${status}`);
    const rate = ((b.step - a.step) * 200) / ((b.t - a.t) / 1000);
    process.stderr.write(`  ${size}, ${threads} thread(s): ${Math.round(rate)} samples/s (steps ${a.step}–${b.step}); pause with checkpoint ${Math.round(pauseMs)} ms\n`);
    return { rate, checkpointMs: pauseMs };
  } finally {
    await context.close();
  }
}

if (!values['no-build']) buildWeb();
// The models the sampling timings open (built by the CLI; not needed for the training comparison alone).
const models: Record<Size, string> = onlyTraining ? { small: '', paper: '' } : {
  small: trainModel(join(dir, 'small'), [...SIZES.small, '--max-steps', '1', '--valid-limit', '200']),
  paper: trainModel(join(dir, 'paper'), [...SIZES.paper, '--max-steps', '1', '--valid-limit', '200']),
};
const browser = await launchChromium();
const load0 = loadavg()[0];
try {
  const firstGrid: string[] = [];
  const sample: Record<string, { first: number; latency: number }> = {};
  if (!onlyTraining) {
    process.stderr.write('gallery, static build without isolation headers, cold cache:\n');
    const site = await serveStatic(WEB_DIR);
    const gallery = (JSON.parse(readFileSync(join(WEB_DIR, 'studio.json'), 'utf8')) as { gallery: Array<{ name: string; bytes: number }> }).gallery;
    try {
      for (const g of gallery) {
        const ms = await galleryFirstGrid(browser, site.url, g.name);
        process.stderr.write(`  ${g.name}: ${ms} ms (${(g.bytes / 1e6).toFixed(1)} MB)\n`);
        firstGrid.push(`| ${g.name} | ${(g.bytes / 1e6).toFixed(1)} MB | ${ms} ms |`);
      }
    } finally {
      await site.close();
    }
    process.stderr.write('sampling:\n');
    for (const size of ['small', 'paper'] as const) sample[size] = await sampling(browser, size, models[size]);
  }
  process.stderr.write('training (batch 200, MNIST):\n');
  const studio = await startStudio();
  const train: Record<string, number> = {};
  const checkpointMs: Record<string, number> = {};
  try {
    for (const size of ['small', 'paper'] as const) {
      for (const threads of [1, 2]) {
        const r = await training(browser, studio.url, size, threads);
        train[`${size}/${threads}`] = r.rate;
        checkpointMs[`${size}/${threads}`] = r.checkpointMs;
      }
      train[`${size}/node`] = await nodeWasm(size);
    }
  } finally {
    await studio.stop();
  }
  const load1 = loadavg()[0];
  const ratio = (size: Size): number => Math.max(train[`${size}/1`], train[`${size}/2`]) / train[`${size}/node`];
  const lines = [
    `nice-flow studio in Chromium (${(await browser.version())}), ${availableParallelism()} cores; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`,
    '',
    ...(onlyTraining ? [] : [
      '| gallery model (static site, no isolation headers, cold cache) | download | page open → first sample grid |',
      '|---|---|---|',
      ...firstGrid,
      '',
    ]),
    '| | small (4 × 3 × 256) | paper (4 × 5 × 1000) |',
    '|---|---|---|',
    ...(onlyTraining ? [] : [
      `| page open → first sample grid (64) | ${sample.small.first} ms | ${sample.paper.first} ms |`,
      `| sample grid latency (64, median of 7) | ${sample.small.latency} ms | ${sample.paper.latency} ms |`,
    ]),
    `| training, 1 thread | ${Math.round(train['small/1'])} samples/s | ${Math.round(train['paper/1'])} samples/s |`,
    `| training, 2 threads | ${Math.round(train['small/2'])} samples/s | ${Math.round(train['paper/2'])} samples/s |`,
    `| training, \`wasm\` in Node, 2 threads | ${Math.round(train['small/node'])} samples/s | ${Math.round(train['paper/node'])} samples/s |`,
    `| page (best of 1 and 2 threads) ÷ Node | ${ratio('small').toFixed(2)} | ${ratio('paper').toFixed(2)} |`,
    `| a checkpoint in the page (pause → paused), 2 threads | ${Math.round(checkpointMs['small/2'])} ms | ${Math.round(checkpointMs['paper/2'])} ms |`,
    `| the same, with one checkpoint a minute counted in | ${(ratio('small') * (1 - checkpointMs['small/2'] / 60_000)).toFixed(2)} | ${(ratio('paper') * (1 - checkpointMs['paper/2'] / 60_000)).toFixed(2)} |`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
