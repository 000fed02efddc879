import { DeleteTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoRunStore, createRunTable, runTableSnippets } from '../src/dynamodb';
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

  it('a begin that died between taking the lock and writing its record does not block the key for ever', async () => {
    const store = await freshStore();
    const old = new Date(Date.now() - 3600_000).toISOString();
    await store.client.send(
      new PutItemCommand({
        TableName: store.tableName,
        Item: {
          service: { S: '#idempotency#orphan' },
          run_id: { S: '#lock' },
          owner_run_id: { S: '01DEADDEADDEADDEADDEADDEAD' },
          owner_status: { S: 'RUNNING' },
          owner_service: { S: 'svc_a' },
          owner_started_at: { S: old },
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
