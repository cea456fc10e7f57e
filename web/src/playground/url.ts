// The playground's state in its address (`?data=rings&K=8&law=additive&seed=3`): the data, the model and the seed,
// so a link reproduces what the sender saw. Drawn points travel too, as base64url of int16 pairs (1/2048 units).
// Reading is forgiving: a value that does not parse keeps its default.
import { DEFAULT_SETTINGS, PG_DATASETS, PG_LAWS, PG_PRIORS, type PgDataName, type PgLaw, type PgPrior, type PgSettings } from './protocol.js';

/** The choices the controls offer (a link with another value falls back to the default). */
export const CHOICES = {
  count: [500, 1000, 2000, 5000, 10_000, 20_000, 50_000],
  couplings: [2, 3, 4, 6, 8, 10, 12, 16],
  hidden: [8, 16, 32, 64, 128],
  depth: [1, 2, 3, 4],
  lr: [0.0003, 0.001, 0.002, 0.003, 0.01],
  batch: [32, 64, 128, 256, 512],
} as const;

const KEYS: Record<keyof PgSettings, string> = {
  data: 'data', count: 'n', noise: 'noise', couplings: 'K', hidden: 'h', depth: 'd', law: 'law', prior: 'prior', lr: 'lr', batch: 'b', seed: 'seed',
};

const SCALE = 2048;
/** The most drawn points a link carries. */
export const MAX_LINK_POINTS = 3000;

export function encodePoints(points: Float32Array): string {
  const n = Math.min(points.length >> 1, MAX_LINK_POINTS);
  const q = new Int16Array(2 * n);
  for (let i = 0; i < 2 * n; i++) q[i] = Math.max(-32768, Math.min(32767, Math.round(points[i] * SCALE)));
  const bytes = new Uint8Array(q.buffer);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodePoints(text: string): Float32Array | null {
  try {
    const b = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    if (b.length % 4 !== 0) return null;
    const bytes = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) bytes[i] = b.charCodeAt(i);
    const q = new Int16Array(bytes.buffer);
    const out = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) out[i] = q[i] / SCALE;
    return out;
  } catch {
    return null;
  }
}

function pick<T extends number>(text: string | null, allowed: readonly T[], fallback: T): T {
  const v = Number(text);
  return text !== null && allowed.includes(v as T) ? (v as T) : fallback;
}

/** The settings (and drawn points) a query string holds. */
export function readUrl(search: string = location.search): { settings: PgSettings; drawn: Float32Array | null } {
  const q = new URLSearchParams(search);
  const d = DEFAULT_SETTINGS;
  const data = q.get(KEYS.data);
  const noiseText = q.get(KEYS.noise);
  const noise = Number(noiseText);
  const seedText = q.get(KEYS.seed);
  const seed = Number(seedText);
  const settings: PgSettings = {
    data: PG_DATASETS.includes(data as PgDataName) ? (data as PgDataName) : d.data,
    count: pick(q.get(KEYS.count), CHOICES.count, d.count),
    noise: noiseText !== null && noiseText.trim() !== '' && Number.isFinite(noise) && noise >= 0 && noise <= 2 ? noise : null,
    couplings: pick(q.get(KEYS.couplings), CHOICES.couplings, d.couplings),
    hidden: pick(q.get(KEYS.hidden), CHOICES.hidden, d.hidden),
    depth: pick(q.get(KEYS.depth), CHOICES.depth, d.depth),
    law: PG_LAWS.includes(q.get(KEYS.law) as PgLaw) ? (q.get(KEYS.law) as PgLaw) : d.law,
    prior: PG_PRIORS.includes(q.get(KEYS.prior) as PgPrior) ? (q.get(KEYS.prior) as PgPrior) : d.prior,
    lr: pick(q.get(KEYS.lr), CHOICES.lr, d.lr),
    batch: pick(q.get(KEYS.batch), CHOICES.batch, d.batch),
    seed: seedText !== null && Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 31 ? seed : d.seed,
  };
  const pts = q.get('pts');
  return { settings, drawn: settings.data === 'drawn' && pts ? decodePoints(pts) : null };
}

/** Puts the settings (and the drawn points, for drawn data) into the address, without a new history entry. */
export function writeUrl(s: PgSettings, drawn: Float32Array | null): void {
  const url = new URL(location.href);
  const q = url.searchParams;
  for (const key of Object.keys(KEYS) as Array<keyof PgSettings>) {
    const v = s[key];
    if (v === null || (key === 'noise' && s.data === 'drawn')) q.delete(KEYS[key]);
    else q.set(KEYS[key], String(v));
  }
  // The drawn points are the data: no count.
  if (s.data === 'drawn') q.delete(KEYS.count);
  if (s.data === 'drawn' && drawn && drawn.length) q.set('pts', encodePoints(drawn));
  else q.delete('pts');
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}
