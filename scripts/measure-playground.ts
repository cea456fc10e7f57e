// Measures the flow playground in Debian's Chromium as a person would use it: for each data set, coupling law and
// number of couplings, open the page at a link with those settings (seed 1, the rest the defaults), press Play, and
// read the page's own numbers (held-out mean log-likelihood, true value, steps per second, view redraws per second)
// while it trains. Prints a Markdown table of the gap to the true value after 10, 20, 30 and 60 s of training, the
// first time the gap was under 0.1 nats, and the speeds; `--long` adds 3-minute runs of rings and the checkerboard
// with 8 and 16 affine couplings.
//
//   node --import tsx scripts/measure-playground.ts [--long] [--seconds 60] [--only 8gaussians,gaussian]
//
// The held-out number is recomputed every 2 s while training, so a checkpoint's value is at most 2 s old (the table
// gives the step it was measured at). Timings depend on the machine and on what else runs on it: the header says
// which CPU, how many cores and the load average when it started.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, normalize, sep } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, root } from './studio-harness.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SECONDS = Number(value('--seconds') ?? 60);
const ONLY = value('--only')?.split(',');

interface Run {
  data: string;
  law: 'affine' | 'additive';
  couplings: number;
  seconds: number;
  checkpoints: number[];
}

const SETS = ['8gaussians', 'gaussian', 'rings', 'checkerboard'].filter((d) => !ONLY || ONLY.includes(d));
const CHECKPOINTS = [...[10, 20, 30, 60].filter((c) => c < SECONDS), SECONDS];
const runs: Run[] = [];
for (const data of SETS) {
  for (const law of ['affine', 'additive'] as const) {
    for (const couplings of [8, 4]) runs.push({ data, law, couplings, seconds: SECONDS, checkpoints: CHECKPOINTS });
  }
}
if (flag('--long')) {
  for (const data of ['rings', 'checkerboard'].filter((d) => !ONLY || ONLY.includes(d))) {
    for (const couplings of [8, 16]) runs.push({ data, law: 'affine', couplings, seconds: 180, checkpoints: [30, 60, 120, 180] });
  }
}

const attr = async (page: Page, id: string, name: string): Promise<string> => (await page.getByTestId(id).getAttribute(name)) ?? '';

interface Result {
  run: Run;
  truth: number;
  /** Per checkpoint: the gap and the step of the weights it was measured on. */
  at: Array<{ gap: number; step: number } | null>;
  /** Seconds of training when the held-out gap was first under 0.1 nats. */
  under: number | null;
  stepsPerSecond: number;
  trainOnly: number;
  fps: number;
  steps: number;
}

