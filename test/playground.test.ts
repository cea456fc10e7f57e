// The flow playground (web/playground.html, issue 23) end to end in Debian's Chromium (playwright-core), served by
// `nice-flow studio` at /playground: every control driven as a person would (data choice, drawing points,
// play/pause/step/reset, the law switch, hovering a point, a link reproducing the page, export then import, bad
// files), the page's numbers checked against the library in Node on the same points, and `nice-flow eval` on the
// exported weights and a 2-D .npy of the held-out points agreeing with the page. Any page or console error fails the
// test. No assertion is about time: waits only wait for a state.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { skipWithoutChromium } from './systemPackages.js';
import { buildWeb, cli, launchChromium, startStudio, type Studio } from '../scripts/studio-harness.js';
import { configFromSettings, createRefBackend, deserializeModel, evaluate, NiceModel, readNpyF32, Rng, sampleToy, serializeModel, toyTrueLogLikelihood } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-playground-'));
/** The held-out points' seed offset (web/src/playground/protocol.ts). */
const HELD_OUT_SEED_OFFSET = 1_000_000;

let browser: Browser;
let studio: Studio;

interface Opened {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

async function open(query: string): Promise<Opened> {
  const context = await browser.newContext({ viewport: { width: 1500, height: 1100 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${studio.url}playground${query}`);
  await page.waitForSelector('.pg-app[data-ready=true]', { timeout: 60_000 });
  return { context, page, errors };
}

const attr = async (page: Page, id: string, name: string): Promise<string> => (await page.getByTestId(id).getAttribute(name)) ?? '';
const text = async (page: Page, id: string): Promise<string> => (await page.getByTestId(id).textContent()) ?? '';
const stepOf = async (page: Page): Promise<number> => Number(await attr(page, 'pg-step-count', 'data-value'));

async function waitFor(what: string, check: () => Promise<boolean>, timeout = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeout) throw new Error(`waited ${timeout / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the page shows a held-out number measured on the weights of the step it shows, while paused. */
/**
 * Waits until the page is paused and shows the held-out number of its current step; with `notModel`, of a model other
 * than that one (an import, a reset: the number on show until the new model's arrives is the old one's).
 */
async function waitSettled(page: Page, notModel?: string): Promise<{ step: number; logLik: number }> {
  await waitFor('a paused page with a fresh held-out number', async () => {
    if (!(await page.getByTestId('pg-pause').isDisabled())) return false;
    if (notModel !== undefined && (await attr(page, 'pg-loglik', 'data-model')) === notModel) return false;
    const v = await attr(page, 'pg-loglik', 'data-value');
    return v !== '' && (await attr(page, 'pg-loglik', 'data-step')) === String(await stepOf(page));
  });
  return { step: await stepOf(page), logLik: Number(await attr(page, 'pg-loglik', 'data-value')) };
}

async function download(page: Page, testid: string, path: string): Promise<Buffer> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
  await dl.saveAs(path);
  return readFileSync(path);
}

async function waitForMessage(page: Page, pattern: RegExp, level: 'info' | 'error'): Promise<string> {
  await waitFor(`a ${level} message matching ${pattern}`, async () => pattern.test(await text(page, 'pg-message')) && (await attr(page, 'pg-message', 'data-level')) === level);
  const m = await text(page, 'pg-message');
  assert.ok(!m.includes('\n'), `one line: ${m}`);
  return m;
}

describe('flow playground', { skip: skipWithoutChromium() }, () => {
  before(async () => {
    buildWeb();
    studio = await startStudio();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await studio?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is served at /playground and linked from the studio', async () => {
    const res = await fetch(`${studio.url}playground`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>nice-flow playground<\/title>/);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(studio.url);
    assert.equal(await page.getByTestId('playground-link').getAttribute('href'), 'playground.html');
    await context.close();
  });

  it('drives every control; its numbers agree with the library and the CLI', async () => {
    const seed = 3;
    const { context, page, errors } = await open(`?data=gaussian&seed=${seed}`);
    try {
      // The data and the truth: the same points as the library draws in Node with the same seed.
      const heldOutPoints = sampleToy('gaussian', 10_000, new Rng(seed + HELD_OUT_SEED_OFFSET));
      const truth = toyTrueLogLikelihood('gaussian', heldOutPoints)!;
      await waitFor('the true log-likelihood', async () => (await attr(page, 'pg-true-loglik', 'data-value')) !== '');
      assert.ok(Math.abs(Number(await attr(page, 'pg-true-loglik', 'data-value')) - truth) < 1e-9);
      assert.equal(await page.getByTestId('pg-dataset').inputValue(), 'gaussian');
      assert.equal(await page.getByTestId('pg-law').inputValue(), 'affine');
      const couplings = Number(await page.getByTestId('pg-couplings').inputValue());
      // One canvas per layer view: the data, each coupling, the scaling (the latent).
      await waitFor('the layer views', async () => (await page.getByTestId('pg-layers').locator('canvas').count()) === couplings + 2);
      assert.equal(await page.getByTestId('pg-inverse').locator('canvas').count(), couplings + 2);

      // Step: single steps, each shown.
      await waitSettled(page);
      for (let i = 1; i <= 3; i++) {
        await page.getByTestId('pg-step').click();
        await waitFor(`step ${i}`, async () => (await stepOf(page)) === i);
      }
      // Play, then pause: it trains, reports its speed while running, and stops.
      await page.getByTestId('pg-play').click();
      await waitFor('training steps', async () => (await stepOf(page)) > 300);
      await waitFor('a steps-per-second figure', async () => Number(await attr(page, 'pg-steps-per-second', 'data-value')) > 0);
      await waitFor('a views-per-second figure', async () => Number(await attr(page, 'pg-fps', 'data-value')) > 0);
      await page.getByTestId('pg-pause').click();
      const settled = await waitSettled(page);
      await page.waitForTimeout(500);
      assert.equal(await stepOf(page), settled.step, 'paused: no more steps');

      // Export the model and the held-out points; the library in Node and `nice-flow eval` give the page's number.
      const modelPath = join(dir, 'gaussian.safetensors');
      const pointsPath = join(dir, 'gaussian-heldout.npy');
      const weights = await download(page, 'pg-export', modelPath);
      const npy = await download(page, 'pg-export-points', pointsPath);
      const { data: filePoints, shape } = readNpyF32(new Uint8Array(npy));
      assert.deepEqual(shape, [10_000, 2]);
      assert.deepEqual(Array.from(filePoints.subarray(0, 8)), Array.from(heldOutPoints.subarray(0, 8)));
      assert.ok(filePoints.every((v, i) => v === heldOutPoints[i]), 'the exported points are the seed\'s held-out points');
      const model = deserializeModel(new Uint8Array(weights), createRefBackend());
      assert.equal(model.config.dim, 2);
      assert.equal(model.config.data, 'continuous');
      const node = await evaluate(model, { values: heldOutPoints, count: 10_000, dim: 2 }, { rng: new Rng(0) });
      assert.ok(Math.abs(node.logLikelihood - settled.logLik) < 1e-4, `library in Node ${node.logLikelihood} vs page ${settled.logLik}`);
      const out = cli('eval', '--model', modelPath, '--data', pointsPath, '--split', 'test', '--json', '--quiet').trim().split('\n');
      const r = JSON.parse(out[out.length - 1]) as { logLikelihood: number; n: number; bitsPerDim: null };
      assert.equal(r.n, 10_000);
      assert.equal(r.bitsPerDim, null);
      assert.ok(Math.abs(r.logLikelihood - settled.logLik) < 1e-3, `nice-flow eval ${r.logLikelihood} vs page ${settled.logLik}`);

      // Hover: the point's path is marked and its log p split as in eq. (2); the split adds up to model.logProb.
      const density = page.getByTestId('pg-density');
      await density.hover({ position: { x: 116, y: 100 } });
      await waitFor('the hover decomposition', async () => (await attr(page, 'pg-hover', 'data-active')) === 'true');
      const total = Number(await attr(page, 'pg-hover', 'data-total'));
      const logProb = Number(await attr(page, 'pg-hover', 'data-logprob'));
      assert.ok(Number.isFinite(total) && Math.abs(total - logProb) < 1e-3, `Σ terms ${total} vs logProb ${logProb}`);
      await page.mouse.move(5, 5);
      await waitFor('the hover to end', async () => (await attr(page, 'pg-hover', 'data-active')) === 'false');

      // Reset: new weights from the seed, step 0.
      await page.getByTestId('pg-reset').click();
      await waitFor('step 0 after reset', async () => (await stepOf(page)) === 0);

      // The law switch: additive couplings have log|det| exactly 0; only the scaling has one.
      await page.getByTestId('pg-law').selectOption('additive');
      await waitFor('the additive note', async () => /determinant is 1/.test(await text(page, 'pg-law-note')));
      assert.match(page.url(), /law=additive/);
      await page.getByTestId('pg-step').click();
      await waitSettled(page);
      const rows = page.getByTestId('pg-logdet-row');
      await waitFor('the log-det table', async () => (await rows.count()) === couplings + 1);
      // The table is redrawn from the next frame of the new model: wait for it rather than read the old one's.
      const logDets = async (): Promise<string[]> => Promise.all(Array.from({ length: couplings }, async (_, k) => ((await rows.nth(k).locator('td.num').textContent()) ?? '').trim()));
      await waitFor('every additive coupling\'s log|det| to read 0.000', async () => (await logDets()).every((v) => v === '0.000'))
        .catch(async (e: unknown) => assert.fail(`${String(e)}: the couplings show ${(await logDets()).join(', ')}`));
      assert.equal((await rows.nth(couplings).locator('td').first().textContent())?.trim(), 'scaling → h');
      await page.getByTestId('pg-law').selectOption('affine');
      await waitFor('the affine note', async () => /Affine/.test(await text(page, 'pg-law-note')));

      // Import: the exported file comes back (model settings shown), a bad file gets one line and the page goes on.
      await page.getByTestId('pg-couplings').selectOption('4');
      await waitFor('4 couplings', async () => (await page.getByTestId('pg-layers').locator('canvas').count()) === 6);
      const modelBefore = await attr(page, 'pg-loglik', 'data-model');
      await page.getByTestId('pg-import').setInputFiles(modelPath);
      await waitForMessage(page, /^loaded gaussian\.safetensors/, 'info');
      assert.equal(await page.getByTestId('pg-couplings').inputValue(), String(couplings));
      const imported = await waitSettled(page, modelBefore);
      assert.ok(Math.abs(imported.logLik - settled.logLik) < 1e-6, `imported ${imported.logLik} vs exported ${settled.logLik}`);
      const junk = join(dir, 'junk.safetensors');
      writeFileSync(junk, Buffer.from('this is not a weight file at all'));
      await page.getByTestId('pg-import').setInputFiles(junk);
      await waitForMessage(page, /junk\.safetensors/, 'error');
      const wide = join(dir, 'wide.safetensors');
      const m4 = new NiceModel(createRefBackend(), configFromSettings({ dim: 4 }, { couplings: 2, hidden: 8, depth: 1 }, undefined, [0, 1]));
      m4.init(new Rng(1));
      writeFileSync(wide, serializeModel(m4));
      await page.getByTestId('pg-import').setInputFiles(wide);
      await waitForMessage(page, /4 values per example/, 'error');
      const before = await stepOf(page);
      await page.getByTestId('pg-step').click();
      await waitFor('a step after the bad files', async () => (await stepOf(page)) === before + 1);

      // Every data set: the true value where the density is known, "unknown" elsewhere; the address follows.
      for (const [name, known] of [['moons', false], ['rings', true], ['8gaussians', true], ['checkerboard', true], ['spiral', false], ['pinwheel', false]] as const) {
        await page.getByTestId('pg-dataset').selectOption(name);
        await waitFor(`${name} in the address`, async () => page.url().includes(`data=${name}`));
        if (known) {
          const t = toyTrueLogLikelihood(name, sampleToy(name, 10_000, new Rng(seed + HELD_OUT_SEED_OFFSET)))!;
          await waitFor(`${name}'s true value`, async () => Math.abs(Number(await attr(page, 'pg-true-loglik', 'data-value')) - t) < 1e-9);
        } else {
          await waitFor(`${name}: no true value`, async () => (await text(page, 'pg-true-loglik')) === 'unknown');
          assert.equal(await page.getByTestId('pg-noise').count(), 1, `${name} has a noise control`);
        }
      }
      // The noise slider, released at 0.3 (a range input's change event).
      await page.getByTestId('pg-noise').evaluate((el) => {
        const input = el as unknown as { value: string; dispatchEvent(e: unknown): boolean };
        input.value = '0.3';
        input.dispatchEvent(new (globalThis as unknown as { Event: new (t: string, o: object) => unknown }).Event('change', { bubbles: true }));
      });
      await waitFor('the noise in the address', async () => page.url().includes('noise=0.3'));

      // Drawn points: too few gets one line; a stroke makes data the model trains on.
      await page.getByTestId('pg-dataset').selectOption('drawn');
      await waitForMessage(page, /draw at least \d+ points/, 'error');
      const pad = await page.getByTestId('pg-draw').boundingBox();
      assert.ok(pad);
      await page.mouse.move(pad.x + 40, pad.y + 60);
      await page.mouse.down();
      for (let i = 0; i <= 40; i++) await page.mouse.move(pad.x + 40 + i * 4, pad.y + 60 + 50 * Math.sin(i / 6), { steps: 2 });
      await page.mouse.up();
      await waitFor('enough drawn points', async () => Number(/\d+/.exec(await text(page, 'pg-drawn-count'))![0]) >= 20);
      await waitFor('a model of the drawing', async () => (await attr(page, 'pg-loglik', 'data-value')) !== '');
      assert.match(page.url(), /pts=/);
      await page.getByTestId('pg-play').click();
      await waitFor('training on the drawing', async () => (await stepOf(page)) > 50);
      await page.getByTestId('pg-pause').click();
      const drawnState = await waitSettled(page);
      const drawnCount = await text(page, 'pg-drawn-count');

      // A link reproduces the page: the same data (the drawn points too), model and seed; the same numbers at step 0.
      await page.getByTestId('pg-reset').click();
      await waitFor('step 0', async () => (await stepOf(page)) === 0);
      const step0 = await waitSettled(page);
      const link = page.url();
      const copy = await open(new URL(link).search);
      try {
        for (const id of ['pg-dataset', 'pg-law', 'pg-couplings', 'pg-hidden', 'pg-depth', 'pg-prior', 'pg-lr', 'pg-batch', 'pg-seed']) {
          assert.equal(await copy.page.getByTestId(id).inputValue(), await page.getByTestId(id).inputValue(), id);
        }
        assert.equal(await text(copy.page, 'pg-drawn-count'), drawnCount);
        const again = await waitSettled(copy.page);
        assert.equal(again.step, 0);
        assert.ok(Math.abs(again.logLik - step0.logLik) < 1e-6, `link: ${again.logLik} vs ${step0.logLik}`);
        assert.deepEqual(copy.errors, []);
      } finally {
        await copy.context.close();
      }
      assert.ok(drawnState.step > 0);
      await page.getByTestId('pg-draw-clear').click();
      await waitForMessage(page, /draw at least/, 'error');
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
