// The prior and coupling-law registries (src/priors/priorRegistry.ts, src/flows/laws/lawRegistry.ts): every
// registered entry is checked generically, so a new prior or law is tested by being registered. Priors: the density
// integrates to 1, its standard deviation is `std`, the score is its derivative, draws follow it, the fused batch
// hook (if any) equals the element-wise path. Laws: round trip, log-det against a brute-force Jacobian, backward
// against float64 finite differences, at the law level (the whole bijection property suite in
// test/bijections.test.ts loops over COUPLING_LAWS too). And the config check and the CLI take their names from the
// registries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { COUPLING_LAWS, lawOutputGroups } from '../src/flows/couplingLaw.js';
import { COUPLING_LAW_REGISTRY, getLaw } from '../src/flows/laws/lawRegistry.js';
import { validateConfig } from '../src/model/NiceConfig.js';
import { getPrior } from '../src/priors/getPrior.js';
import { PRIOR_NAMES, PRIORS } from '../src/priors/priorRegistry.js';
import { cli } from './cliRun.js';
import { describeLawChecks, describePriorChecks } from './registryChecks.js';

const isUserError = (pattern: RegExp) => (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message);

describe('prior registry', () => {
  it('names and objects agree; getPrior looks up the registry and lists it for an unknown name', () => {
    assert.ok(PRIOR_NAMES.length >= 2);
    assert.deepEqual(Object.keys(PRIORS), [...PRIOR_NAMES]);
    for (const name of PRIOR_NAMES) {
      assert.equal(PRIORS[name].name, name);
      assert.equal(getPrior(name), PRIORS[name]);
    }
    assert.throws(() => getPrior('cauchy'), isUserError(new RegExp(`unknown prior "cauchy" \\(use one of ${PRIOR_NAMES.join(', ')}\\)`)));
    assert.throws(() => getPrior('toString'), NiceFlowError);
  });

  for (const name of PRIOR_NAMES) describePriorChecks(PRIORS[name], true);

  it('the config check rejects other names, listing the registered ones', () => {
    assert.throws(
      () => validateConfig({ dim: 8, couplings: 2, hidden: 4, depth: 1, prior: 'cauchy', partition: 'alternate' }),
      isUserError(new RegExp(`"prior" must be one of ${PRIOR_NAMES.join(', ')}, got "cauchy"`)),
    );
  });
});

describe('coupling law registry', () => {
  it('names and objects agree; getLaw looks up the registry and lists it for an unknown name', () => {
    assert.ok(COUPLING_LAWS.includes('additive'));
    assert.deepEqual(Object.keys(COUPLING_LAW_REGISTRY), [...COUPLING_LAWS]);
    for (const name of COUPLING_LAWS) {
      assert.equal(COUPLING_LAW_REGISTRY[name].name, name);
      assert.equal(getLaw(name), COUPLING_LAW_REGISTRY[name]);
      assert.equal(lawOutputGroups(name), COUPLING_LAW_REGISTRY[name].groups);
    }
    assert.throws(() => getLaw('cubic'), isUserError(new RegExp(`unknown coupling law "cubic" \\(use one of ${COUPLING_LAWS.join(', ')}\\)`)));
    assert.throws(
      () => validateConfig({ dim: 8, couplings: 2, hidden: 4, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'cubic' }),
      isUserError(new RegExp(`"coupling" must be one of ${COUPLING_LAWS.join(', ')}, got "cubic"`)),
    );
  });

  for (const name of COUPLING_LAWS) describeLawChecks(COUPLING_LAW_REGISTRY[name], true);
});

describe('the CLI takes its names from the registries', () => {
  it('train --help lists every registered prior for --prior and every registered law for --coupling', () => {
    const r = cli('train', '--help');
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.replace(/\s+/g, ' ');
    const choices = (flag: string): string[] => {
      const m = new RegExp(`${flag} <[^>]+> .*?\\(choices: ([^)]*?), default`).exec(text);
      assert.ok(m, `no choices for ${flag} in:\n${r.stdout}`);
      return [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
    };
    assert.deepEqual(choices('--prior'), [...PRIOR_NAMES]);
    assert.deepEqual(choices('--coupling'), [...COUPLING_LAWS]);
  });
});
