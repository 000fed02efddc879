import { join } from 'node:path';
import {
  RunLifecycle,
  newRunId,
  pipelineHandler,
  type PipelineHandler,
  type RunStore,
} from '@pipeline-invocation/core';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Outbox } from '@pipeline-invocation/storage';
import { DynamoRunStore, createRunTable } from '@pipeline-invocation/storage/dynamodb';
import { silentLogger } from '@pipeline-invocation/observability';
import { startDynalite, type LocalDynamo } from '../../storage/tests/helpers/dynalite';
import { startFaultProxy } from '../../storage/tests/helpers/tcp-proxy';
import { createInvoker } from '../src';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

describe('one retry policy', () => {
  @pipelineHandler('counted')
  class Counted implements PipelineHandler {
    static runs = 0;
    async handle() {
      Counted.runs += 1;
      return { statusCode: 200, body: 'ok' };
    }
  }

  /** An invoker running `Counted` on `store`, with these retry delays and nothing else around it. */
  const countedInvoker = (store: RunStore, storeRetryDelaysMs: number[]) =>
    createInvoker({
      discover: false,
      env: {},
      logger: silentLogger,
      tracker: false,
      outbox: false,
      handlers: [Counted],
      store,
      storeRetryDelaysMs,
    });

  it('DynamoDB down: each write is tried exactly as often as the policy says (3), not 4 SDK attempts x 3', async () => {
    await createRunTable(dynamo.client(), 'retry_runs');
    const proxy = await startFaultProxy(dynamo.port);
    proxy.mode = 'refuse'; // the store is unreachable
    const store = DynamoRunStore.fromEnvironment({
      tableName: 'retry_runs',
      client: {
        endpoint: proxy.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      },
    });
    const invoker = countedInvoker(store, [10, 20]);
    try {
      const started = Date.now();
      await expect(invoker.invokePipelineHandler('counted', {})).rejects.toMatchObject({
        name: 'MetadataWriteError',
        message: expect.stringContaining('The handler was not run'),
      });
      // latest() is the first call: three attempts, then the run is refused before it starts
      expect(proxy.connections).toBe(3);
      expect(Counted.runs).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      // the store comes back: one attempt per call again
      proxy.mode = 'forward';
      const before = proxy.connections;
      expect((await invoker.invokePipelineHandler('counted', {})).status).toBe('SUCCEEDED');
      expect(Counted.runs).toBe(1);
      expect(proxy.connections - before).toBeLessThanOrEqual(3); // keep-alive: latest, begin, finish share sockets
    } finally {
      await invoker.close();
      await proxy.close();
    }
  });

  it('a transient failure is retried, a permanent one is not (counted calls on the store)', async () => {
    const { MemoryRunStore } = await import('@pipeline-invocation/storage');
    const calls: string[] = [];
    const failing = (name: string, failures: number) => {
      const store = new MemoryRunStore();
      const putRun = store.putRun.bind(store);
      let left = failures;
      // the final write (a terminal record) fails `failures` times
      store.putRun = async (record, when) => {
        if (record.status === 'RUNNING') return putRun(record, when);
        calls.push(name);
        if (left-- > 0) {
          throw name === 'permanent'
            ? Object.assign(new Error('Item size has exceeded the maximum allowed size'), {
                name: 'ValidationException',
              })
            : Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        return putRun(record, when);
      };
      return store;
    };
    const run = (store: InstanceType<typeof MemoryRunStore>) =>
      countedInvoker(store, [5, 5]).invokePipelineHandler('counted', {});
    expect((await run(failing('twice', 2))).status).toBe('SUCCEEDED');
    await expect(run(failing('always', 99))).rejects.toMatchObject({ name: 'MetadataWriteError' });
    await expect(run(failing('permanent', 1))).rejects.toMatchObject({ name: 'MetadataWriteError' });
    const count = (name: string) => calls.filter((c) => c === name).length;
    expect([count('twice'), count('always'), count('permanent')]).toEqual([3, 3, 1]);
  });
});

describe('the invoker on DynamoDB', () => {
  it('keeps the record in the outbox when DynamoDB stops mid-run, and writes it exactly once when it is back', async () => {
    const table = 'outbox_runs';
    await createRunTable(dynamo.client(), table);
    let stopDuringRun = true;
    @pipelineHandler('fragile')
    class Fragile implements PipelineHandler {
      async handle() {
        if (stopDuringRun) await dynamo.stop(); // the store goes away while the handler works
        return { statusCode: 200, body: 'work done' };
      }
    }
    const outbox = new Outbox(join(tempDir('dyn-outbox-'), 'outbox.jsonl'));
    const invoker = createInvoker({
      discover: false,
      env: {},
      logger: silentLogger,
      tracker: false,
      handlers: [Fragile],
      store: new DynamoRunStore(dynamo.client({ maxAttempts: 1 }), table),
      outbox,
      storeRetryDelaysMs: [10, 10],
    });

    const failed = invoker.invokePipelineHandler('fragile', {});
    await expect(failed).rejects.toMatchObject({ name: 'MetadataWriteError', service: 'fragile' });
    const [kept] = outbox.pending();
    expect(kept).toMatchObject({ service: 'fragile', status: 'SUCCEEDED', body: 'work done' });

    await dynamo.restart(); // dynalite keeps its data in memory: the table comes back empty
    await createRunTable(dynamo.client(), table);
    stopDuringRun = false;
    const next = await invoker.invokePipelineHandler('fragile', {}); // replays the outbox first
    expect(outbox.pending()).toEqual([]);
    const reader = new DynamoRunStore(dynamo.client(), table);
    expect((await reader.get(kept!.run_id))?.body).toBe('work done');
    expect((await reader.list({ limit: 10 })).items.map((r) => r.run_id).sort()).toEqual(
      [kept!.run_id, next.run_id].sort(),
    );
    expect(await outbox.flush(new RunLifecycle(reader))).toEqual({ written: 0, remaining: 0, quarantined: 0 });
    expect((await reader.list({ limit: 10 })).items).toHaveLength(2);
    await reader.close();
    await invoker.close();
  });

  const root = createHostProject([cjsPlugin('dyn-plugin', ['dyn_service'])]);

  it('pipeline storage init, invoke, runs and show work against DynamoDB', async () => {
    const env = {
      PIPELINE_STORE: 'dynamodb',
      PIPELINE_DYNAMODB_TABLE: 'cli_runs',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test-secret-value',
      NODE_NO_WARNINGS: '1',
    };
    const cli = (args: string[]) => runCli(args, { cwd: root, env });

    const missing = await cli(['invoke', 'dyn_service']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('Create it with `pipeline storage init`');

    const init = await cli(['storage', 'init']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Table cli_runs: created.');
    expect(init.stdout).toContain('AWS::DynamoDB::Table');
    expect((await cli(['storage', 'init'])).stdout).toContain('Table cli_runs: already exists.');

    const invoked = await cli(['invoke', 'dyn_service', '--json']);
    expect(invoked.code).toBe(0);
    const record = JSON.parse(invoked.stdout);
    expect(record.metadata_table_name).toBe('cli_runs');
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout);
    expect(runs.items.map((r: { run_id: string }) => r.run_id)).toEqual([record.run_id]);
    expect(JSON.parse((await cli(['show', record.run_id, '--json'])).stdout)).toEqual(record);
    const doctor = await cli(['doctor']);
    expect(doctor.stdout).toContain('[ok] run store: dynamodb:cli_runs reachable');
    expect(doctor.stdout).not.toContain('test-secret-value');

    // a run written by version 0.1's layout is listed again after `pipeline storage migrate`
    const legacy = { ...record, run_id: newRunId(), status: 'FAILED', status_code: 500, entity: 'run' };
    const client = dynamo.client();
    await DynamoDBDocumentClient.from(client).send(new PutCommand({ TableName: 'cli_runs', Item: legacy }));
    client.destroy();
    const listed = async () =>
      JSON.parse((await cli(['runs', '--json'])).stdout).items.map((r: { run_id: string }) => r.run_id);
    expect(await listed()).toEqual([record.run_id]);
    const migrated = await cli(['storage', 'migrate', '--json']);
    expect(migrated.code).toBe(0);
    expect(JSON.parse(migrated.stdout)).toMatchObject({ store: 'dynamodb:cli_runs', runs: 1, keys: 0, unchanged: 1 });
    expect(await listed()).toEqual([legacy.run_id, record.run_id]);
    expect(JSON.parse((await cli(['show', legacy.run_id, '--json'])).stdout).status).toBe('FAILED');
    expect((await cli(['storage', 'migrate'])).stdout).toContain(
      '0 runs rewritten, 0 idempotency keys moved, 2 items already current',
    );
  }, 60_000);
});
