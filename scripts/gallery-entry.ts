// One entry of the studio's gallery (scripts/train-gallery.sh runs it after training and evaluating a model): picks
// the float16 file when it costs at most 0.01 bits/dim on the full test set (else the float32 one), copies it to
// GALLERY/NAME.safetensors and writes the entry into GALLERY/gallery.json (its test figures as measured on the file
// that ships, the cost of float16, parameters, download size), keeping the entries' order.
//
//   node --import tsx scripts/gallery-entry.ts --name mnist --data mnist --label "…" --note "…" --run runs/gallery/mnist --gallery web/gallery
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { countParams, readSafetensors } from '../src/index.js';
import { configFromMetadata } from '../src/model/modelFile.js';

/** The float16 file is kept when it is at most this much worse, in bits/dim. */
const FLOAT16_TOLERANCE = 0.01;

interface EvalJson {
  logLikelihood: number;
  bitsPerDim: number;
  n: number;
  accuracy?: number;
}

function fail(message: string): never {
  process.stderr.write(`gallery-entry: ${message}\n`);
  process.exit(1);
}

function readEval(file: string): EvalJson {
  if (!existsSync(file)) fail(`${file} is missing: evaluate the model first`);
  let j: Partial<EvalJson>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Partial<EvalJson>;
  } catch {
    fail(`${file} is not the JSON line of \`nice-flow eval --json\``);
  }
  if (typeof j.logLikelihood !== 'number' || typeof j.bitsPerDim !== 'number' || typeof j.n !== 'number') fail(`${file} lacks logLikelihood, bitsPerDim or n`);
  return j as EvalJson;
}

const { values } = parseArgs({
  options: {
    name: { type: 'string' }, data: { type: 'string' }, label: { type: 'string' }, note: { type: 'string' },
    run: { type: 'string' }, gallery: { type: 'string', default: 'web/gallery' },
  },
});
const { name, data, label, note, run } = values;
if (!name || !data || !label || !run) fail('usage: --name N --data D --label L --run RUN_DIR [--note T] [--gallery DIR]');
if (!/^[\w.-]+$/.test(name)) fail(`--name ${name}: letters, digits, ".", "_" and "-" only`);
const gallery = values.gallery!;

const f32 = readEval(join(run, 'eval-float32.json'));
const f16 = readEval(join(run, 'eval-float16.json'));
const cost = f16.bitsPerDim - f32.bitsPerDim;
const useHalf = cost <= FLOAT16_TOLERANCE;
const source = join(run, useHalf ? 'model-f16.safetensors' : 'model.safetensors');
const file = `${name}.safetensors`;
copyFileSync(source, join(gallery, file));

const { metadata } = readSafetensors(new Uint8Array(readFileSync(source)));
const config = configFromMetadata(metadata, source);
const shipped = useHalf ? f16 : f32;
const entry = {
  name, label, file, dataset: data,
  test: { logLikelihood: shipped.logLikelihood, bitsPerDim: shipped.bitsPerDim, n: shipped.n, ...(shipped.accuracy !== undefined ? { accuracy: shipped.accuracy } : {}) },
  params: countParams(config),
  bytes: statSync(join(gallery, file)).size,
  storage: useHalf ? 'float16' : 'float32',
  float16Cost: { float32BitsPerDim: f32.bitsPerDim, float16BitsPerDim: f16.bitsPerDim, float32Bytes: statSync(join(run, 'model.safetensors')).size },
  note: note ?? '',
};

const index = join(gallery, 'gallery.json');
const doc = existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as { models: Array<{ name: string }> }) : { models: [] };
const at = doc.models.findIndex((m) => m.name === name);
if (at >= 0) doc.models[at] = entry;
else doc.models.push(entry);
writeFileSync(index, JSON.stringify(doc, null, 2) + '\n');
process.stdout.write(
  `${name}: ${shipped.logLikelihood.toFixed(1)} nats, ${shipped.bitsPerDim.toFixed(4)} bits/dim on ${shipped.n} test images` +
    `${shipped.accuracy !== undefined ? `, accuracy ${(100 * shipped.accuracy).toFixed(2)}%` : ''}; float16 costs ${cost.toFixed(5)} bits/dim → ` +
    `${entry.storage}, ${(entry.bytes / 1e6).toFixed(2)} MB (float32 ${(entry.float16Cost.float32Bytes / 1e6).toFixed(2)} MB), ${entry.params} parameters\n`,
);
