import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  RunLifecycle,
  pipelineHandler,
  retryPolicyFromDelays,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { DynamoRunStore, createRunTable } from '@pipeline-invocation/storage/dynamodb';
import { cliProject } from '../../packages/invoker/tests/helpers/cli-project';
import { cjsPlugin, createHostProject } from '../../packages/invoker/tests/helpers/host-project';
import { startDynalite } from '../../packages/storage/tests/helpers/dynalite';
import { finished, runningRecord } from '../../packages/storage/tests/helpers/records';
import { startFaultProxy } from '../../packages/storage/tests/helpers/tcp-proxy';
import { startFakePerspective } from '../../packages/handler-perspective-api/tests/helpers/perspective-server';
import { perspectiveKit } from '../../packages/handler-perspective-api/tests/helpers/kit';
import { enqueue, post, readQueue } from '../../packages/handler-perspective-api/tests/helpers/queues';
import { SOAK, countedCase } from './helpers/tally';

const root = createHostProject([cjsPlugin('life-plugin', ['life_service'])]);

const project = () => cliProject(root, 'life_service');

describe('interruptions of pipeline invoke (real processes and signals)', () => {
  const rounds = SOAK ? 10 : 3;

  it.each(['SIGINT', 'SIGTERM'] as const)('%s: every run ends CANCELLED and its key is free at once', (signal) =>
    countedCase('interruptions (CLI)', async (figures) => {
      const p = project();
      for (let i = 0; i < rounds; i++) {
        const key = `${signal}-${i}`;
        const child = p.start(p.invoke('until-aborted', key));
        const run = await p.running();
        child.child.kill(signal);
        const result = await child.result;
        const record = run && (await p.store.get(run.run_id));
        const again = await p.cli(p.invoke('fine', key));
        figures.lose(run && !record ? 1 : 0);
        figures.observe(
          result.code === (signal === 'SIGINT' ? 130 : 143) && record?.status === 'CANCELLED' && again.code === 0,
        );
      }
      const statuses = (await p.runs()).map((r) => r.status);
      await p.store.close();
      expect(statuses).toEqual(Array.from({ length: rounds }, () => ['CANCELLED', 'SUCCEEDED']).flat());
      expect(figures.passed).toBe(figures.tried);
    }),
  );

  it('SIGKILL: the run is marked CRASHED by the next run with its key once the heartbeat is stale', () =>
    countedCase('interruptions (CLI)', async (figures) => {
      const p = project();
      const child = p.start(p.invoke('hang', 'killed'));
      const run = await p.running();
      child.child.kill('SIGKILL');
      await child.result;
      const early = await p.cli(p.invoke('fine', 'killed'));
      // the next process takes 100 ms of silence for death (instead of waiting out the 4 s here)
      const late = await p.cli(p.invoke('fine', 'killed'), p.seesStale);
      const record = run && (await p.store.get(run.run_id));
      figures.lose(run && !record ? 1 : 0);
      figures.observe(early.code === 6 && late.code === 0 && record?.status === 'CRASHED');
      await p.store.close();
      expect([early.code, late.code, record?.status]).toEqual([6, 0, 'CRASHED']);
    }));

  it('pipeline cancel from another process ends the run CANCELLED', () =>
    countedCase('interruptions (CLI)', async (figures) => {
      const p = project();
      const child = p.start(p.invoke('until-aborted', 'remote'));
      const run = await p.running();
      const cancel = await p.cli(['cancel', run!.run_id, '--wait']);
      const result = await child.result;
      const record = await p.store.get(run!.run_id);
      figures.lose(record ? 0 : 1);
      figures.observe(cancel.code === 0 && result.code === 1 && record?.status === 'CANCELLED');
      await p.store.close();
      expect([cancel.code, result.code, record?.status]).toEqual([0, 1, 'CANCELLED']);
    }));
});

@pipelineHandler('life_in_process')
class InProcess {
  handle(event: { kind: string }) {
    if (event.kind === 'bigint') return { statusCode: 200, body: 'x', metadata: { n: 1n } };
    if (event.kind === 'map') return { statusCode: 200, body: 'x', metadata: { m: new Map() } };
    return { statusCode: 200, body: 'fine' };
  }
}

