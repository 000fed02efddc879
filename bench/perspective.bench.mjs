// The Perspective handler against a loopback server that enforces 100 requests/s and adds
// 50 ms of latency: 2,000 posts with PERSPECTIVE_QPS=100, throughput as a ratio to the quota
// (target at least 0.95, i.e. 95 posts/s: the original's fixed 90-then-sleep-1.05 s schedule
// cannot pass 85.7), with no request refused for quota and no post lost. Then the peak memory
// of a run over a 200,000-post queue (target under 200 MB).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countLabels, enqueuePosts, invokeInChild, queueDir } from './labelling.mjs';

const require = createRequire(import.meta.url);
require('@swc-node/register'); // the loopback server is the test helper, written in TypeScript
const { startFakePerspective } = require('../packages/handler-perspective-api/tests/helpers/perspective-server.ts');

let ok = true;
{
  const home = mkdtempSync(join(tmpdir(), 'bench-perspective-'));
  const server = await startFakePerspective({ quotaPerSec: 100, latencyMs: 50 });
  const posts = 2000;
  enqueuePosts(join(queueDir(home), 'input_ml_inference_perspective_api.db'), posts);
  const { record } = await invokeInChild('ml_inference_perspective_api', home, {
    PERSPECTIVE_API_KEY: 'bench-key',
    PERSPECTIVE_API_URL: server.baseUrl,
    PERSPECTIVE_QPS: '100',
  });
  const meta = JSON.parse(record.metadata);
  const labelled = countLabels(join(queueDir(home), 'output_ml_inference_perspective_api.db'));
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
  enqueuePosts(join(queueDir(home), 'input_ml_inference_perspective_api.db'), posts);
  const started = performance.now();
  const { record, maxRssBytes } = await invokeInChild('ml_inference_perspective_api', home, {
    PERSPECTIVE_API_KEY: 'bench-key',
    PERSPECTIVE_API_URL: server.baseUrl,
    PERSPECTIVE_QPS: '5000',
  });
  const seconds = (performance.now() - started) / 1000;
  const labelled = countLabels(join(queueDir(home), 'output_ml_inference_perspective_api.db'));
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
