// W&B online against W&B off: 20 runs of a 100 ms handler in one process, tracked through
// @wandb/sdk against a server on 127.0.0.1 speaking the W&B protocol (the tracker tests' server),
// as a ratio to the same runs with W&B off (target at most 1.3x). The time includes
// `invoker.close()`, which waits until W&B has every run (complete, with its exit code): what
// a process pays before it may exit. Each case runs alone in fresh processes, taking turns.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { answerCaseWhenAsked, compareInProcesses, report, verdictPerTurn } from './harness.mjs';

const RUNS = 20;
const HANDLER_MS = 100;
const OFF = `${RUNS} runs of a ${HANDLER_MS} ms handler, W&B off`;
const ONLINE = `the same with W&B online (loopback W&B server)`;

await answerCaseWhenAsked(measureCase);

const [off, online] = compareInProcesses(fileURLToPath(import.meta.url), [OFF, ONLINE], { turns: 3 });
report(`W&B tracking cost: ${RUNS} runs in one process, until close() (ms), median of ${off.all.length} processes`, [
  off,
  online,
]);
process.exit(verdictPerTurn(off, online, 1.3) ? 0 : 1);

/** Time (ms) of RUNS invocations and the invoker's close, in this process. */
async function measureCase(name) {
  const require = createRequire(import.meta.url);
  require('@swc-node/register'); // the W&B-protocol server is the tracker tests' helper, in TypeScript
  const { startFakeWandb } = require('../packages/observability/tests/helpers/wandb-server.ts');
  const { pipelineHandler } = require('@pipeline-invocation/core');
  const { createInvoker } = require('@pipeline-invocation/invoker');
  const { MemoryRunStore } = require('@pipeline-invocation/storage');
  const { silentLogger } = require('@pipeline-invocation/observability');

  class Sleepy {
    async handle(_payload, context) {
      context.metrics.log({ progress: 1 });
      await new Promise((resolve) => setTimeout(resolve, HANDLER_MS));
      return { statusCode: 200, body: 'ok' };
    }
  }
  pipelineHandler('sleepy')(Sleepy);
  const server = await startFakeWandb();
  const env =
    name === ONLINE
      ? { WANDB_API_KEY: 'bench-key-0123456789', WANDB_BASE_URL: server.baseUrl, WANDB_MODE: 'online' }
      : {};
  const invoker = createInvoker({
    discover: false,
    outbox: false,
    env,
    logger: silentLogger,
    store: new MemoryRunStore(),
    handlers: [Sleepy],
  });
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    const record = await invoker.invokePipelineHandler('sleepy', { n: i });
    if (record.status !== 'SUCCEEDED') throw new Error(`run ${i} ended ${record.status}`);
  }
  await invoker.close();
  const ms = performance.now() - started;
  if (name === ONLINE) {
    const complete = [...server.runs.values()].filter((r) => r.complete && r.exitCode === 0).length;
    if (complete !== RUNS) throw new Error(`W&B has ${complete} complete runs of ${RUNS}`);
  }
  await server.stop();
  return ms;
}