describe('runs that break outside their handler (in-process)', () => {
  it('each ends in exactly one terminal record, or in none when it never started', () =>
    countedCase('lifecycle (in-process)', async (figures) => {
      // the hanging factory's timeout and grace run on jest's fake timers (the invoker's clock)
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const { invoker, store } = createTestInvoker({ handlers: [InProcess] });
      invoker.registry.register('life_hanging_factory', () => new Promise(() => {}));
      const outcome = async (run: () => Promise<RunExecutionMetadata>) =>
        run().then(
          (r) => r.status,
          (e: Error) => e.name,
        );
      const seen = {
        bigint: await outcome(() => invoker.invokePipelineHandler('life_in_process', { kind: 'bigint' })),
        map: await outcome(() => invoker.invokePipelineHandler('life_in_process', { kind: 'map' })),
        abortedBeforeStart: await outcome(() =>
          invoker.invokePipelineHandler('life_in_process', {}, {}, { signal: AbortSignal.abort() }),
        ),
        hangingFactory: await outcome(async () => {
          const run = invoker.invokePipelineHandler('life_hanging_factory', {}, {}, { timeoutMs: 100 });
          await jest.advanceTimersByTimeAsync(100 + 10_000); // the timeout, then the cancel grace
          return run;
        }),
        keyFirst: await outcome(() =>
          invoker.invokePipelineHandler('life_in_process', { kind: 'a' }, {}, { idempotencyKey: 'k' }),
        ),
        keyOtherPayload: await outcome(() =>
          invoker.invokePipelineHandler('life_in_process', { kind: 'b' }, {}, { idempotencyKey: 'k' }),
        ),
      };
      const expected = {
        bigint: 'FAILED',
        map: 'FAILED',
        abortedBeforeStart: 'AbortError',
        hangingFactory: 'TIMED_OUT',
        keyFirst: 'SUCCEEDED',
        keyOtherPayload: 'IdempotencyKeyMismatchError',
      };
      for (const [name, status] of Object.entries(expected))
        figures.observe(seen[name as keyof typeof seen] === status);
      jest.useRealTimers();
      const records = store.all();
      figures.lose(4 - records.length); // bigint, map, hanging factory, keyFirst
      expect(seen).toEqual(expected);
      expect(records.every((r) => r.status !== 'RUNNING')).toBe(true);
      expect(records).toHaveLength(4);
    }));
});

describe('ambiguous DynamoDB writes (a proxy forwards each write and drops its answer)', () => {
  it('every run is stored exactly once, never conflicts with itself and never leaves an orphan', () =>
    countedCase('ambiguous writes (DynamoDB)', async (figures) => {
      const dynamo = await startDynalite();
      await createRunTable(dynamo.client(), 'runs');
      const proxy = await startFaultProxy(dynamo.port);
      const direct = new DynamoRunStore(dynamo.client(), 'runs');
      const faulty = new DynamoRunStore(
        new DynamoDBClient({
          endpoint: proxy.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
          maxAttempts: 3,
        }),
        'runs',
      );
      const count = SOAK ? 100 : 20;
      const ids: string[] = [];
      const lifecycle = new RunLifecycle(faulty, { retry: retryPolicyFromDelays([10, 20]) });
      try {
        for (let i = 0; i < count; i++) {
          const record = runningRecord({ idempotency_key: `amb-${i}` });
          proxy.dropAnswersTo(/PutItem/, 1 + (i % 2)); // the lock write, and every other time the record write too
          const begun = await lifecycle.begin(record).catch((e: Error) => e);
          proxy.dropAnswersTo(/PutItem/, 1);
          const ended = await lifecycle.finish(finished(record)).catch((e: Error) => e);
          ids.push(record.run_id);
          const stored = await direct.get(record.run_id);
          figures.observe(
            !(begun instanceof Error) &&
              begun.started &&
              !(ended instanceof Error) &&
              ended.ok &&
              stored?.status === 'SUCCEEDED',
          );
        }
        const all = (await direct.list({ limit: 1000 })).items;
        figures.lose(ids.filter((id) => !all.some((r) => r.run_id === id)).length);
        expect(all.map((r) => r.run_id).sort()).toEqual([...ids].sort());
        expect(all.every((r) => r.status === 'SUCCEEDED')).toBe(true);
        expect(proxy.dropped).toBeGreaterThanOrEqual(count * 2);
      } finally {
        await faulty.close();
        await direct.close();
        await proxy.close();
        await dynamo.stop();
      }
      expect(figures.passed).toBe(count);
    }));
});

describe('two Perspective runs over one queue', () => {
  it('every post is sent once and ends labelled once or still pending', () =>
    countedCase('concurrent Perspective runs', async (figures) => {
      const server = await startFakePerspective({ latencyMs: 10 });
      const { config, files, run } = perspectiveKit(server.baseUrl, { qps: 500, maxAttempts: 2 });
      const posts = Array.from({ length: SOAK ? 2000 : 400 }, (_, i) => post(`reliability post ${i}`));
      enqueue(
        config,
        posts.map((p) => [p]),
      );
      try {
        const records = await Promise.all([run(), run(), run()]);
        const labelled = readQueue(files.output).flatMap((r) => r.items.map((i) => String(i.uri)));
        const pending = readQueue(files.input).flatMap((r) => r.items.map((i) => String(i.uri)));
        const sentTwice = server.requests.length - new Set(server.requests.map((r) => r.text)).size;
        const accounted = new Set([...labelled, ...pending]);
        figures.lose(posts.filter((p) => !accounted.has(p.uri)).length);
        figures.observe(
          sentTwice === 0 &&
            records.filter((r) => r.status === 'SUCCEEDED').length === 1 &&
            records.filter((r) => r.status_code === 409).length === 2 &&
            labelled.length === posts.length,
        );
        expect(sentTwice).toBe(0);
        expect(labelled.sort()).toEqual(posts.map((p) => p.uri).sort());
      } finally {
        await server.stop();
      }
    }));
});
