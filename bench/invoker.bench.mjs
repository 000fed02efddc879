// Per-call overhead of an in-process invocation of a no-op handler with the in-memory store,
// as a ratio to calling the handler directly; and the tracker's overhead with W&B off (the
// default, a no-op tracker) as a ratio to no tracking at all (target at most 1.1x).
import { createRequire } from 'node:module';
import { compare, report } from './harness.mjs';

const require = createRequire(import.meta.url);
const { pipelineHandler } = require('@pipeline-invocation/core');
const { createInvoker } = require('@pipeline-invocation/invoker');
const { MemoryRunStore } = require('@pipeline-invocation/storage');
const { silentLogger, createTracker, trackingConfigFromEnv, Redactor } = require('@pipeline-invocation/observability');

class Noop {
  handle() {
    return { statusCode: 200, body: 'ok' };
  }
}
pipelineHandler('noop')(Noop);

const base = { discover: false, outbox: false, env: {}, logger: silentLogger, handlers: [Noop] };
// A fresh store per sample batch would be fairer for memory, but the store's cost is part of an invocation.
const withoutTracking = createInvoker({ ...base, store: new MemoryRunStore(), tracker: false });
const wandbOff = createInvoker({
  ...base,
  store: new MemoryRunStore(),
  tracker: createTracker(trackingConfigFromEnv({}), { logger: silentLogger, redactor: new Redactor({}) }),
});

const handler = new Noop();
const [direct, noTracking, off] = await compare([
  { name: 'handler.handle() called directly', fn: () => handler.handle({ run_type: 'prod' }, {}) },
  {
    name: 'invocation without any tracker',
    fn: () => withoutTracking.invokePipelineHandler('noop', { run_type: 'prod' }),
  },
  {
    name: 'invocation with the W&B-off tracker',
    fn: () => wandbOff.invokePipelineHandler('noop', { run_type: 'prod' }),
  },
]);

report('in-process invocation of a no-op handler (in-memory store)', [
  direct,
  { ...off, name: 'invokePipelineHandler (W&B off)' },
]);
const ok = report('tracker overhead with W&B off', [noTracking, off], { target: 1.1 });
process.exit(ok ? 0 : 1);
