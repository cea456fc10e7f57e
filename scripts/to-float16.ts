// Rewrites a model weight file with its parameters stored as F16 (IEEE half, rounded to nearest even): about half
// the download for the browser studio. The metadata is kept; the fixed tensors (buffers, whitening) stay F32, and a
// checkpoint's training state (`train.*`) is left out. Prints both sizes. One-line error and exit 1 on bad input.
//
//   node --import tsx scripts/to-float16.ts IN.safetensors OUT.safetensors
import { readFileSync, writeFileSync } from 'node:fs';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';

const args = process.argv.slice(2);
if (args.length !== 2) {
  process.stderr.write('usage: node --import tsx scripts/to-float16.ts IN.safetensors OUT.safetensors\n');
  process.exit(2);
}
const [inPath, outPath] = args;

try {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(inPath));
  } catch (e) {
    throw new NiceFlowError(`cannot read ${inPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let out: Uint8Array;
  let dropped: number;
  try {
    const { tensors, metadata } = readSafetensors(bytes);
    const model = deserializeModel(bytes, createRefBackend(), inPath);
    dropped = Object.keys(tensors).filter((n) => n.startsWith('train.')).length;
    out = serializeModel(model, metadata, { float16: true });
  } catch (e) {
    if (e instanceof NiceFlowError && !e.message.includes(inPath)) throw new NiceFlowError(`${inPath}: ${e.message}`);
    throw e;
  }
  try {
    writeFileSync(outPath, out);
  } catch (e) {
    throw new NiceFlowError(`cannot write ${outPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const mb = (n: number): string => `${n} bytes (${(n / 2 ** 20).toFixed(2)} MiB)`;
  console.log(`${inPath}: ${mb(bytes.length)}`);
  console.log(`${outPath}: ${mb(out.length)}, parameters as F16 (${((100 * out.length) / bytes.length).toFixed(1)}%)`);
  if (dropped > 0) console.log(`left out ${dropped} training-state tensor${dropped === 1 ? '' : 's'} (train.*): the output is a model file, not a checkpoint`);
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`to-float16: ${message.split('\n')[0]}\n`);
  process.exit(1);
}
