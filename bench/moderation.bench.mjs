// The OpenAI moderation handler against a loopback server speaking the moderation protocol
// that enforces N = 20 requests/s and adds 50 ms of latency: 6,400 posts with
// OPENAI_MODERATION_RPS=20 and a batch size of B = 32, throughput as a ratio to N x B = 640
// posts/s (target at least 0.95, with no request refused for quota: our own pacing causes no
// 429, and no post lost). Then the peak memory of a run over a 200,000-post queue (target under
// the 200 MB budget of the Perspective handler, at about the post rate its bench runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countLabels, enqueuePosts, invokeInChild, queueDir } from './labelling.mjs';

const require = createRequire(import.meta.url);
require('@swc-node/register'); // the loopback server is the test helper, written in TypeScript
const { startModerationServer } = require('../packages/handler-openai-moderation/tests/helpers/moderation-server.ts');

let ok = true;
{
  const N = 20;
  const B = 32;
  const home = mkdtempSync(join(tmpdir(), 'bench-moderation-'));
  const server = await startModerationServer({ quotaPerSec: N, latencyMs: 50 });
  const posts = 6400;
  enqueuePosts(join(queueDir(home), 'input_ml_inference_openai_moderation.db'), posts);
  const { record } = await invokeInChild('ml_inference_openai_moderation', home, {
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: server.baseUrl,
    OPENAI_MODERATION_RPS: String(N),
    OPENAI_MODERATION_BATCH_SIZE: String(B),
  });
  const meta = JSON.parse(record.metadata);
  const labelled = countLabels(join(queueDir(home), 'output_ml_inference_openai_moderation.db'));
  const rate = meta.total_classified_posts / (record.duration_ms / 1000);
  const ratio = rate / (N * B);
  await server.stop();
  rmSync(home, { recursive: true, force: true });
  console.log(`\nOpenAI moderation handler: 6,400 posts, quota ${N} requests/s, 50 ms latency, batch size ${B}`);
  console.log(
    `  labelled ${meta.total_classified_posts} posts in ${(record.duration_ms / 1000).toFixed(2)} s: ${rate.toFixed(1)} posts/s`,
  );
  console.log(`  throughput / (N x B = ${N * B} posts/s)                ${ratio.toFixed(3)}x`);
  console.log(
    `  requests: ${server.requests.length}; refused for quota: ${server.rejectedForQuota}; labels in the output queue: ${labelled}`,
  );
  const passed = ratio >= 0.95 && server.rejectedForQuota === 0 && labelled === posts;
  console.log(`  -> ${passed ? 'meets' : 'MISSES'} the target (>= 0.95x, no 429 from our pacing, no post lost)`);
  ok = ok && passed;
}
{
  const home = mkdtempSync(join(tmpdir(), 'bench-moderation-mem-'));
  const server = await startModerationServer();
  const posts = 200_000;
  enqueuePosts(join(queueDir(home), 'input_ml_inference_openai_moderation.db'), posts);
  const started = performance.now();
  const { record, maxRssBytes } = await invokeInChild('ml_inference_openai_moderation', home, {
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: server.baseUrl,
    OPENAI_MODERATION_RPS: '150',
    OPENAI_MODERATION_BATCH_SIZE: '32',
  });
  const seconds = (performance.now() - started) / 1000;
  const labelled = countLabels(join(queueDir(home), 'output_ml_inference_openai_moderation.db'));
  await server.stop();
  rmSync(home, { recursive: true, force: true });
  const mb = maxRssBytes / 1024 / 1024;
  console.log(
    '\nOpenAI moderation handler: a 200,000-post queue (no quota; 150 requests/s of 32 posts = 4,800 posts/s, as the Perspective bench runs 5,000)',
  );
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
