// The code cache folder of the CLI's start path (scripts/start-loader.cjs) is pruned when a start
// writes a new code cache (scripts/start-cache-prune.cjs): real files, their times set with utimes,
// the time of the prune given.
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

interface Pruning {
  pruneCache(dir: string, current?: { cache?: string; prefix?: string }, nowMs?: number): string[];
}
const { pruneCache } = jest.requireActual<Pruning>('../../../scripts/start-cache-prune.cjs');

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW_MS = Date.UTC(2026, 5, 1);
const NODE = 'v22.23.5-x64';
const PLACE = 'aaaaaaaa';

/** Write `name` (with folders) in `dir`, last written `daysAgo` days before `nowMs`. */
function file(dir: string, name: string, daysAgo: number, nowMs = NOW_MS): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'x');
  const at = (nowMs - daysAgo * DAY_MS) / 1000;
  utimesSync(path, at, at);
  return name;
}

const cacheName = (build: string, node = NODE, place = PLACE, bundle = 'pipeline.bundle') =>
  `${bundle}-${place}-${build.padStart(16, '0')}-${node}.v8`;
const stampName = (build: string, place = PLACE, bundle = 'pipeline.bundle') =>
  `${bundle}-${place}-${build.padStart(16, '0')}.check.json`;
const list = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();

describe('pruning the code cache folder', () => {
  it("a new build's code cache replaces this installation's earlier ones for this Node at once, and their stamps", () => {
    const dir = tempDir('prune-build-');
    const current = file(dir, cacheName('b2'), 0);
    const kept = [
      current,
      file(dir, stampName('b2'), 0),
      file(dir, cacheName('b1', 'v24.22.3-x64'), 1), // the earlier build on another Node: that Node's to replace
      file(dir, cacheName('b1', NODE, 'bbbbbbbb'), 1), // another installation's
      file(dir, stampName('b1', 'bbbbbbbb'), 1),
      file(dir, cacheName('b1', NODE, PLACE, 'lambda.bundle'), 1), // another bundle of the same installation
    ];
    const gone = [file(dir, cacheName('b1'), 1), file(dir, stampName('b1'), 1)];
    expect(pruneCache(dir, { cache: current, prefix: `pipeline.bundle-${PLACE}-` }, NOW_MS).sort()).toEqual(
      gone.sort(),
    );
    expect(list(dir)).toEqual(kept.sort());
  });

  it('removes code caches no start has used for 30 days, with the stamps of their builds', () => {
    const dir = tempDir('prune-age-');
    const current = file(dir, cacheName('c0', NODE, 'cccccccc'), 0);
    const kept = [
      current,
      file(dir, cacheName('a1', NODE, 'dddddddd'), 29),
      file(dir, stampName('a1', 'dddddddd'), 45), // its build still has a code cache
      file(dir, cacheName('a2', 'v20.20.2-x64', 'eeeeeeee'), 30),
    ];
    const gone = [
      file(dir, cacheName('a3', NODE, 'ffffffff'), 31),
      file(dir, stampName('a3', 'ffffffff'), 31),
      file(dir, cacheName('a4', 'v24.22.3-x64', '11111111'), 90), // a Node version no longer used
      file(dir, `lambda.bundle-538ce0d138237540-${NODE}.v8`, 60), // named as older releases did (no place)
      file(dir, stampName('a5', '22222222'), 2), // its build's caches are gone
    ];
    expect(pruneCache(dir, { cache: current, prefix: 'pipeline.bundle-cccccccc-' }, NOW_MS).sort()).toEqual(
      gone.sort(),
    );
    expect(list(dir)).toEqual(kept.sort());
  });

  it('keeps the 16 most recently used code caches of each Node version', () => {
    const dir = tempDir('prune-count-');
    const current = file(dir, cacheName('0', NODE, '00000000'), 0);
    // 20 other installations on this Node, used 1..20 hours ago; 3 on another Node
    const others = Array.from({ length: 20 }, (_, i) =>
      file(dir, cacheName('1', NODE, (i + 1).toString(16).padStart(8, '0')), (i + 1) / 24),
    );
    const otherNode = Array.from({ length: 3 }, (_, i) =>
      file(dir, cacheName('1', 'v24.22.3-x64', (i + 1).toString(16).padStart(8, '0')), 5),
    );
    const removed = pruneCache(dir, { cache: current, prefix: 'pipeline.bundle-00000000-' }, NOW_MS);
    expect(removed.sort()).toEqual(others.slice(15).sort()); // the current one and the 15 latest stay
    expect(list(dir)).toEqual([current, ...others.slice(0, 15), ...otherNode].sort());
  });

  it('never touches node/ (the Node builds CI uses), compile/ within a day, or files it did not name', () => {
    const dir = tempDir('prune-foreign-');
    const current = file(dir, cacheName('d1'), 0);
    const kept = [
      current,
      file(dir, 'node/v22.23.5/bin/node', 400),
      file(dir, `node/${cacheName('d0')}`, 400), // named like a code cache, but not in the folder itself
      file(dir, 'node/better-sqlite3/127/better_sqlite3.node', 400),
      file(dir, 'notes.txt', 400),
      file(dir, 'pipeline.bundle.js', 400),
      file(dir, 'compile/v22.23.5-x64-9ac5647c-0/0017d36b', 400),
      file(dir, '.compile-pruned', 0.5), // the last prune of Node's compile cache was 12 hours ago
    ];
    const before = list(dir);
    expect(pruneCache(dir, { cache: current, prefix: `pipeline.bundle-${PLACE}-` }, NOW_MS)).toEqual([]);
    expect(list(dir)).toEqual(before);
    expect(kept.every((name) => before.includes(name))).toBe(true);
  });

  it("prunes Node's compile cache at most once a day: entries not written for 30 days, and an emptied folder", () => {
    const dir = tempDir('prune-compile-');
    const current = file(dir, cacheName('e1'), 0);
    const recent = file(dir, 'compile/v24.22.3-x64-964aae3f-0/1e295a1f', 3);
    const gone = [
      file(dir, 'compile/v24.22.3-x64-964aae3f-0/c5147507', 31),
      file(dir, 'compile/v20.99.0-x64-00000000-0/aaaa0000', 120), // a Node version no longer used
    ];
    expect(pruneCache(dir, { cache: current }, NOW_MS).sort()).toEqual(gone.sort());
    expect(list(dir)).toEqual(
      ['.compile-pruned', 'compile', 'compile/v24.22.3-x64-964aae3f-0', current, recent].sort(),
    );
    // the next day's entries: a prune 23 hours later leaves them, one 25 hours later does not
    const aged = file(dir, 'compile/v24.22.3-x64-964aae3f-0/0009bd76', 31);
    expect(pruneCache(dir, { cache: current }, NOW_MS + 23 * 60 * 60 * 1000)).toEqual([]);
    expect(pruneCache(dir, { cache: current }, NOW_MS + 25 * 60 * 60 * 1000)).toEqual([aged]);
  });

  it('removes a write interrupted a day ago, not one that may be under way', () => {
    const dir = tempDir('prune-partial-');
    const current = file(dir, cacheName('f1'), 0);
    const under = file(dir, `${cacheName('f1', 'v24.22.3-x64')}.4242.tmp`, 0.01);
    const gone = file(dir, `${cacheName('f0', 'v24.22.3-x64')}.4141.tmp`, 2);
    expect(pruneCache(dir, { cache: current }, NOW_MS)).toEqual([gone]);
    expect(list(dir)).toEqual([current, under].sort());
  });

  it('never throws: a folder that is not there, or a file instead of a folder', () => {
    const dir = tempDir('prune-missing-');
    expect(pruneCache(join(dir, 'not-there'), { cache: cacheName('g1') }, NOW_MS)).toEqual([]);
    expect(pruneCache(join(dir, file(dir, 'a-file', 0)), {}, NOW_MS)).toEqual([]);
  });
});

