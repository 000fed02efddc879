import {
  RunLifecycle,
  pipelineHandler,
  type KeyCondition,
  type KeyItem,
  type RunStore,
} from '@pipeline-invocation/core';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import { runningRecord } from '../../storage/tests/helpers/records';
import { createTestInvoker } from '../src/testing';

/** Jest's fake timers drive the system clock the lifecycle and invoker use. */
const fakeTime = () => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
afterEach(() => jest.useRealTimers());

const STALE_MS = 60_000;

describe('lifecycle races the review found', () => {
  it('a holder that renews its heartbeat while its key is being taken over keeps its key; the begin is refused naming it', async () => {
    fakeTime();
    const store = new MemoryRunStore();
    const lifecycle = new RunLifecycle(store, { staleAfterMs: STALE_MS });
    const holder = runningRecord({ idempotency_key: 'k', heartbeat_at: new Date().toISOString() });
    await lifecycle.begin(holder);
    jest.advanceTimersByTime(STALE_MS + 1000); // a false stall: the holder looks dead
    // The holder's heartbeat lands between the newcomer's read of its record and its key write:
    // the store answers the key write after the holder's own renewal went through.
    const racing: RunStore = Object.create(store, {
      putKey: {
        value: async (item: KeyItem, when: KeyCondition) => {
          if (item.run_id !== holder.run_id) await lifecycle.heartbeat(holder);
          return store.putKey(item, when);
        },
      },
    });
    const newcomer = runningRecord({ idempotency_key: 'k' });
    await expect(new RunLifecycle(racing, { staleAfterMs: STALE_MS }).begin(newcomer)).rejects.toMatchObject({
      name: 'RunConflictError',
      runId: holder.run_id,
    });
    expect(await store.readKey('svc_a#k')).toMatchObject({ run_id: holder.run_id, status: 'RUNNING' });
    expect(await store.readRun(holder)).toMatchObject({ status: 'RUNNING' });
    expect(await store.readRun(newcomer)).toBeUndefined();
  });

  it('a begin whose RUNNING write landed but whose answer was lost leaves no record RUNNING for ever', async () => {
    fakeTime();
    const store = new MemoryRunStore();
    let failing = 0;
    const lossy: RunStore = Object.create(store, {
      putRun: {
        value: async (...args: Parameters<RunStore['putRun']>) => {
          if (failing === 1) {
            failing = 2;
            await store.putRun(...args); // it lands...
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }); // ...its answer is lost
          }
          if (failing === 2) throw Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
          return store.putRun(...args);
        },
      },
    });
    const lifecycle = new RunLifecycle(lossy, { staleAfterMs: STALE_MS });
    const orphan = runningRecord({ idempotency_key: 'k2', heartbeat_at: new Date().toISOString() });
    failing = 1;
    const begun = lifecycle.begin(orphan);
    begun.catch(() => {});
    await jest.advanceTimersByTimeAsync(10_000); // the retry policy's delays
    await expect(begun).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // the store still fails: the record stays as it landed, and its key stays held (not freed)
    expect(await store.readRun(orphan)).toMatchObject({ status: 'RUNNING' });
    expect(await store.readKey('svc_a#k2')).toMatchObject({ run_id: orphan.run_id, status: 'RUNNING' });
    // the store comes back; once the key is stale, the next begin takes it and marks the orphan CRASHED
    failing = 0;
    jest.advanceTimersByTime(STALE_MS);
    const next = runningRecord({ idempotency_key: 'k2', heartbeat_at: new Date().toISOString() });
    expect(await lifecycle.begin(next)).toEqual({ started: true, tookOverFrom: orphan.run_id });
    expect(await store.readRun(orphan)).toMatchObject({ status: 'CRASHED', error: { name: 'RunCrashed' } });
  });

  it('when the store is back before the begin gives up, the landed RUNNING record is ended FAILED and the key freed', async () => {
    const store = new MemoryRunStore();
    let lost = false;
    const lossy: RunStore = Object.create(store, {
      putRun: {
        value: async (...args: Parameters<RunStore['putRun']>) => {
          const result = await store.putRun(...args);
          if (!lost && args[0].status === 'RUNNING') {
            lost = true;
            throw new TypeError('a bug in the client after the write'); // not retried
          }
          return result;
        },
      },
    });
    const record = runningRecord({ idempotency_key: 'k3' });
    await expect(new RunLifecycle(lossy).begin(record)).rejects.toThrow(TypeError);
    expect(await store.readRun(record)).toMatchObject({ status: 'FAILED', status_code: 503 });
    expect(await store.readKey('svc_a#k3')).toMatchObject({ status: 'FAILED' });
  });

  it('a run without a key whose process died is marked CRASHED by a later run of its service, once stale', async () => {
    fakeTime();
    @pipelineHandler('keyless')
    class Keyless {
      async handle() {
        return { statusCode: 200, body: 'ok' };
      }
    }
    const { invoker, store } = createTestInvoker({ handlers: [Keyless], config: { staleAfterMs: STALE_MS } });
    const dead = runningRecord({ service: 'keyless', heartbeat_at: new Date().toISOString() });
    await new RunLifecycle(store).begin(dead); // its process died right after
    await invoker.invokePipelineHandler('keyless', {});
    expect((await store.get(dead.run_id))?.status).toBe('RUNNING'); // not stale yet: alive as far as anyone knows
    jest.advanceTimersByTime(STALE_MS);
    await invoker.invokePipelineHandler('keyless', {});
    expect(await store.get(dead.run_id)).toMatchObject({ status: 'CRASHED', error: { name: 'RunCrashed' } });
  });
});
