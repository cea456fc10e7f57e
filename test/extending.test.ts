// docs/extending.md, run: each worked example is cut out of the page, imported, and checked by the same suites the
// built-in parts go through (test/registryChecks.ts, test/bijectionChecks.ts, test/bijectionContractChecks.ts), so the
// page cannot drift from the code.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { Coupling } from '../src/flows/Coupling.js';
import type { CouplingLawImpl } from '../src/flows/laws/CouplingLawImpl.js';
import { partitionFor } from '../src/flows/Partition.js';
import type { StepKind } from '../src/flows/steps/StepKind.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import type { CouplingNet } from '../src/nn/CouplingNet.js';
import { Mlp } from '../src/nn/Mlp.js';
import type { Prior } from '../src/priors/Prior.js';
import { D, SHAPE } from './bijectionCases.js';
import { describeBijectionChecks } from './bijectionChecks.js';
import { describeContractChecks } from './bijectionContractChecks.js';
import { root } from './cliRun.js';
import { describeLawChecks, describePriorChecks } from './registryChecks.js';

const page = readFileSync(join(root, 'docs/extending.md'), 'utf8');
const blocks = new Map([...page.matchAll(/<!-- example: (\w+) -->\n```ts\n([\s\S]*?)\n```/g)].map((m) => [m[1], m[2]]));
const dir = mkdtempSync(join(tmpdir(), 'nice-flow-extending-'));
/** The library's one-line error. By name: the examples load the library through another module URL, so its class differs. */
const isUserError = (e: unknown): e is Error => e instanceof Error && e.name === 'NiceFlowError' && !e.message.includes('\n');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Imports the page's example `name`, with `nice-flow` meaning this repository's src/index.ts. */
async function load(name: string): Promise<Record<string, unknown>> {
  const code = blocks.get(name);
  if (code === undefined) throw new Error(`docs/extending.md has no example "${name}" (found: ${[...blocks.keys()].join(', ')})`);
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, code.replaceAll("from 'nice-flow'", `from '${pathToFileURL(join(root, 'src/index.ts')).href}'`));
  return import(pathToFileURL(file).href);
}

const law = (await load('law')).sigmoidAffineLaw as CouplingLawImpl;
const prior = (await load('prior')).laplacePrior as Prior;
const step = await load('step');
const reverseStep = step.reverseStep as StepKind;
const LinearNet = (await load('network')).LinearNet as new (backend: Backend, inDim: number, outDim: number, prefix?: string) => CouplingNet;
const parseMnistCsv = (await load('reader')).parseMnistCsv as (text: string, what?: string) => ImageDataset;

it('docs/extending.md has the five examples, each exporting what the page says', () => {
  assert.deepEqual([...blocks.keys()].sort(), ['law', 'network', 'prior', 'reader', 'step']);
  assert.equal(law.name, 'sigmoid-affine');
  assert.equal(prior.name, 'laplace');
  assert.equal(reverseStep.type, 'reverse');
  assert.equal(typeof step.ReverseChannels, 'function');
});

// The law: its own checks, and the whole bijection suite as an MLP coupling on each half of a checkerboard.
describeLawChecks(law, false);
for (const k of [0, 1]) {
  const partition = partitionFor('checkerboard', k, D, SHAPE);
  const make = (b: Backend): Bijection => {
    const net = new Mlp(b, partition.kept.length, law.groups * partition.updated.length, 8, 2);
    net.init(new Rng(11 + k));
    for (const q of net.params) for (let i = 0; i < q.data.length; i++) q.data[i] *= 2;
    return new Coupling(b, D, partition, net, law);
  };
  describeBijectionChecks({ name: `docs/extending.md: a coupling with the sigmoid-affine law, layer ${k}`, make, partition });
  describeContractChecks({ name: `docs/extending.md: a coupling with the sigmoid-affine law, layer ${k}`, make });
}

describePriorChecks(prior, false);

// The step kind: the layer it builds goes through both suites; its spec check is one line.
const reverseCase = {
  name: 'docs/extending.md: the reverse step',
  make: (b: Backend): Bijection => reverseStep.build(reverseStep.validate({ type: 'reverse' }, SHAPE), { backend: b, shape: SHAPE, prefix: 'flow.0.', parity: 0 }),
};
describeBijectionChecks(reverseCase);
describeContractChecks(reverseCase);
describe('docs/extending.md: the reverse step kind', () => {
  it('reverses the channels, keeps the shape, has no parameters, and refuses unknown settings in one line', () => {
    const [C, H, W] = SHAPE;
    const P = H * W;
    const f = reverseCase.make(createRefBackend({ dtype: 'float64' }));
    const x = Float64Array.from({ length: D }, (_, i) => i);
    const { y } = f.forward(x, 1);
    for (let c = 0; c < C; c++) for (let q = 0; q < P; q++) assert.equal(y[c * P + q], x[(C - 1 - c) * P + q]);
    assert.deepEqual(reverseStep.outShape({ type: 'reverse' }, SHAPE), SHAPE);
    assert.deepEqual(reverseStep.paramShapes({ type: 'reverse' }, SHAPE), []);
    assert.equal(f.params.length, 0);
    assert.throws(() => reverseStep.validate({ type: 'reverse', channels: 2 }, SHAPE), (e: unknown) => isUserError(e) && /^reverse step: unknown setting "channels"$/.test(e.message));
  });
});

