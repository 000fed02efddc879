// What the two classifier benches share: queue files filled with posts, labels counted, and one
// `pipeline invoke` in a child process with its peak memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { SqliteQueue } = require('@pipeline-invocation/post-labelling');
const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(workspace, 'packages/invoker/bin/pipeline.js');
/**
 * The start cache of this bench's invocations (PIPELINE_CACHE_DIR): one folder for all of them, so
 * each after the first starts as a user's does, and not the user's ~/.cache; removed at exit.
 */
const cacheDir = mkdtempSync(join(tmpdir(), 'bench-labelling-cache-'));
process.on('exit', () => rmSync(cacheDir, { recursive: true, force: true }));

/** The queue folder of a run whose PIPELINE_HOME is `home`. */
export const queueDir = (home) => join(home, 'data', 'queue');

/** Put `total` posts on the queue file `file`, `perRow` per row. */
export function enqueuePosts(file, total, perRow = 100) {
  const queue = new SqliteQueue(file);
  const post = (i) => ({
    uri: `at://bench/post/${i}`,
    text: `benchmark post number ${i} with some words`,
    preprocessing_timestamp: '2026-11-20-10:00:00',
  });
  queue.db.transaction(() => {
    for (let i = 0; i < total; i += perRow)
      queue.add(
        Array.from({ length: Math.min(perRow, total - i) }, (_, j) => post(i + j)),
        { source: 'bench' },
      );
  })();
  queue.close();
}

/** Labels in the output queue file `file`. */
export function countLabels(file) {
  const queue = new SqliteQueue(file, { readonly: true });
  const labelled = queue.stats().reduce((n, s) => n + s.items, 0);
  queue.close();
  return labelled;
}

/** `pipeline invoke <service>` (prod run) in a child process: its record and peak RSS (bytes). */
export function invokeInChild(service, home, env) {
  const rssFile = join(home, 'maxrss');
  const preload = join(home, 'maxrss.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS * 1024)));`,
  );
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--require', preload, cli, 'invoke', service, '--payload', '{"run_type":"prod"}', '--json'],
      {
        cwd: workspace,
        env: {
          PATH: process.env.PATH,
          PIPELINE_HOME: home,
          PIPELINE_CACHE_DIR: cacheDir,
          LOG_LEVEL: 'warn',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`pipeline invoke exited ${code}: ${out}`));
      done({ record: JSON.parse(out), maxRssBytes: Number(readFileSync(rssFile, 'utf8')) });
    });
  });
}
