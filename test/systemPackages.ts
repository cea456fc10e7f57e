// Suites that need a Debian package (Chromium, PyTorch, OpenBLAS, Fashion-MNIST) skip where it is missing, with one
// line naming the `apt-get install …` that enables them, so `npm ci && npm test` passes on a machine with only Node.
// `.ci/run` installs every package and sets NICE_FLOW_REQUIRE_ALL=1: there a missing package is a failure, not a
// skip, so CI runs every suite.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Set by `.ci/run`: a suite that would skip for a missing package fails instead. */
export const REQUIRE_ALL = process.env.NICE_FLOW_REQUIRE_ALL === '1';

/** Debian's Chromium, which playwright-core drives. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where Debian's dataset-fashion-mnist puts the test images. */
const FASHION_TEST = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';

/**
 * The `skip` option of a suite that needs `what`: false when it is there (or NICE_FLOW_REQUIRE_ALL is set, so the
 * suite runs and fails on its own one-line error), else the reason node:test prints beside SKIP.
 */
export function skipWithout(available: boolean, what: string, install: string): string | false {
  if (available || REQUIRE_ALL) return false;
  return `needs ${what}: ${install} (NICE_FLOW_REQUIRE_ALL=1 makes this a failure)`;
}

/** Skip reason for suites that drive Chromium. */
export const skipWithoutChromium = (): string | false => skipWithout(existsSync(CHROMIUM), `Chromium at ${CHROMIUM}`, 'apt-get install chromium');

/** Skip reason for suites that read Fashion-MNIST from its Debian package (NICE_FLOW_FASHION_MNIST_DIR counts too). */
export const skipWithoutFashionMnist = (): string | false =>
  skipWithout(existsSync(FASHION_TEST) || !!process.env.NICE_FLOW_FASHION_MNIST_DIR, 'Fashion-MNIST', 'apt-get install dataset-fashion-mnist');

/**
 * The interpreter that runs the PyTorch twin: NICE_FLOW_PYTHON when set, else the first of python3 on PATH and
 * Debian's /usr/bin/python3 (python3-torch installs there, which a pyenv or venv python3 earlier on PATH does not
 * see) that imports torch and numpy; null with what was tried when none does.
 */
export function findTorchPython(): { python: string | null; tried: string[] } {
  const candidates = process.env.NICE_FLOW_PYTHON ? [process.env.NICE_FLOW_PYTHON] : ['python3', '/usr/bin/python3'];
  const tried: string[] = [];
  for (const c of [...new Set(candidates)]) {
    const r = spawnSync(c, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return { python: c, tried };
    tried.push(`${c}: ${r.error ? (r.error as NodeJS.ErrnoException).code : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`)}`);
  }
  return { python: null, tried };
}
