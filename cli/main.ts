// The nice-flow command line. This file and its neighbours are the only code that touches files and the terminal.
import { Command, Option } from 'commander';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { COUPLING_LAWS } from '../src/flows/couplingLaw.js';
import { PARTITION_NAMES } from '../src/flows/Partition.js';
import { CONDITIONINGS, NETWORK_NAMES } from '../src/model/NiceConfig.js';
import { PRESET_NAMES } from '../src/model/presets.js';
import { INPAINT_DEFAULT_LEARNING_RATE, INPAINT_DEFAULT_STEPS } from '../src/model/inpaint.js';
import { MASK_NAMES } from '../src/model/masks.js';
import { PRIOR_NAMES } from '../src/priors/priorRegistry.js';
import { evalCommand, sampleCommand } from './evalSample.js';
import { inpaintCommand } from './inpaint.js';
import { parseIndexList } from './inputs.js';
import { decodeCommand, encodeCommand, interpolateCommand, spectrumCommand } from './latent.js';
import { decay, int, num, oneOf } from './options.js';
import { LR_SCHEDULES } from '../src/train/learningRate.js';
import { trainCommand } from './train.js';
import { BACKEND_NAMES } from '../src/node/selectBackend.js';

const program = new Command('nice-flow')
  .description('NICE normalizing flows (Dinh, Krueger & Bengio 2014): train, evaluate, sample, inpaint and edit in latent space')
  .version('0.1.0')
  // Usage errors in the one-line format of every other error: `nice-flow: <what>; see nice-flow <command> --help`.
  .configureOutput({
    outputError: (text, write) => {
      const line = text.replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/\.$/, '');
      const command = process.argv.slice(2).find((a) => !a.startsWith('-') && program.commands.some((c) => c.name() === a));
      write(`nice-flow: ${line}; see nice-flow ${command ? `${command} ` : ''}--help\n`);
    },
  });

const backendOption = (): Option =>
  new Option('--backend <name>', 'compute backend: auto takes the fastest available').choices([...BACKEND_NAMES]).default('auto');
const dequantizeOption = (def: string): Option =>
  new Option('--dequantize <mode>', 'uniform: (pixel+u)/256, u~U(0,1); center: (pixel+0.5)/256').choices(['uniform', 'center']).default(def);

