// The Perspective handler against a loopback server that enforces 100 requests/s and adds
// 50 ms of latency: 2,000 posts with PERSPECTIVE_QPS=100, throughput as a ratio to the quota
// (target at least 0.95, i.e. 95 posts/s: the original's fixed 90-then-sleep-1.05 s schedule
// cannot pass 85.7), with no request refused for quota and no post lost. Then the peak memory
// of a run over a 200,000-post queue (target under 200 MB).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
require('@swc-node/register'); // the fake server is the test helper, written in TypeScript
const { startFakePerspective } = require('../packages/handler-perspective-api/tests/helpers/perspective-server.ts');
const { SqliteQueue, queueFiles } = require('@pipeline-invocation/handler-perspective-api');

const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(workspace, 'packages/invoker/bin/pipeline.js');

function enqueue(home, total, perRow = 100) {
  const queue = new SqliteQueue(queueFiles({ queueDir: join(home, 'data', 'queue') }).input);
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

function countLabels(home) {
  const queue = new SqliteQueue(queueFiles({ queueDir: join(home, 'data', 'queue') }).output, { readonly: true });
  const labelled = queue.stats().reduce((n, s) => n + s.items, 0);
  queue.close();
  return labelled;
}

/** Run one invocation in a child process; returns the record and the child's peak RSS (bytes). */
function invoke(home, env) {
  const rssFile = join(home, 'maxrss');
  const preload = join(home, 'maxrss.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS * 1024)));`,
  );
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        '--require',
        preload,
        cli,
        'invoke',
        'ml_inference_perspective_api',
        '--payload',
        '{"run_type":"prod"}',
        '--json',
      ],
      {
        cwd: workspace,
        env: {
          PATH: process.env.PATH,
          PIPELINE_HOME: home,
          PERSPECTIVE_API_KEY: 'bench-key',
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

let ok = true;
{
  const home = mkdtempSync(join(tmpdir(), 'bench-perspective-'));
  const server = await startFakePerspective({ quotaPerSec: 100, latencyMs: 50 });
  const posts = 2000;
  enqueue(home, posts);
  const { record } = await invoke(home, { PERSPECTIVE_API_URL: server.baseUrl, PERSPECTIVE_QPS: '100' });
  const meta = JSON.parse(record.metadata);
  const labelled = countLabels(home);
  const rate = meta.total_classified_posts / (record.duration_ms / 1000);
  const ratio = rate / 100;
  await server.stop();
  rmSync(home, { recursive: true, force: true });
  console.log('\nPerspective handler: 2,000 posts, quota 100 requests/s, 50 ms latency, PERSPECTIVE_QPS=100');
  console.log(
    `  labelled ${meta.total_classified_posts} posts in ${(record.duration_ms / 1000).toFixed(2)} s: ${rate.toFixed(1)} posts/s`,
  );
  console.log(
    `  throughput / quota                                 ${ratio.toFixed(3)}x (original schedule's ceiling: 0.857x)`,
  );
  console.log(
    `  requests refused for quota: ${server.rejectedForQuota}; most in flight at once: ${server.maxInFlight}; labels in the output queue: ${labelled}`,
  );
  const passed = ratio >= 0.95 && server.rejectedForQuota === 0 && labelled === posts;
  console.log(`  -> ${passed ? 'meets' : 'MISSES'} the target (>= 0.95x, no quota refusal, no post lost)`);
  ok = ok && passed;
}
{
  const home = mkdtempSync(join(tmpdir(), 'bench-perspective-mem-'));
  const server = await startFakePerspective();
  const posts = 200_000;
  enqueue(home, posts);
  const started = performance.now();
  const { record, maxRssBytes } = await invoke(home, { PERSPECTIVE_API_URL: server.baseUrl, PERSPECTIVE_QPS: '5000' });
  const seconds = (performance.now() - started) / 1000;
  const labelled = countLabels(home);
  await server.stop();
  rmSync(home, { recursive: true, force: true });
  const mb = maxRssBytes / 1024 / 1024;
  console.log('\nPerspective handler: a 200,000-post queue (no quota, PERSPECTIVE_QPS=5000)');
  console.log(
    `  labelled ${JSON.parse(record.metadata).total_classified_posts} posts in ${seconds.toFixed(1)} s; labels in the output queue: ${labelled}`,
  );
  console.log(
    `  peak memory (max RSS) of the run                   ${mb.toFixed(0)} MB   ${(mb / 200).toFixed(2)}x of the 200 MB budget`,
  );
  const passed = mb < 200 && labelled === posts;
  console.log(`  -> ${passed ? 'meets' : 'MISSES'} the target (under 200 MB, no post lost)`);
  ok = ok && passed;
}
process.exit(ok ? 0 : 1);
