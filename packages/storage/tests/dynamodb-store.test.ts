import { DeleteTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoRunStore, createRunTable, migrateRunTable, runTableSnippets } from '../src/dynamodb';
import { keyItemKey } from '../src/dynamodb/layout';
import { runStoreContract } from './helpers/contract';
import { startDynalite, type LocalDynamo } from './helpers/dynalite';
import { startFaultProxy } from './helpers/tcp-proxy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { finished, runningRecord } from './helpers/records';

let dynamo: LocalDynamo;
let tableCounter = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function freshStore(): Promise<DynamoRunStore> {
  const tableName = `runs_${++tableCounter}`;
  const client = dynamo.client();
  expect(await createRunTable(client, tableName)).toBe('created');
  return new DynamoRunStore(client, tableName);
}

runStoreContract('dynamodb (dynalite)', freshStore);

describe('DynamoRunStore', () => {
  it('survives an ambiguous begin: the writes land, their answers are lost, the retries find the run its own', async () => {
    const store = await freshStore();
    const proxy = await startFaultProxy(dynamo.port);
    const client = new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 3,
    });
    const throughProxy = new DynamoRunStore(client, store.tableName);
    try {
      const record = runningRecord({ idempotency_key: 'ambiguous' });
      // the lock put and the record put both land; neither answer comes back
      proxy.dropAnswersTo(/PutItem/, 2);
      expect(await throughProxy.begin(record)).toEqual({ ok: true });
      expect(proxy.dropped).toBe(2);
      expect(await store.get(record.run_id)).toEqual(record);
      expect((await store.list({ limit: 10 })).items).toHaveLength(1);
      // the key is held by that run, and by no orphan
      const other = await store.begin(runningRecord({ idempotency_key: 'ambiguous' }));
      expect(!other.ok && other.existing.run_id).toBe(record.run_id);
      // an ambiguous finish is idempotent too
      proxy.dropAnswersTo(/PutItem/, 1);
      expect(await throughProxy.finish(finished(record))).toEqual({ ok: true });
      expect((await store.get(record.run_id))?.status).toBe('SUCCEEDED');
    } finally {
      await throughProxy.close();
      await proxy.close();
      await store.close();
    }
  });

  it('keys runs by service + run id: two runs in the same second never overwrite each other', async () => {
    const store = await freshStore();
    const second = '2026-11-21T10:00:00.000Z';
    const a = runningRecord({ timestamp: second });
    const b = runningRecord({ timestamp: second });
    const c = runningRecord({ timestamp: second, service: 'svc_b' });
    for (const r of [a, b, c]) await store.begin(r);
    expect((await store.list({ limit: 10 })).items.map((r) => r.run_id).sort()).toEqual(
      [a.run_id, b.run_id, c.run_id].sort(),
    );
    await store.close();
  });

  it('keeps idempotency lock items out of listings and latest()', async () => {
    const store = await freshStore();
    const record = runningRecord({ idempotency_key: 'k' });
    await store.begin(record);
    await store.finish(finished(record));
    expect((await store.list({ limit: 10 })).items.map((r) => r.run_id)).toEqual([record.run_id]);
    expect((await store.latest('svc_a'))?.status).toBe('SUCCEEDED');
    await store.close();
  });

  it('a begin that died between taking the key and writing its record does not block the key for ever', async () => {
    const store = await freshStore();
    const old = new Date(Date.now() - 3600_000).toISOString();
    await DynamoDBDocumentClient.from(store.client).send(
      new PutCommand({
        TableName: store.tableName,
        Item: {
          ...keyItemKey('orphan'),
          owner_run_id: '01DEADDEADDEADDEADDEADDEAD',
          owner_status: 'RUNNING',
          owner_service: 'svc_a',
          owner_started_at: old,
        },
      }),
    );
    const blocked = await store.begin(runningRecord({ idempotency_key: 'orphan' }));
    expect(blocked.ok).toBe(false);
    const existing = !blocked.ok ? blocked.existing : undefined;
    expect(existing).toMatchObject({ run_id: '01DEADDEADDEADDEADDEADDEAD', status: 'RUNNING', started_at: old });
    await store.finish({ ...existing!, status: 'CRASHED' }); // what the invoker does with a stale run
    expect(await store.begin(runningRecord({ idempotency_key: 'orphan' }))).toEqual({ ok: true });
    await store.close();
  });

  it('answers a replay with one conditional put that asks for the item it found (dynalite ignores that: one read)', async () => {
    const store = await freshStore();
    const first = runningRecord({ idempotency_key: 'replayed' });
    await store.begin(first);
    await store.finish(finished(first));
    const operations: string[] = [];
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        const asked = (args.input as { ReturnValuesOnConditionCheckFailure?: string })
          .ReturnValuesOnConditionCheckFailure;
        operations.push(`${String(context.commandName)}${asked ? ` ${asked}` : ''}`);
        return next(args);
      },
      { step: 'initialize', name: 'countOperations' },
    );
    const again = await store.begin(runningRecord({ idempotency_key: 'replayed' }));
    expect(!again.ok && again.existing).toMatchObject({ run_id: first.run_id, status: 'SUCCEEDED', body: 'done' });
    // dynalite does not return the item with the failure (DynamoDB does): one read stands in for it
    expect(operations).toEqual(['PutItemCommand ALL_OLD', 'GetItemCommand']);
    await store.close();
  });

  it('takes over a lock whose run ended although the lock still says RUNNING', async () => {
    const store = await freshStore();
    const first = runningRecord({ idempotency_key: 'stuck' });
    await store.begin(first);
    // The run's final record landed, but the lock update did not (as if that write had failed).
    await DynamoDBDocumentClient.from(store.client).send(
      new PutCommand({ TableName: store.tableName, Item: { ...finished(first, 'FAILED'), entity: 'run' } }),
    );
    expect(await store.begin(runningRecord({ idempotency_key: 'stuck' }))).toEqual({ ok: true });
    await store.close();
  });

  it('spreads 1,000 runs over 10 services so no partition key value of any index takes more than a tenth of the writes', async () => {
    const store = await freshStore();
    const reader = dynamo.client();
    const INDEXED = {
      table: 'service',
      'run_id-index': 'run_id',
      'entity-run_id-index': 'entity',
      'status-run_id-index': 'status',
    };
    const writes = new Map<string, number>(); // "index value" -> writes that touched it
    let total = 0;
    const text = (v: unknown) => (typeof v === 'string' ? v : (v as { S?: string } | undefined)?.S);
    const snapshot = async (key: Record<string, unknown>) =>
      (
        await reader.send(
          new GetItemCommand({
            TableName: store.tableName,
            Key: { service: { S: text(key.service)! }, run_id: { S: text(key.run_id)! } },
            ConsistentRead: true,
          }),
        )
      ).Item;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Item?: Record<string, unknown>; Key?: Record<string, unknown> };
        if (!/^(Put|Update|Delete)/.test(String(context.commandName))) return next(args);
        const key = input.Key ?? input.Item!;
        const before = await snapshot(key);
        const result = await next(args).catch((error: Error) => error);
        const after = await snapshot(key);
        if (!(result instanceof Error)) {
          total++;
          for (const [index, attribute] of Object.entries(INDEXED)) {
            const values = new Set([text(before?.[attribute]), text(after?.[attribute])].filter(Boolean));
            for (const value of values) writes.set(`${index} ${value}`, (writes.get(`${index} ${value}`) ?? 0) + 1);
          }
        }
        if (result instanceof Error) throw result;
        return result;
      },
      { step: 'initialize', name: 'countIndexWrites' },
    );
    const runs = Array.from({ length: 1000 }, (_, i) =>
      runningRecord({ service: `svc_${i % 10}`, ...(i % 2 ? { idempotency_key: `key-${i}` } : {}) }),
    );
    const statusOf = (j: number) => (j % 3 ? 'SUCCEEDED' : 'FAILED');
    for (let i = 0; i < runs.length; i += 25) {
      await Promise.all(
        runs.slice(i, i + 25).map(async (run, j) => {
          expect(await store.begin(run)).toEqual({ ok: true });
          expect(await store.finish(finished(run, statusOf(i + j)))).toEqual({ ok: true });
        }),
      );
    }
    const [hottest, count] = [...writes].sort((a, b) => b[1] - a[1])[0]!;
    // every run's writes were seen: begin + finish, and the key item's two writes for keyed runs
    expect(total).toBe(1000 * 2 + 500 * 2);
    expect({ hottest, tooHot: count / total > 0.11 }).toEqual({ hottest, tooHot: false });
    // the listings still see every run, newest first, across the shards
    const listed = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ limit: 300, cursor });
      listed.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(listed.map((r) => r.run_id)).toEqual(
      runs
        .map((r) => r.run_id)
        .sort()
        .reverse(),
    );
    const failed = (await store.list({ status: 'FAILED', limit: 1000 })).items.map((r) => r.run_id);
    expect(failed).toEqual(
      runs
        .filter((_, j) => statusOf(j) === 'FAILED')
        .map((r) => r.run_id)
        .sort()
        .reverse(),
    );
    reader.destroy();
    await store.close();
  }, 120_000);

  it('pipeline storage migrate: a table written by layout 1 keeps its runs listed and shown, its keys held', async () => {
    const store = await freshStore();
    const raw = DynamoDBDocumentClient.from(store.client, { marshallOptions: { removeUndefinedValues: true } });
    // layout 1: every run on the entity partition "run", bare statuses, lock items at sort key "#lock"
    const old = [
      finished(runningRecord({ service: 'svc_a' })),
      finished(runningRecord({ service: 'svc_b' }), 'FAILED'),
      finished(runningRecord({ service: 'svc_b', idempotency_key: 'nightly' })),
    ];
    for (const record of old) {
      await raw.send(new PutCommand({ TableName: store.tableName, Item: { ...record, entity: 'run' } }));
    }
    const keyed = old[2]!;
    await raw.send(
      new PutCommand({
        TableName: store.tableName,
        Item: {
          service: '#idempotency#nightly',
          run_id: '#lock',
          owner_run_id: keyed.run_id,
          owner_service: keyed.service,
          owner_status: 'SUCCEEDED',
          owner_started_at: keyed.started_at,
        },
      }),
    );
    // before the migration, the all-runs listing does not see layout 1's runs
    expect((await store.list({ limit: 10 })).items).toEqual([]);

    expect(await migrateRunTable(store)).toEqual({ runs: 3, keys: 1, unchanged: 0 });
    const newestFirst = old
      .map((r) => r.run_id)
      .sort()
      .reverse();
    expect((await store.list({ limit: 10 })).items.map((r) => r.run_id)).toEqual(newestFirst);
    for (const record of old) expect(await store.get(record.run_id)).toEqual(record);
    expect((await store.list({ status: 'FAILED', limit: 10 })).items).toEqual([old[1]]);
    expect((await store.latest('svc_b'))?.run_id).toBe([old[1]!.run_id, keyed.run_id].sort().at(-1));
    // the key still replays its run (a layout 1 lock item is gone, its key item answers)
    const again = await store.begin(runningRecord({ service: 'svc_b', idempotency_key: 'nightly' }));
    expect(!again.ok && again.existing.run_id).toBe(keyed.run_id);
    // a second migration changes nothing
    expect(await migrateRunTable(store)).toEqual({ runs: 0, keys: 0, unchanged: 4 });
    await store.close();
  });

  it('with a retention, finished runs and their keys carry a TTL expires_at; records never show it', async () => {
    const seed = await freshStore();
    const store = new DynamoRunStore(seed.client, seed.tableName, 30);
    const run = runningRecord({ idempotency_key: 'kept-30-days' });
    await store.begin(run);
    const raw = DynamoDBDocumentClient.from(store.client);
    const item = async (key: Record<string, unknown>) =>
      (await raw.send(new GetCommand({ TableName: store.tableName, Key: key }))).Item;
    expect((await item({ service: run.service, run_id: run.run_id }))?.expires_at).toBeUndefined(); // RUNNING: never
    const final = finished(run);
    await store.finish(final);
    const expected = Math.floor(Date.parse(final.ended_at!) / 1000) + 30 * 86_400;
    expect((await item({ service: run.service, run_id: run.run_id }))?.expires_at).toBe(expected);
    expect((await item(keyItemKey('kept-30-days')))?.expires_at).toBe(expected);
    expect(await store.get(run.run_id)).toEqual(final);
    await store.close();
  });

  it('reports a missing table with the command that creates it', async () => {
    const store = new DynamoRunStore(dynamo.client(), 'no_such_table');
    await expect(store.begin(runningRecord())).rejects.toMatchObject({
      name: 'RunStoreError',
      message: expect.stringContaining('`pipeline storage init`'),
    });
    await expect(store.latest('svc_a')).rejects.toThrow('does not exist');
  });

  it('creating the table twice reports that it exists', async () => {
    const client = dynamo.client();
    expect(await createRunTable(client, 'twice')).toBe('created');
    expect(await createRunTable(client, 'twice')).toBe('exists');
    await client.send(new DeleteTableCommand({ TableName: 'twice' }));
  });

  it('prints CloudFormation and Terraform equivalents of the table', () => {
    const { cloudformation, terraform } = runTableSnippets('integration_run_metadata');
    expect(cloudformation).toContain('TableName: integration_run_metadata');
    expect(cloudformation).toContain('BillingMode: PAY_PER_REQUEST');
    expect(cloudformation).toContain('IndexName: run_id-index');
    expect(terraform).toContain('hash_key     = "service"');
    expect(terraform).toContain('range_key    = "run_id"');
    expect(terraform.match(/global_secondary_index/g)).toHaveLength(3);
  });

  it('fromEnvironment takes the endpoint from AWS_ENDPOINT_URL_DYNAMODB', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    try {
      const seed = await freshStore();
      const store = DynamoRunStore.fromEnvironment({ tableName: seed.tableName });
      const record = runningRecord();
      await store.begin(record);
      expect((await seed.get(record.run_id))?.run_id).toBe(record.run_id);
      await store.close();
      await seed.close();
    } finally {
      process.env = saved;
    }
  });
});
