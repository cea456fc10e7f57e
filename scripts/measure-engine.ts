// Is the browser's engine slower than Node's for nice-flow's training step? Times the library's Trainer on the
// studio's two model sizes (4 couplings × 3 × 256 and the paper's 4 × 5 × 1000, batch 200, random pixels) with the
// `wasm` backend, 1 and 2 threads: in Node and in a bare dedicated Worker of Debian's Chromium (no studio around it).
// Both run the same esbuild bundle of the library (no tsx), so only the engine and its threads differ.
//
//   node --import tsx scripts/measure-engine.ts
//
// docs/cli.md ("The studio") reads these beside scripts/measure-studio.ts's in-page figures.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { launchChromium, root } from './studio-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-engine-'));
// The measured code, once: a function of a backend, bundled for Node and for a browser Worker.
const core = `
import { Rng } from ${JSON.stringify(join(root, 'src/core/Rng.ts'))};
import { configFromSettings } from ${JSON.stringify(join(root, 'src/model/configFromSettings.ts'))};
import { NiceModel } from ${JSON.stringify(join(root, 'src/model/NiceModel.ts'))};
import { Trainer } from ${JSON.stringify(join(root, 'src/train/Trainer.ts'))};
export function bench(backend, hidden, depth, warm, steps) {
  const count = 2000;
  const pixels = new Uint8Array(784 * count);
  const rng = new Rng(1);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const data = { pixels, count, dim: 784, shape: [1, 28, 28] };
  const model = new NiceModel(backend, configFromSettings(data, { couplings: 4, hidden, depth }, undefined, [0, 1]));
  model.init(new Rng(0));
  const trainer = new Trainer(model, data, { batchSize: 200 });
  for (let i = 0; i < warm; i++) trainer.trainStep();
  const t = performance.now();
  for (let i = 0; i < steps; i++) trainer.trainStep();
  return (steps * 200) / ((performance.now() - t) / 1000);
}
export const SIZES = [['small', 256, 3, 10, 100], ['paper', 1000, 5, 3, 15]];
`;
writeFileSync(join(dir, 'core.ts'), core);
writeFileSync(join(dir, 'node.ts'), `
import { createWasmBackendNode } from ${JSON.stringify(join(root, 'src/node/createWasmBackendNode.ts'))};
import { bench, SIZES } from './core.ts';
const out = {};
for (const threads of [1, 2]) {
  const b = await createWasmBackendNode({ threads });
  for (const [name, h, d, w, s] of SIZES) out[name + '/' + threads] = bench(b, h, d, w, s);
  b.dispose();
}
console.log(JSON.stringify(out));
`);
writeFileSync(join(dir, 'worker.ts'), `
import { createWasmBackendBrowser } from ${JSON.stringify(join(root, 'src/browser/createWasmBackendBrowser.ts'))};
import { bench, SIZES } from './core.ts';
self.onmessage = async (e) => {
  const b = await createWasmBackendBrowser({ threads: e.data });
  const out = {};
  for (const [name, h, d, w, s] of SIZES) out[name + '/' + e.data] = bench(b, h, d, w, s);
  b.dispose();
  self.postMessage(out);
};
`);
try {
  await build({ entryPoints: [join(dir, 'node.ts')], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'node.mjs'), logLevel: 'warning' });
  await build({ entryPoints: [join(dir, 'worker.ts')], bundle: true, platform: 'browser', format: 'iife', outfile: join(dir, 'worker.js'), logLevel: 'warning' });
  const r = spawnSync(process.execPath, [join(dir, 'node.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the Node bundle failed: ${r.stderr}`);
  const node = JSON.parse(r.stdout.trim()) as Record<string, number>;

  // A page that may share memory (cross-origin isolated), and the Worker script.
  const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' };
  const server = createServer((req, res) => {
    const js = req.url === '/worker.js';
    res.writeHead(200, { ...isolation, 'content-type': js ? 'text/javascript' : 'text/html' });
    res.end(js ? readFileSync(join(dir, 'worker.js')) : '<!doctype html><title>engine</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium();
  const page = await browser.newPage();
  const chromium: Record<string, number> = {};
  try {
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    for (const threads of [1, 2]) {
      // The page's code as text: this project compiles without the DOM's types.
      const run = `new Promise((resolve, reject) => {
        const w = new Worker('/worker.js');
        w.onmessage = (e) => { resolve(e.data); w.terminate(); };
        w.onerror = (e) => reject(new Error(e.message));
        w.postMessage(${threads});
      })`;
      Object.assign(chromium, (await page.evaluate(run)) as Record<string, number>);
    }
  } finally {
    await browser.close();
    server.close();
  }
  const version = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`Node ${process.version} and ${version} (a bare dedicated Worker), the wasm backend, batch 200, samples/s:\n`);
  console.log('| model, threads | Node | Chromium Worker | Chromium ÷ Node |\n|---|---|---|---|');
  for (const key of Object.keys(node)) console.log(`| ${key} | ${Math.round(node[key])} | ${Math.round(chromium[key])} | ${(chromium[key] / node[key]).toFixed(2)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