// The network: an affine coupling with it goes through both suites (its parameters' gradients included).
for (const name of ['checkerboard', 'channels'] as const) {
  const partition = partitionFor(name, 0, D, SHAPE);
  const make = (b: Backend): Bijection => {
    const net = new LinearNet(b, partition.kept.length, 2 * partition.updated.length, 'net.');
    net.init(new Rng(5));
    for (const q of net.params) for (let i = 0; i < q.data.length; i++) q.data[i] *= 2;
    return new Coupling(b, D, partition, net, 'affine');
  };
  describeBijectionChecks({ name: `docs/extending.md: an affine coupling with LinearNet, ${name} partition`, make, partition });
  describeContractChecks({ name: `docs/extending.md: an affine coupling with LinearNet, ${name} partition`, make });
}

describe('docs/extending.md: the MNIST CSV reader', () => {
  // Three 2×2 images.
  const csv = 'label,pixel0,pixel1,pixel2,pixel3\n7,0,255,12,3\n0,1,2,3,4\r\n9,255,255,0,0\n';

  it('reads pixels row by row, labels and the square shape', () => {
    const ds = parseMnistCsv(csv);
    assert.deepEqual([ds.count, ds.dim, ds.shape], [3, 4, [1, 2, 2]]);
    assert.deepEqual([...ds.pixels], [0, 255, 12, 3, 1, 2, 3, 4, 255, 255, 0, 0]);
    assert.deepEqual([...ds.labels!], [7, 0, 9]);
  });

  it('refuses bad files in one line naming the place', () => {
    const bad: [string, RegExp][] = [
      ['', /^f\.csv: expected a header line starting with "label,"$/],
      ['label,a,b,c\n1,2,3,4\n', /^f\.csv: 3 pixel columns is not a square image$/],
      ['label,a,b,c,d\n', /^f\.csv: no images after the header$/],
      ['label,a,b,c,d\n1,2,3,4\n', /^f\.csv: line 2 has 4 values, the header 5$/],
      ['label,a,b,c,d\n1,2,3,256,4\n', /^f\.csv: line 2, column 4: "256" is not a pixel 0–255$/],
      ['label,a,b,c,d\n10,2,3,4,5\n', /^f\.csv: line 2, column 1: "10" is not a label 0–9$/],
      ['label,a,b,c,d\n1,2,-3,4,5\n', /^f\.csv: line 2, column 3: "-3" is not a pixel 0–255$/],
      ['label,a,b,c,d\n1,2,3.5,4,5\n', /^f\.csv: line 2, column 3: "3\.5" is not a pixel 0–255$/],
    ];
    for (const [text, re] of bad) assert.throws(() => parseMnistCsv(text, 'f.csv'), (e: unknown) => isUserError(e) && re.test(e.message), JSON.stringify(text));
  });

  it('on 300 mutated files gives a valid data set or a one-line error, nothing else', () => {
    const rng = new Rng(9);
    const alphabet = '0123456789,\n-. x';
    for (let k = 0; k < 300; k++) {
      const chars = [...csv];
      for (let m = 1 + Math.floor(rng.uniform() * 4); m > 0; m--) {
        const at = Math.floor(rng.uniform() * chars.length);
        const what = rng.uniform();
        if (what < 0.4) chars[at] = alphabet[Math.floor(rng.uniform() * alphabet.length)];
        else if (what < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, alphabet[Math.floor(rng.uniform() * alphabet.length)]);
      }
      const text = chars.join('');
      try {
        const ds = parseMnistCsv(text, 'm.csv');
        assert.equal(ds.pixels.length, ds.count * ds.dim, JSON.stringify(text));
        assert.equal(ds.labels!.length, ds.count);
        assert.ok(ds.labels!.every((v) => v <= 9), JSON.stringify(text));
      } catch (e) {
        assert.ok(isUserError(e), `${JSON.stringify(text)}: ${e}`);
      }
    }
  });
});
