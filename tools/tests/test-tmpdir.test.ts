import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../../tests/support/temp-dir';

const script = resolve(__dirname, '../../scripts/test-tmpdir.cjs');

/**
 * A test run's setup and teardown in a process of their own (they change its environment): the
 * child sets up, lets `during` act in the run's folder, tears down, and prints what it saw.
 */
function run(during: string, env: Record<string, string> = {}) {
  const parent = tempDir('tmpdir-check-');
  const out = execFileSync(
    process.execPath,
    [
      '-e',
      `const { setup, teardown } = require(${JSON.stringify(script)});
const fs = require('node:fs'), path = require('node:path');
setup();
const seen = { tmpdir: process.env.TMPDIR, cache: process.env.PIPELINE_CACHE_DIR };
${during}
let error;
try { teardown(); } catch (e) { error = e.message; }
console.log(JSON.stringify({ ...seen, error, cacheAfter: process.env.PIPELINE_CACHE_DIR ?? null, runLeft: fs.existsSync(seen.tmpdir) }));`,
    ],
    { env: { PATH: process.env.PATH, TMPDIR: parent, CI: 'true', ...env }, encoding: 'utf8' },
  );
  const seen = JSON.parse(out) as {
    tmpdir: string;
    cache: string;
    error?: string;
    cacheAfter: string | null;
    runLeft: boolean;
  };
  return { parent, ...seen };
}

describe("a test run's temp folder (scripts/test-tmpdir.cjs)", () => {
  it("puts the start bundles' code cache in the run's folder, not the user's ~/.cache, and removes it with the run", () => {
    const seen = run(
      `fs.mkdirSync(process.env.PIPELINE_CACHE_DIR, { recursive: true });
fs.writeFileSync(path.join(process.env.PIPELINE_CACHE_DIR, 'pipeline.bundle-x.v8'), 'code cache');`,
    );
    expect(seen.cache).toBe(join(seen.tmpdir, 'pipeline-cache'));
    expect(seen.tmpdir.startsWith(join(seen.parent, 'pipeline-test-'))).toBe(true);
    // a tool cache, not a leftover: the CI run does not fail on it; the folder goes, the variable too
    expect(seen.error).toBeUndefined();
    expect([seen.runLeft, seen.cacheAfter]).toEqual([false, null]);
  });

  it('keeps a PIPELINE_CACHE_DIR the one running the tests set, and still fails a CI run on a leftover file', () => {
    const mine = tempDir('my-cache-');
    const seen = run(`fs.writeFileSync(path.join(process.env.TMPDIR, 'left-behind.txt'), 'x');`, {
      PIPELINE_CACHE_DIR: mine,
    });
    expect([seen.cache, seen.cacheAfter]).toEqual([mine, mine]);
    expect(seen.error).toContain('left 1 file(s) or folder(s) in the temp folder (now removed): left-behind.txt');
    expect(seen.runLeft).toBe(false);
    expect(existsSync(mine)).toBe(true);
  });
});
