import { ConvNet } from '../../nn/ConvNet.js';
import { GatedConvNet } from '../../nn/GatedConvNet.js';
import type { CouplingNet } from '../../nn/CouplingNet.js';
import { Mlp } from '../../nn/Mlp.js';
import { Coupling } from '../Coupling.js';
import { lawOutputGroups } from '../couplingLaw.js';
import { COUPLING_LAWS, type CouplingLaw } from '../laws/lawRegistry.js';
import { PARTITION_NAMES, partitionFor, type PartitionName } from '../Partition.js';
import { MAX_CONTEXT } from './contextAffineStep.js';
import { SpecReader } from './readSpec.js';
import type { Shape3, StepKind, StepSpec } from './StepKind.js';

/** The coupling networks a coupling step can use. */
export const COUPLING_NETWORKS = ['mlp', 'conv', 'gated'] as const;

/** A coupling step's settings (the `coupling` kind). */
export interface CouplingSpec extends StepSpec {
  type: 'coupling';
  /** The coupling law (NICE §3.2); default additive. */
  law: CouplingLaw;
  /** Which coordinates stay and which move (src/flows/Partition.ts); default alternate. */
  partition: PartitionName;
  /** 0: the partition's second set moves, 1: the first; default: consecutive couplings alternate. */
  parity?: number;
  /**
   * The coupling network m: dense `mlp`, `conv` (3×3 convolutions, then a 1×1) or `gated` (gated residual blocks:
   * src/nn/GatedConvNet.ts); default mlp.
   */
  network: (typeof COUPLING_NETWORKS)[number];
  /** Units (mlp) or channels (conv) per hidden layer. */
  hidden: number;
  /** Hidden layers (mlp, ≥ 0), 3×3 convolutions (conv, ≥ 1) or gated residual blocks (gated, ≥ 1). */
  depth: number;
  /** Start the network's last layer at zero, so the coupling starts as the identity (conv and gated). */
  zeroInit?: boolean;
  /**
   * A conditional coupling: its network also reads the example's context, this many values (a dense network as
   * extra inputs, a conv network as a learned embedding added to its first layer at every pixel).
   */
  context?: number;
}

function partitionOf(spec: CouplingSpec, shape: Shape3, parity: number) {
  return partitionFor(spec.partition, spec.parity ?? parity, shape[0] * shape[1] * shape[2], [...shape]);
}

/** A coupling layer (NICE §3.2) with a registered law and a dense or convolutional network. */
export const couplingStep: StepKind<CouplingSpec> = {
  type: 'coupling',
  summary: 'coupling layer: y_I1 = x_I1, y_I2 = g(x_I2; m(x_I1)) with a law (additive, multiplicative, affine, bounded-affine, glow-affine) and a network (mlp, conv, gated)',
  validate(raw, shape) {
    const r = new SpecReader(raw, 'coupling step');
    const spec: CouplingSpec = {
      type: 'coupling',
      law: r.oneOf('law', COUPLING_LAWS, 'additive'),
      partition: r.oneOf('partition', PARTITION_NAMES, 'alternate'),
      network: r.oneOf('network', COUPLING_NETWORKS, 'mlp'),
      hidden: r.int('hidden', 1, 2 ** 20),
      depth: 0,
    };
    spec.depth = r.int('depth', spec.network === 'mlp' ? 0 : 1, 1024);
    if (raw.parity !== undefined) spec.parity = r.int('parity', 0, 1);
    if (r.bool('zeroInit', false)) spec.zeroInit = true;
    if (raw.context !== undefined) {
      spec.context = r.int('context', 1, MAX_CONTEXT);
    }
    r.done();
    // The partition must fit the shape (channels needs C ≥ 2).
    partitionOf(spec, shape, 0);
    return spec;
  },
  outShape: (_spec, shape) => shape,
  paramShapes(spec, shape) {
    const part = partitionOf(spec, shape, 0);
    const G = lawOutputGroups(spec.law);
    const out: { name: string; shape: number[] }[] = [];
    if (spec.network === 'gated') {
      const C = shape[0], F = spec.hidden;
      const conv = (name: string, outC: number, inC: number, k: number) => out.push({ name: `${name}.weight`, shape: [outC, inC, k, k] }, { name: `${name}.bias`, shape: [outC] });
      conv('first', F, C, 3);
      for (let b = 0; b < spec.depth; b++) {
        conv(`blocks.${b}.conv`, F, F, 3);
        conv(`blocks.${b}.gate`, 2 * F, F, 1);
      }
      conv('last', G * C, F, 1);
      if (spec.context) out.push({ name: 'context.weight', shape: [F, spec.context] });
    } else if (spec.network === 'conv') {
      const C = shape[0];
      for (let j = 0; j <= spec.depth; j++) {
        const last = j === spec.depth;
        const k = last ? 1 : 3;
        const outC = last ? G * C : spec.hidden;
        out.push({ name: `layers.${j}.weight`, shape: [outC, j === 0 ? C : spec.hidden, k, k] }, { name: `layers.${j}.bias`, shape: [outC] });
      }
      if (spec.context) out.push({ name: 'context.weight', shape: [spec.hidden, spec.context] });
    } else {
      const widths = [part.kept.length + (spec.context ?? 0), ...Array<number>(spec.depth).fill(spec.hidden), G * part.updated.length];
      for (let j = 0; j + 1 < widths.length; j++) out.push({ name: `layers.${j}.weight`, shape: [widths[j + 1], widths[j]] }, { name: `layers.${j}.bias`, shape: [widths[j + 1]] });
    }
    return out;
  },
  build(spec, site) {
    const { backend, shape, prefix } = site;
    const part = partitionOf(spec, shape, site.parity);
    const G = lawOutputGroups(spec.law);
    const net: CouplingNet =
      spec.network === 'gated'
        ? new GatedConvNet(backend, [...shape], part.kept, part.updated, G, spec.hidden, spec.depth, prefix, spec.zeroInit ?? false, spec.context ?? 0)
        : spec.network === 'conv'
        ? new ConvNet(backend, [...shape], part.kept, part.updated, G, spec.hidden, spec.depth, prefix, spec.zeroInit ?? false, spec.context ?? 0)
        : new Mlp(backend, part.kept.length + (spec.context ?? 0), G * part.updated.length, spec.hidden, spec.depth, prefix);
    return new Coupling(backend, shape[0] * shape[1] * shape[2], part, net, spec.law, spec.context ?? 0);
  },
};
