// The API reference (`npm run docs:api`, TypeDoc over src/index.ts into dist/api): every public export documented,
// every type an export refers to exported too, no broken {@link}. typedoc.json treats each such warning as an error;
// here it runs without writing anything, so a new undocumented export fails the suite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { root } from './cliRun.js';

describe('the API reference', () => {
  it('builds from the JSDoc of every public export without a warning', { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--emit', 'none', '--logLevel', 'Warn'], { cwd: root, encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').trim();
    assert.equal(r.status, 0, out);
    assert.doesNotMatch(out, /warning|error/i, out);
  });
});
