// Under NICE_FLOW_REQUIRE_ALL=1 (.ci/run sets it after installing them) every Debian package a suite needs must be
// there: a suite that would skip elsewhere fails CI instead.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { blasAvailable } from '../src/node/createBlasBackend.js';
import { loadOneDnn } from '../src/node/loadOneDnn.js';
import { CHROMIUM, findTorchPython, REQUIRE_ALL } from './systemPackages.js';

describe('every system package the suites use (NICE_FLOW_REQUIRE_ALL=1)', { skip: !REQUIRE_ALL && 'runs under NICE_FLOW_REQUIRE_ALL=1 (.ci/run sets it)' }, () => {
  it('Chromium', () => assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`));
  it('python3 with PyTorch and NumPy', () => {
    const found = findTorchPython();
    assert.ok(found.python, `no python3 imports torch and numpy (tried ${found.tried.join('; ')}): apt-get install python3-torch python3-numpy`);
  });
  it('OpenBLAS', () => assert.ok(blasAvailable(), 'OpenBLAS is missing: apt-get install libopenblas0-pthread'));
  it('oneDNN', () => assert.ok(loadOneDnn() !== null, 'oneDNN is missing: apt-get install libdnnl2'));
  it('Fashion-MNIST', () => assert.ok(existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'), 'Fashion-MNIST is missing: apt-get install dataset-fashion-mnist'));
});