program
  .command('train')
  .description('train a NICE model by maximum likelihood; writes model.safetensors (best by validation), checkpoint.safetensors, log.jsonl and samples/ to --out')
  .option('--data <name|PATH>', 'mnist, fashion-mnist, an IDX file (.gz too), a CIFAR-10 folder or .bin, a uint8 .npy of images, a float32/float64 .npy [N, D] of continuous data, or a folder of PNGs', 'mnist')
  .requiredOption('--out <dir>', 'output directory')
  .option('--epochs <n>', 'epochs (the paper: 1500; ~35 reach ~1960 nats on MNIST)', int(1), 1500)
  .option('--max-steps <n>', 'stop after this many steps in total', int(1))
  .option('--batch-size <n>', 'examples per step', int(1), 200)
  .addOption(new Option('--preset <name>', 'the paper\'s settings for a data set (architecture, prior, whitening, range); mnist-ema, mnist-conv and mnist-gated add their measured recipes (docs/cli.md); flags given explicitly win').choices([...PRESET_NAMES]))
  .option('--couplings <n>', 'coupling layers', int(1), 4)
  .option('--flow <file.json>', 'the flow as a list of steps (docs/architectures.md): coupling, scaling, logit, actnorm, invconv, squeeze, split; replaces --couplings, --hidden, --depth, --coupling, --network, --partition')
  .option('--hidden <n>', 'hidden units per layer of each coupling MLP (channels for --network conv)', int(1), 1000)
  .option('--depth <n>', 'hidden layers per coupling MLP (3×3 conv layers for --network conv)', int(0), 5)
  .addOption(new Option('--coupling <law>', 'coupling law (paper §3.2): additive x+m, multiplicative x·exp(ℓ), affine x·exp(ℓ)+t, ℓ = 2·tanh(a/2); bounded-affine x·σ(a+2)+4·tanh(t/4)').choices([...COUPLING_LAWS]).default('additive'))
  .addOption(new Option('--network <kind>', 'coupling network: mlp (dense) or conv (conv3×3 → ReLU … → conv1×1 on the image)').choices([...NETWORK_NAMES]).default('mlp'))
  .addOption(new Option('--prior <name>', 'latent prior').choices([...PRIOR_NAMES]).default('logistic'))
  .addOption(new Option('--partition <name>', 'how couplings split the values (channels: C×H×W with C ≥ 2)').choices([...PARTITION_NAMES]).default('alternate'))
  .addOption(new Option('--whiten <how>', 'zca: fixed ZCA whitening fitted on the training split, its log-det included').choices(['none', 'zca']).default('none'))
  .option('--whiten-limit <n>', 'fit the whitening on the first N training images (default: all)', int(2))
  .option('--range <lo,hi>', 'data range of the dequantized pixels, e.g. 0,1 or -1,1 (default: 0,1; -1,1 for CIFAR-10)')
  .option('--lr <rate>', 'Adam learning rate', num(true), 1e-3)
  .addOption(new Option('--lr-schedule <kind>', 'learning rate over the run: constant (the paper), cosine (down to 0 at the last step), step (halved every --lr-step-epochs)').choices([...LR_SCHEDULES]).default('constant'))
  .option('--warmup <steps>', 'raise the learning rate linearly from 0 over the first N steps', int(0), 0)
  .option('--lr-step-epochs <n>', 'with --lr-schedule step: epochs between halvings (default: a third of --epochs)', int(1))
  .option('--clip-grad <norm>', 'clip the gradient\'s global norm to this before each update (deep image flows need it; 0: off)', num(false), 0)
  .option('--ema <decay>', 'keep an exponential moving average of the weights (e.g. 0.999): validation, best model, samples and model.safetensors use it; 0: off', decay, 0)
  .option('--seed <n>', 'random seed (init, shuffling, noise)', int(0), 0)
  .option('--limit <n>', 'use only the first N training images', int(1))
  .option('--valid-size <n>', 'images (rows) held out from the end of the training file for validation', int(1), 10000)
  .option('--valid-limit <n>', 'validate on only the first N held-out images', int(1))
  .addOption(dequantizeOption('uniform'))
  .addOption(new Option('--scale-init <how>', 'start of the scaling layer: zero (the paper) or data (each latent gets the prior\'s spread)').choices(['zero', 'data']).default('zero'))
  .option('--checkpoint-every <steps>', 'also write the checkpoint every N steps (always: every epoch and on Ctrl-C)', int(1))
  .option('--resume', 'continue the run in --out exactly where its checkpoint left it', false)
  .option('--log-test', 'also evaluate the test split after each epoch and log it (for learning curves; never used to choose the model)', false)
  .option('--conditional', 'a class-conditional model: each image\'s label moves and scales the prior (sample --label, classify)', false)
  .addOption(new Option('--conditioning <where>', 'with --conditional: the label moves and scales the prior, enters every coupling network (beside x_I1 in a dense one, as a learned per-class bias of the first layer in a conv one), or both').choices([...CONDITIONINGS]).default('prior'))
  .option('--class-weight <λ>', 'with --conditional: add λ·(−log p(y|x)) to each image\'s loss, a sharper likelihood classifier (0: plain likelihood)', num(false), 0)
  .addOption(backendOption())
  .option('--quiet', 'no progress output', false)
  .action((flags, cmd) => trainCommand(flags, cmd));

/** The options of commands that score a whole split (eval, classify): which images, their noise, batches, output. */
const splitScoreOptions = (cmd: Command): Command =>
  cmd
    .addOption(new Option('--split <name>', 'train/valid: the training file without/with its held-out tail; test: the test file').choices(['test', 'train', 'valid']).default('test'))
    .option('--limit <n>', 'first N images of the split', int(1))
    .option('--valid-size <n>', 'held-out images at the end of the training file', int(1), 10000)
    .addOption(dequantizeOption('uniform'))
    .option('--seed <n>', 'seed of the dequantization noise', int(0), 0)
    .option('--draws <k>', 'dequantization draws per image: each likelihood (each class\'s) is log (1/k) Σ p(x + u), a tighter bound on the pixel bin\'s probability (at most 1000)', int(1), 1)
    .option('--batch-size <n>', 'images per batch', int(1), 500)
    .option('--json', 'also print one JSON object as the last line', false)
    .addOption(backendOption())
    .option('--quiet', 'no progress output', false);

splitScoreOptions(
  program
    .command('eval')
    .description('log-likelihood of a data split under a model, in nats per image and bits/dim (continuous data: nats per row only)')
    .requiredOption('--model <file>', 'model.safetensors')
  .option('--data <name|PATH>', 'mnist, fashion-mnist, an IDX file (.gz too), a CIFAR-10 folder or .bin, a uint8 .npy of images, a float32/float64 .npy [N, D] of continuous data, or a folder of PNGs', 'mnist'),
).action((flags) => evalCommand(flags));

