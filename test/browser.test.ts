// The wasm backend in a real browser: Debian's Chromium, driven by playwright-core, loads a page served with
// (and without) cross-origin isolation. In a Worker, createWasmBackendBrowser({ threads: 2 }) must match the
// reference kernels (test/browser/worker.ts); on the page itself the two user errors must read right.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, skipWithoutChromium } from './systemPackages.js';
import { CONV_SHAPES, type MainThreadResult, type WorkerReport } from './browser/report.js';


// The tolerances of test/kernelSpec.ts: |actual − expected| ≤ tol · (1 + |expected|).
const gemmTolerance = (K: number): number => 2e-5 * Math.sqrt(K);
const ADAM_TOLERANCE = 1e-5;
// Two Adam steps (lr 1e-3) after float32 gradients summed in another order: measured ~3e-8 in Chromium 156.
const TRAINING_TOLERANCE = 1e-5;

const PAGE = '<!doctype html><meta charset="utf-8"><title>nice-flow in a browser</title><link rel="icon" href="data:,"><script src="page.js"></script>\n';

/** Bundles the two fixtures for the browser, in memory: file name → code. */
async function bundle(): Promise<Map<string, string>> {
  const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
  const result = await build({
    entryPoints: { page: here('./browser/page.ts'), worker: here('./browser/worker.ts') },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser', // a Node-only import anywhere under src/ fails the build
    target: 'es2022',
    outdir: '/bundle',
    logLevel: 'silent',
  });
  return new Map(result.outputFiles.map((f) => [basename(f.path), f.text]));
}

/**
 * Serves the page and the bundles twice: under /isolated/ with the headers that make a page cross-origin
 * isolated (so it may share memory), under /plain/ without them.
 */
function serve(files: Map<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const m = /^\/(isolated|plain)\/([\w.]*)$/.exec(req.url ?? '');
    const name = m?.[2] || 'index.html';
    const body = name === 'index.html' ? PAGE : files.get(name);
    if (!m || body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = { 'Content-Type': name.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' };
    if (m[1] === 'isolated') {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    res.writeHead(200, headers).end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

interface PageApi {
  mainThread(threads: number): Promise<MainThreadResult>;
  inWorker(): Promise<WorkerReport>;
}

describe('wasm backend in Chromium (createWasmBackendBrowser)', { skip: skipWithoutChromium() }, () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let origin = '';
  const pageErrors: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); .ci/run does this on CI`);
    const files = await bundle();
    assert.ok(files.has('page.js') && files.has('worker.js'));
    server = await serve(files);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Playwright passes --no-sandbox itself unless chromiumSandbox is set; it is repeated here because Chromium
    // refuses to start as root with its sandbox on (CI runs as root).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, { timeout: 30_000 });

  after(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  const open = async (path: string): Promise<Page> => {
    pageErrors.length = 0;
    const page = await browser!.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`${path}: console: ${msg.text()}`);
    });
    await page.goto(`${origin}${path}`);
    return page;
  };
  const api = (page: Page) => ({
    mainThread: (threads: number) => page.evaluate((t) => (globalThis as unknown as { niceFlowTest: PageApi }).niceFlowTest.mainThread(t), threads),
    inWorker: () => page.evaluate(() => (globalThis as unknown as { niceFlowTest: PageApi }).niceFlowTest.inWorker()),
  });

  it('in a Worker with 2 threads, gemm (every transpose, accumulate, parallel sizes), Adam, the direct convolutions, the scale-shift law kernels and a training step match the reference', { timeout: 60_000 }, async (t) => {
    const page = await open('/isolated/');
    const report = await api(page).inWorker();
    await page.close();
    assert.equal(report.crossOriginIsolated, true, 'the /isolated/ page should be cross-origin isolated');
    assert.equal(report.threads, 2, 'createWasmBackendBrowser({ threads: 2 }) should start one kernel worker');
    assert.equal(report.workersTerminated, 1, 'dispose() should terminate the kernel worker');
    assert.equal(report.relaxedSimd, true, 'Chromium has relaxed SIMD: the FMA kernels should be the ones tested');
    assert.equal(report.cases.length, 5 * 8 + 3 + CONV_SHAPES.length * 4 + 4);
    assert.equal(report.cases.filter((c) => c.name.startsWith('scaleShift ')).length, 4, 'the scale-shift law kernels, forward and inverse, two shapes');
    assert.equal(report.cases.filter((c) => c.name.startsWith('conv ')).length, CONV_SHAPES.length * 4, 'forward (with and without ReLU), backwardData and backwardWeights of each convolution');
    for (const c of report.cases) {
      const tol = c.K > 0 ? gemmTolerance(c.K) : ADAM_TOLERANCE;
      assert.ok(c.error <= tol, `${c.name}: scaled error ${c.error} > ${tol}`);
    }
    const tr = report.training;
    assert.ok(tr.paramCount > 65536);
    assert.ok(tr.lossError <= 1e-5, `training losses differ from the ref backend's: scaled error ${tr.lossError}`);
    assert.ok(tr.paramError <= TRAINING_TOLERANCE, `parameters after 2 steps differ from the ref backend's: scaled error ${tr.paramError}`);
    const worst = Math.max(...report.cases.map((c) => c.error / (c.K > 0 ? gemmTolerance(c.K) : ADAM_TOLERANCE)));
    t.diagnostic(`threads ${report.threads}, relaxed SIMD ${report.relaxedSimd}, worst kernel error ${worst.toFixed(3)} of its tolerance, training: loss ${tr.lossError.toExponential(1)}, parameters ${tr.paramError.toExponential(1)}; ${report.milliseconds} ms in the browser`);
    assert.deepEqual(pageErrors, []);
  });

  it('on the main thread: threads: 2 is refused (run it in a Worker, or threads: 1), threads: 1 works', { timeout: 30_000 }, async () => {
    const page = await open('/isolated/');
    const two = await api(page).mainThread(2);
    const one = await api(page).mainThread(1);
    await page.close();
    assert.equal(two.error?.name, 'NiceFlowError');
    assert.equal(
      two.error?.message,
      "the wasm backend with 2 threads cannot run on a page's main thread, where Atomics.wait is not allowed: create it inside a Worker, or pass threads: 1",
    );
    assert.equal(one.error, null);
    assert.ok(one.gemmError! <= gemmTolerance(7), `threads: 1 on the main thread: gemm scaled error ${one.gemmError}`);
    assert.deepEqual(pageErrors, []);
  });

  it('without COOP/COEP headers the backend is refused with a message naming both', { timeout: 30_000 }, async () => {
    const page = await open('/plain/');
    const isolated = await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated);
    const one = await api(page).mainThread(1);
    await page.close();
    assert.equal(isolated, false);
    assert.equal(one.error?.name, 'NiceFlowError');
    assert.equal(
      one.error?.message,
      'the wasm backend needs shared memory, which browsers allow only on cross-origin isolated pages: serve the page with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp',
    );
    assert.deepEqual(pageErrors, []);
  });
});
