// What a link reproduces (as TensorFlow Playground does): the model, the Sample panel's seed, temperature and class,
// and the Interpolate panel's two test images, kept in the page's query string (`?model=mnist&seed=3&t=0.7`).
// Reading is forgiving: a value that does not parse is left out (the panel's default stands), never an error.

export interface UrlState {
  /** A served or gallery model's name. */
  model?: string;
  seed?: number;
  /** Sampling temperature. */
  t?: number;
  /** A class-conditional model's class to sample (absent: a row per class). */
  label?: number;
  /** The Interpolate panel's test images. */
  a?: number;
  b?: number;
}

const INTEGER_KEYS = ['seed', 'label', 'a', 'b'] as const;

/** The state the page's address holds. */
export function readUrlState(search: string = location.search): UrlState {
  const q = new URLSearchParams(search);
  const out: UrlState = {};
  const model = q.get('model');
  if (model && /^[\w.-]{1,100}$/.test(model)) out.model = model;
  for (const k of INTEGER_KEYS) {
    const text = q.get(k);
    const v = Number(text);
    if (text !== null && text.trim() !== '' && Number.isSafeInteger(v) && v >= 0) out[k] = v;
  }
  const t = Number(q.get('t'));
  if (q.get('t') !== null && Number.isFinite(t) && t >= 0 && t <= 1.5) out.t = t;
  return out;
}

/** Changes the address to hold `patch` (an undefined value removes its key), without a new history entry. */
export function writeUrlState(patch: Partial<UrlState>): void {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null) url.searchParams.delete(k);
    else url.searchParams.set(k, String(v));
  }
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}