program
  .command('sample')
  .description('draw samples x = f⁻¹(h), h ~ prior; write a PNG grid and/or a float32 .npy [n, D]')
  .requiredOption('--model <file>', 'model.safetensors')
  .option('--n <count>', 'number of samples', int(1), 64)
  .option('--out <file.png>', 'PNG grid of the samples (clipped to [0,1]); a FILE.npy gets the samples as float32 [n, D] (the output for a model of continuous data)')
  .option('--npy <file.npy>', 'the raw samples as float32 [n, D]')
  .option('--seed <n>', 'random seed', int(0), 0)
  .option('--temperature <T>', 'scale of the prior draw; 0 decodes the prior\'s mode', num(false), 1)
  .option('--columns <n>', 'grid columns', int(1))
  .option('--label <class>', 'a class-conditional model: samples of this class (without it: one row of --columns, default 8, per class)', int(0))
  .addOption(backendOption())
  .action((flags) => sampleCommand(flags));

splitScoreOptions(
  program
    .command('classify')
    .description('a class-conditional model as a classifier (Bayes\' rule over p(x|y)p(y)): accuracy, per-class accuracy, confusion matrix')
    .requiredOption('--model <file>', 'model.safetensors of a class-conditional model (train --conditional)')
    .option('--data <name|PATH>', 'mnist, fashion-mnist, an IDX file with its labels file beside it, or a CIFAR-10 folder or .bin', 'mnist')
    .option('--out <file.png>', 'the confusion matrix as a picture'),
).action(async (flags) => (await import('./classify.js')).classifyCommand(flags));

/** Options choosing input images from a data set split. */
const dataInputOptions = (cmd: Command, dequantize: string): Command =>
  cmd
    .option('--data <name|PATH>', 'mnist, fashion-mnist, an IDX file (.gz too), a CIFAR-10 folder or .bin, a uint8 .npy of images, a float32/float64 .npy [N, D] of continuous data (encode, interpolate), or a folder of PNGs', 'mnist')
    .addOption(new Option('--split <name>', 'data split').choices(['test', 'train', 'valid']).default('test'))
    .option('--valid-size <n>', 'held-out images at the end of the training file', int(1), 10000)
    .addOption(dequantizeOption(dequantize))
    .option('--seed <n>', 'random seed', int(0), 0)
    .addOption(backendOption());

dataInputOptions(
  program
    .command('inpaint')
    .description('fill the hidden pixels of images by projected gradient ascent on log p (paper §5.2): Adam from the model\'s mode by default, --paper for the paper\'s rule; grid rows: original, masked, inpainted')
    .requiredOption('--model <file>', 'model.safetensors')
    .requiredOption('--mask <name|file.png>', `hidden pixels: ${MASK_NAMES.join(', ')}, or a PNG whose dark pixels are hidden`)
    .option('--limit <n>', 'first N images of the split (default 10)', int(1))
    .option('--index <i,j,...>', 'these images of the split', parseIndexList)
    .option('--image <files...>', 'your own PNG images instead of a data set')
    .option('--steps <n>', 'gradient steps', int(0), INPAINT_DEFAULT_STEPS)
    .addOption(new Option('--method <how>', 'adam: Adam on the hidden pixels; sgd: the paper\'s step α_i = 10/(100 + i)').choices(['adam', 'sgd']).default('adam'))
    .option('--learning-rate <r>', 'with adam: the first step, as a fraction of the data range (falls to a tenth by the last step)', num(true), INPAINT_DEFAULT_LEARNING_RATE)
    .addOption(new Option('--start <where>', 'hidden pixels start at the model\'s mode f⁻¹(0) (restarts: its samples at temperature 0.5), the low end of the range (black), or uniform noise').choices(['mode', 'low', 'noise']).default('mode'))
    .addOption(new Option('--noise <how>', 'step noise: none, anneal (down to 0 halfway) or paper (full noise every step)').choices(['none', 'anneal', 'paper']).default('none'))
    .option('--raw-gradient', 'with sgd: the paper\'s literal step (default: each image\'s gradient divided by its RMS, so steps have size ~α)', false)
    .option('--restarts <n>', 'starts per image; each keeps its likeliest completion', int(1), 1)
    .addOption(new Option('--keep <which>', 'what each start returns: the likeliest state it visited, or where its last step left it').choices(['likeliest', 'last']).default('likeliest'))
    .option('--paper', 'the paper\'s exact rule: --method sgd --raw-gradient --noise paper --start noise --keep last', false)
    .option('--batch-size <n>', 'images inpainted at once', int(1), 100)
    .option('--label <class>', 'a class-conditional model: complete towards this class (data sets: default each image\'s own label)', int(0))
    .option('--out <file.png>', 'PNG grid')
    .option('--npy <file.npy>', 'inpainted images, float32 [n, D]')
    .option('--json', 'also print one JSON object as the last line', false)
    .option('--quiet', 'no progress output', false),
  'center',
).action((flags) => inpaintCommand({ ...flags, npyOut: flags.npy, npy: undefined }));