async function measure(browser: Browser, url: string, run: Run): Promise<Result> {
  const context = await browser.newContext({ viewport: { width: 1640, height: 1200 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  try {
    await page.goto(`${url}playground?data=${run.data}&law=${run.law}&K=${run.couplings}&seed=1`);
    await page.waitForSelector('.pg-app[data-ready=true]', { timeout: 60_000 });
    for (;;) {
      if ((await attr(page, 'pg-loglik', 'data-value')) !== '' && (await attr(page, 'pg-true-loglik', 'data-value')) !== '') break;
      await page.waitForTimeout(100);
    }
    const truth = Number(await attr(page, 'pg-true-loglik', 'data-value'));
    await page.getByTestId('pg-play').click();
    const t0 = Date.now();
    const at: Result['at'] = run.checkpoints.map(() => null);
    let under: number | null = null;
    let lastStep = -1;
    const sps: number[] = [];
    const trainOnly: number[] = [];
    const fps: number[] = [];
    let next = 0;
    for (;;) {
      const t = (Date.now() - t0) / 1000;
      const v = await attr(page, 'pg-loglik', 'data-value');
      const step = Number(await attr(page, 'pg-loglik', 'data-step'));
      if (v !== '' && step !== lastStep) {
        lastStep = step;
        if (under === null && truth - Number(v) < 0.1 && step > 0) under = t;
      }
      if (t > 3) {
        sps.push(Number(await attr(page, 'pg-steps-per-second', 'data-value')));
        fps.push(Number(await attr(page, 'pg-fps', 'data-value')));
        trainOnly.push(Number(await attr(page, 'pg-steps-per-second', 'data-train-only')));
      }
      while (next < run.checkpoints.length && t >= run.checkpoints[next]) {
        at[next] = v === '' ? null : { gap: truth - Number(v), step };
        next++;
      }
      if (t >= run.seconds) break;
      await page.waitForTimeout(250);
    }
    const steps = Number(await attr(page, 'pg-step-count', 'data-value'));
    await page.getByTestId('pg-pause').click();
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    const mean = (a: number[]): number => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN);
    return { run, truth, at, under, stepsPerSecond: mean(sps), trainOnly: mean(trainOnly), fps: mean(fps), steps };
  } finally {
    await context.close();
  }
}

function cpuModel(): string {
  try {
    const m = /Model name:\s*(.+)/.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) return m[1].trim();
  } catch {
    // no lscpu
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

/**
 * The page is built into a folder of its own (a build of dist/web by anything else during the long run would
 * replace the files the page loads) and served with the cross-origin isolation headers `nice-flow studio` sends.
 */
function buildPrivate(): string {
  const out = mkdtempSync(join(tmpdir(), 'nice-flow-playground-web-'));
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: root, encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
  return out;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm' };

function serveIsolated(dir: string): Promise<{ url: string; close(): void }> {
  const base = normalize(dir + sep);
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const file = normalize(join(base, path === '/playground' ? 'playground.html' : path));
    if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[/\.[a-z]+$/.exec(file)?.[0] ?? ''] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    });
  });
}

const webDir = buildPrivate();
const studio = await serveIsolated(webDir);
const browser = await launchChromium();
const started = new Date();
const load = loadavg()
  .map((v) => v.toFixed(2))
  .join(', ');
const results: Result[] = [];
try {
  for (const run of runs) {
    const r = await measure(browser, studio.url, run);
    results.push(r);
    process.stderr.write(`${run.data} ${run.law} K=${run.couplings}: ${r.at.map((a) => (a ? a.gap.toFixed(3) : '—')).join(' ')}; under 0.1 at ${r.under ?? '—'} s; ${r.stepsPerSecond.toFixed(0)} steps/s, ${r.fps.toFixed(1)} views/s\n`);
  }
} finally {
  await browser.close();
  studio.close();
  rmSync(webDir, { recursive: true, force: true });
}

const loadEnd = loadavg()
  .map((v) => v.toFixed(2))
  .join(', ');
const fmt = (v: number): string => v.toFixed(3).replace('-', '−');
console.log(`Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`node --import tsx scripts/measure-playground.ts ${args.join(' ')}\`: ` +
  `Chromium ${browser.version()}, ${cpuModel()}, ${cpus().length} cores, load average ${load} at the start and ${loadEnd} at the end (other jobs shared the cores). Seed 1; the default model but for the law and the couplings ` +
  '(hidden 32 × 2, Gaussian prior, learning rate 0.001, batch 128, 50,000 training points); gaps in nats, true minus the page\'s held-out mean log-likelihood over 10,000 fresh points.\n');
const groups = new Map<string, Result[]>();
for (const r of results) {
  const key = r.run.checkpoints.join(',');
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
for (const [key, rs] of groups) {
  const cps = key.split(',').map(Number);
  const head = ['data', 'true mean log p', 'law', 'couplings', ...cps.map((c) => `gap @ ${c} s`), 'gap < 0.1 after', 'steps/s (views on)', 'steps/s (training only)', 'views/s'];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rs) {
    const cells = [
      r.run.data, fmt(r.truth), r.run.law, String(r.run.couplings),
      ...r.at.map((a) => (a ? `${fmt(a.gap)} (step ${a.step.toLocaleString('en-US')})` : '—')),
      r.under === null ? 'not within the run' : `${r.under.toFixed(0)} s`,
      r.stepsPerSecond.toFixed(0), Number.isFinite(r.trainOnly) ? r.trainOnly.toFixed(0) : '—', r.fps.toFixed(1),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log('');
}
