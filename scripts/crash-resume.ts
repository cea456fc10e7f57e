// Crash-resume, measured: a small training run is killed with SIGKILL at random moments and resumed each time, until
// it finishes; its model, checkpoint tensors and log must then equal those of the same run done straight through.
//
//   node --import tsx scripts/crash-resume.ts [KILLS=20] [SEED=1]
//
// Prints one line per kill and a summary: how many kills, how many left a checkpoint that loads, and whether the
// final files are byte-identical to the straight run's (the log compared without its `seconds`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/Rng.js';
import { readSafetensors } from '../src/io/safetensors.js';

const kills = Number(process.argv[2] ?? 20);
const rng = new Rng(Number(process.argv[3] ?? 1));
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'nice-flow-crash-'));
const args = ['--data', 'mnist', '--limit', '4000', '--valid-size', '58000', '--valid-limit', '200', '--batch-size', '100',
  '--hidden', '200', '--depth', '2', '--backend', 'wasm', '--epochs', '40', '--checkpoint-every', '1', '--ema', '0.99', '--quiet'];
const cli = [join(root, 'cli/main.ts')];

const straight = join(dir, 'straight');
const r = spawnSync(process.execPath, ['--import', 'tsx', ...cli, 'train', ...args, '--out', straight], { cwd: root, encoding: 'utf8' });
if (r.status !== 0) throw new Error(`straight run failed: ${r.stderr}`);

const crashed = join(dir, 'crashed');
const ckpt = join(crashed, 'checkpoint.safetensors');
let loadable = 0;
let killed = 0;
let done = false;
for (let k = 0; k < kills && !done; k++) {
  const resume = existsSync(ckpt);
  const child = spawn(process.execPath, ['--import', 'tsx', ...cli, 'train', ...(resume ? ['--resume', '--quiet', '--backend', 'wasm'] : args), '--out', crashed], { cwd: root, stdio: 'ignore' });
  const delay = 800 + 2200 * rng.uniform();
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  done = code === 0;
  if (!done) killed++;
  let ok = false;
  if (!done && existsSync(ckpt)) {
    try {
      readSafetensors(new Uint8Array(readFileSync(ckpt)));
      ok = true;
      loadable++;
    } catch {
      ok = false;
    }
  }
  const leftovers = readdirSync(crashed).filter((n) => n.includes('.tmp-')).length;
  process.stdout.write(`run ${k + 1}: ${done ? 'finished' : `killed after ${(delay / 1000).toFixed(1)} s`}, checkpoint ${done ? 'final' : existsSync(ckpt) ? (ok ? 'loads' : 'BROKEN') : 'none yet'}, ${leftovers} temporary file(s)\n`);
}
// Finish the run if the kills ran out first.
while (!done) {
  const c = spawnSync(process.execPath, ['--import', 'tsx', ...cli, 'train', '--resume', '--quiet', '--backend', 'wasm', '--out', crashed], { cwd: root });
  done = c.status === 0;
  if (!done) throw new Error(`resume failed: ${c.stderr}`);
}

const tensorsOf = (path: string): Map<string, Float32Array> => new Map(Object.entries(readSafetensors(new Uint8Array(readFileSync(path))).tensors).map(([k, t]) => [k, t.data]));
const same = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.has(k) && Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b.get(k)!.buffer, b.get(k)!.byteOffset, b.get(k)!.byteLength)));
const log = (d: string): string => readFileSync(join(d, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.stringify({ ...JSON.parse(l), seconds: 0 })).join('\n');
const model = readFileSync(join(straight, 'model.safetensors')).equals(readFileSync(join(crashed, 'model.safetensors')));
const checkpoint = same(tensorsOf(join(straight, 'checkpoint.safetensors')), tensorsOf(ckpt));
const logs = log(straight) === log(crashed);
process.stdout.write(`${killed} kills (SIGKILL); a loadable checkpoint after ${loadable} of the ${killed} (the others came before the first checkpoint); ` +
  `final model byte-identical: ${model}; checkpoint tensors identical: ${checkpoint}; log identical (without seconds): ${logs}\n`);
rmSync(dir, { recursive: true, force: true });
process.exitCode = model && checkpoint && logs ? 0 : 1;