dataInputOptions(
  program
    .command('restyle')
    .description('a class-conditional model writes each image as every class: encode under its own label, decode under each other (one row per image: the image, then it as 0 … 9)')
    .requiredOption('--model <file>', 'model.safetensors of a class-conditional model (train --conditional)')
    .option('--limit <n>', 'first N images of the split (default 10)', int(1))
    .option('--index <i,j,...>', 'these images of the split', parseIndexList)
    .option('--image <files...>', 'your own PNG images instead of a data set')
    .option('--label <class>', 'the class of your images (default: the model\'s classification); data sets use their labels', int(0))
    .option('--out <file.png>', 'PNG grid')
    .option('--npy <file.npy>', 'the grid\'s images, float32 [n·(K + 1), D]'),
  'center',
).action(async (flags) => (await import('./restyle.js')).restyleCommand({ ...flags, npyOut: flags.npy, npy: undefined }));

dataInputOptions(
  program
    .command('encode')
    .description('latent codes h = f(x) of images, as float32 [n, D] .npy')
    .requiredOption('--model <file>', 'model.safetensors')
    .requiredOption('--out <codes.npy>', 'where the codes go')
    .option('--limit <n>', 'first N images of the split', int(1))
    .option('--index <i,j,...>', 'these images of the split', parseIndexList)
    .option('--image <files...>', 'PNG images instead of a data set')
    .option('--npy <file.npy>', 'images as a .npy instead of a data set: uint8 holds pixels 0–255, dequantized as --data does (--dequantize, --seed); float32 or float64 [n, D] holds values already in the model\'s data range')
    .option('--label <class>', 'a class-conditional model: encode under this class (data sets: default each image\'s own label)', int(0)),
  'center',
).action((flags) => encodeCommand(flags));

program
  .command('decode')
  .description('images x = f⁻¹(h) from latent codes in a .npy')
  .requiredOption('--model <file>', 'model.safetensors')
  .requiredOption('--codes <codes.npy>', 'float32 [n, D] latent codes, as encode writes them')
  .option('--out <file.png>', 'PNG grid (clipped to [0,1])')
  .option('--npy <file.npy>', 'decoded images, float32 [n, D]')
  .option('--label <class>', 'a class-conditional model: decode under this class', int(0))
  .addOption(backendOption())
  .action((flags) => decodeCommand(flags));

dataInputOptions(
  program
    .command('interpolate')
    .description('decode points on the line between the latent codes of two images')
    .requiredOption('--model <file>', 'model.safetensors')
    .requiredOption('--from <i>', 'first image (index in the split)', int(0))
    .requiredOption('--to <j>', 'last image (index in the split)', int(0))
    .option('--steps <n>', 'images in the strip, endpoints included', int(2), 8)
    .option('--out <file.png>', 'PNG strip')
    .option('--npy <file.npy>', 'the strip as float32 [steps, D]')
    .option('--label <class>', 'a class-conditional model: both images under this class (default: each under its own label, the label moving along the line)', int(0)),
  'center',
).action((flags) => interpolateCommand({ ...flags, npyOut: flags.npy, npy: undefined }));

program
  .command('spectrum')
  .description("the sorted exp(−s) of the scaling layer, the paper's spectrum: which latent dimensions carry the variance")
  .requiredOption('--model <file>', 'model.safetensors')
  .option('--out <file.png>', 'chart on a log scale')
  .option('--json', 'print {"dim", "spectrum"} as the last line', false)
  .addOption(backendOption())
  .action((flags) => spectrumCommand(flags));

program
  .command('studio')
  .description('serve the browser studio (train, sample, draw and complete, interpolate, edit latents) on a local port and print its URL')
  .option('--model <files...>', 'model.safetensors file(s) to offer in the page; the first is loaded at start (without it, the first model of the studio\'s gallery)')
  .option('--port <n>', 'port (0 picks a free one)', int(0), 8080)
  .option('--host <address>', 'address to listen on; 127.0.0.1 keeps the studio on this machine', '127.0.0.1')
  .action(async (flags) => (await import('./studio.js')).studioCommand(flags));

// Output piped into a reader that stops early (`nice-flow eval … | head -1`): stop quietly, as other tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof NiceFlowError) {
    process.stderr.write(`nice-flow: ${e.message}\n`);
  } else {
    const err = e as Error;
    process.stderr.write(`nice-flow: internal error: ${err?.message ?? String(e)}` +
      (process.env.NICE_FLOW_DEBUG ? `\n${err?.stack}` : ' (set NICE_FLOW_DEBUG=1 for details; please report it)') + '\n');
  }
  process.exitCode = 1;
}
