// Per-call overhead of an in-process invocation of a no-op handler with the in-memory store,
// as a ratio to calling the handler directly; and the tracker's overhead with W&B off (the
// default, a no-op tracker) as a ratio to no tracking at all (target at most 1.1x). The two
// invocations run the same code and differ by a few per cent, less than one process's JIT state
// can tilt either way, so each case is measured alone in fresh processes, taking turns: the
// figures are the medians of the turns, the verdict the median of the per-turn ratios.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { answerCaseWhenAsked, compareInProcesses, measure, report, verdictPerTurn } from './harness.mjs';

const DIRECT = 'handler.handle() called directly';
const NO_TRACKER = 'invocation without any tracker';
const WANDB_OFF = 'invocation with the W&B-off tracker';

await answerCaseWhenAsked(measureCase);

const [direct, noTracking, off] = compareInProcesses(fileURLToPath(import.meta.url), [DIRECT, NO_TRACKER, WANDB_OFF], {
  turns: 11,
});
report(`in-process invocation of a no-op handler (in-memory store), median of ${off.all.length} processes`, [
  direct,
  { ...off, name: 'invokePipelineHandler (W&B off)' },
]);
report(`tracker overhead with W&B off, median of ${off.all.length} processes each`, [noTracking, off]);
process.exit(verdictPerTurn(noTracking, off, 1.1) ? 0 : 1);

/** Time per operation (ms) of one case, measured alone in this process. */
async function measureCase(name) {
  const require = createRequire(import.meta.url);
  const { pipelineHandler } = require('@pipeline-invocation/core');
  const { createInvoker } = require('@pipeline-invocation/invoker');
  const { MemoryRunStore } = require('@pipeline-invocation/storage');
  const {
    silentLogger,
    createTracker,
    trackingConfigFromEnv,
    Redactor,
  } = require('@pipeline-invocation/observability');

  class Noop {
    handle() {
      return { statusCode: 200, body: 'ok' };
    }
  }
  pipelineHandler('noop')(Noop);
  const base = { discover: false, outbox: false, env: {}, logger: silentLogger, handlers: [Noop] };
  const handler = new Noop();
  const fns = {
    [DIRECT]: () => () => handler.handle({ run_type: 'prod' }, {}),
    [NO_TRACKER]: () => {
      const invoker = createInvoker({ ...base, store: new MemoryRunStore(), tracker: false });
      return () => invoker.invokePipelineHandler('noop', { run_type: 'prod' });
    },
    [WANDB_OFF]: () => {
      const invoker = createInvoker({
        ...base,
        store: new MemoryRunStore(),
        tracker: createTracker(trackingConfigFromEnv({}), { logger: silentLogger, redactor: new Redactor({}) }),
      });
      return () => invoker.invokePipelineHandler('noop', { run_type: 'prod' });
    },
  };
  if (!fns[name]) throw new Error(`unknown case ${name}`);
  return measure(fns[name](), { warmup: 2000, samples: 40, batch: 100 });
}
