// Draws learning curves from training logs: test (or validation) log-likelihood against minutes of training.
//
//   node --import tsx scripts/plot-curves.ts docs/curves.png "EMA 0.999=runs/ema/log.jsonl" "paper recipe=runs/base/log.jsonl"
//   node --import tsx scripts/plot-curves.ts --bits --ref "1.25=goal" docs/curves-conv.png "mnist-conv=runs/mnist-conv/log.jsonl"
//
// --bits draws bits/dim instead of nats per image (lower is better); --ref VALUE=LABEL adds a dashed reference line
// (repeatable; without any, the nats chart marks the paper's 1980.5 and 2,060).
// Each argument after the output is LABEL=LOG (a train run's log.jsonl; runs with --log-test have test values, others
// are drawn from their validation values, said in the legend). LABEL=LOG#live draws the live weights of a run that
// averaged its weights (--ema with --log-test logs the test split for both). The chart is an SVG rendered by Debian's Chromium
// (playwright-core), so it needs no plotting library.
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

interface Series {
  label: string;
  points: [number, number][];
}

const args = process.argv.slice(2);
const bits = args.includes('--bits');
const refs: [number, string][] = [];
const positional: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--bits') continue;
  if (args[i] === '--ref') {
    const [v, ...label] = (args[++i] ?? '').split('=');
    refs.push([Number(v), label.join('=') || v]);
    continue;
  }
  positional.push(args[i]);
}
const [out, ...specs] = positional;
if (!out || specs.length === 0 || refs.some(([v]) => !Number.isFinite(v))) {
  process.stderr.write('usage: plot-curves.ts [--bits] [--ref VALUE=LABEL ...] OUT.png LABEL=log.jsonl [LABEL=log.jsonl ...]\n');
  process.exit(2);
}
if (!bits && refs.length === 0) refs.push([1980.5, 'paper, 1500 epochs: 1980.5'], [2060, 'goal: 2060']);

const series: Series[] = specs.map((spec) => {
  const at = spec.indexOf('=');
  const [label, target] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, spec];
  const live = target.endsWith('#live');
  const path = live ? target.slice(0, -'#live'.length) : target;
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  const [testKey, validKey] = bits
    ? live ? ['liveTestBitsPerDim', 'liveValidBitsPerDim'] : ['testBitsPerDim', 'validBitsPerDim']
    : live ? ['liveTestLogLikelihood', 'liveValidLogLikelihood'] : ['testLogLikelihood', 'validLogLikelihood'];
  const test = lines.every((l) => Number.isFinite(l[testKey]));
  const points = lines.map((l) => [l.seconds / 60, test ? l[testKey] : l[validKey]] as [number, number]);
  return { label: `${label} (${test ? 'test' : 'validation'})`, points };
});

const W = 900, H = 520, L = 70, R = 20, T = 30, B = 50;
const xs = series.flatMap((s) => s.points.map((p) => p[0]));
const ys = series.flatMap((s) => s.points.map((p) => p[1]));
const xMax = Math.max(...xs, 1);
// Early epochs of a NICE run sit far below zero; the interesting part is near the top: clip the y range at 1500.
// Bits/dim: lower is better, drawn growing downwards from the top (the best at the bottom), clipped at 4 bits/dim.
const yMax = bits ? Math.min(Math.ceil(Math.max(...ys) * 4) / 4, 4) : Math.ceil(Math.max(...ys) / 50) * 50 + 25;
const yMin = bits ? Math.max(0, Math.floor(Math.min(...ys, ...refs.map(([v]) => v)) * 10) / 10 - 0.05) : Math.max(Math.floor(Math.min(...ys) / 100) * 100, 1500);
const xOf = (x: number): number => L + ((W - L - R) * x) / xMax;
const yOf = (y: number): number => T + ((H - T - B) * (yMax - Math.min(Math.max(y, yMin), yMax))) / (yMax - yMin);
const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const tick = (lo: number, hi: number, n: number): number[] => {
  const raw = (hi - lo) / n;
  const step = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500].find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + 1e-9; k++) out.push(Math.round(k * step * 100) / 100);
  return out;
};
const svg: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">`,
  `<rect width="${W}" height="${H}" fill="white"/>`];
for (const y of tick(yMin, yMax, 8)) {
  svg.push(`<line x1="${L}" x2="${W - R}" y1="${yOf(y)}" y2="${yOf(y)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${yOf(y) + 4}" text-anchor="end">${y}</text>`);
}
for (const x of tick(0, xMax, 10)) {
  svg.push(`<line x1="${xOf(x)}" x2="${xOf(x)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`, `<text x="${xOf(x)}" y="${H - B + 18}" text-anchor="middle">${x}</text>`);
}
svg.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">minutes of training (validation excluded)</text>`,
  `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${bits ? 'bits per dimension (lower is better)' : 'log-likelihood, nats per image'}</text>`,
  `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`);
series.forEach((s, i) => {
  const c = colours[i % colours.length];
  svg.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map(([x, y]) => `${xOf(x).toFixed(1)},${yOf(y).toFixed(1)}`).join(' ')}"/>`);
  svg.push(`<rect x="${L + 14}" y="${T + 12 + 20 * i}" width="18" height="3" fill="${c}"/>`, `<text x="${L + 38}" y="${T + 18 + 20 * i}">${s.label}</text>`);
});
for (const ref of refs) {
  if (ref[0] < yMin || ref[0] > yMax) continue;
  svg.push(`<line x1="${L}" x2="${W - R}" y1="${yOf(ref[0])}" y2="${yOf(ref[0])}" stroke="#555" stroke-dasharray="5 4"/>`,
    `<text x="${W - R - 6}" y="${yOf(ref[0]) - 5}" text-anchor="end" fill="#555">${ref[1]}</text>`);
}
svg.push('</svg>');

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: W, height: H } });
await page.setContent(`<!doctype html><body style="margin:0">${svg.join('')}</body>`);
writeFileSync(out, await page.screenshot({ clip: { x: 0, y: 0, width: W, height: H } }));
await browser.close();
process.stderr.write(`wrote ${out}\n`);