describe('pipeline invoke and its code cache folder (real CLI processes)', () => {
  const root = createHostProject([cjsPlugin('cache-plugin', ['cache_service'])]);
  const invoke = (cache: string) =>
    runCli(['invoke', 'cache_service', '--json'], {
      cwd: root,
      env: { PIPELINE_CACHE_DIR: cache, PIPELINE_HOME: tempDir('cache-home-') },
    });

  it('a start that writes a new code cache prunes what no start used for 30 days; a start that reads one marks it used', async () => {
    const cache = tempDir('cli-cache-');
    const nowMs = Date.now();
    const old = [
      file(cache, cacheName('1', `${process.version}-${process.arch}`, '12345678'), 31, nowMs),
      file(cache, stampName('1', '12345678'), 31, nowMs),
    ];
    const node = file(cache, 'node/v24.22.3/bin/node', 400, nowMs);
    const first = await invoke(cache);
    expect([first.code, JSON.parse(first.stdout).status]).toEqual([0, 'SUCCEEDED']);
    const written = readdirSync(cache).filter((name) => name.startsWith('pipeline.bundle-') && name.endsWith('.v8'));
    expect(written).toHaveLength(1);
    expect(old.filter((name) => existsSync(join(cache, name)))).toEqual([]);
    expect(existsSync(join(cache, node))).toBe(true);

    // read by a start two days after it was written: its time then says it was used
    const twoDaysAgo = (nowMs - 2 * DAY_MS) / 1000;
    utimesSync(join(cache, written[0]!), twoDaysAgo, twoDaysAgo);
    const second = await invoke(cache);
    expect([second.code, JSON.parse(second.stdout).status]).toEqual([0, 'SUCCEEDED']);
    expect(statSync(join(cache, written[0]!)).mtimeMs).toBeGreaterThan(nowMs - DAY_MS);
  });
});
