import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  RunLifecycle,
  keySatisfies,
  payloadHash,
  prunableStatuses,
  retryPolicyFromDelays,
  runIdFloor,
  runSatisfies,
  scopedKey,
  toClock,
  type KeyClause,
  type KeyItem,
  type RunClause,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import {
  DynamoRunStore,
  INDEXES,
  createRunTable,
  migrateRunTable,
  runTableDefinition,
  runTableSnippets,
} from '../src/dynamodb';
import { keyItemKey, legacyKeyItemKey, shardOf } from '../src/dynamodb/layout';
import { startDynalite, type LocalDynamo } from './helpers/dynalite';
import { finished, runningRecord } from './helpers/records';
import { startFaultProxy } from './helpers/tcp-proxy';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

let dynamo: LocalDynamo;
let tableCounter = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function freshStore(retentionDays?: number): Promise<DynamoRunStore> {
  const tableName = `runs_${++tableCounter}`;
  const client = dynamo.client();
  expect(await createRunTable(client, tableName)).toBe('created');
  return new DynamoRunStore(client, tableName);
}

/** A clock the test moves by hand (timers stay the system's; only retries use them, with 0 ms delays). */
function manualClock(startMs = Date.now()) {
  let nowMs = startMs;
  return {
    clock: toClock({ now: () => nowMs }),
    advance: (ms: number) => void (nowMs += ms),
    iso: (offsetMs = 0) => new Date(nowMs + offsetMs).toISOString(),
  };
}

const lifecycleOf = (store: DynamoRunStore, clock = manualClock().clock) =>
  new RunLifecycle(store, { clock, staleAfterMs: 60_000, retry: retryPolicyFromDelays([0, 0]) });

const raw = (store: DynamoRunStore) =>
  DynamoDBDocumentClient.from(store.client, { marshallOptions: { removeUndefinedValues: true } });

const rawItem = async (store: DynamoRunStore, key: Record<string, unknown>) =>
  (await raw(store).send(new GetCommand({ TableName: store.tableName, Key: key, ConsistentRead: true }))).Item;

/** Each command the store's client sends, with the index it queried and whether it filtered. */
function recordCommands(store: DynamoRunStore): string[] {
  const sent: string[] = [];
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { IndexName?: string; FilterExpression?: string };
      const parts = [String(context.commandName), input.IndexName, input.FilterExpression && 'FILTERED'];
      sent.push(parts.filter(Boolean).join(' '));
      return next(args);
    },
    { step: 'initialize', name: `record-${Math.random()}` },
  );
  return sent;
}

describe('DynamoRunStore primitives: each condition clause means in DynamoDB what core says it means', () => {
  let store: DynamoRunStore;
  beforeAll(async () => {
    store = await freshStore();
  });
  afterAll(async () => {
    await store.close();
  });

  const t0 = '2026-12-06T10:00:00.000Z';
  const t1 = '2026-12-06T10:01:00.000Z';
  const t2 = '2026-12-06T10:02:00.000Z';
  const runStates: Record<string, (base: RunExecutionMetadata) => RunExecutionMetadata | undefined> = {
    absent: () => undefined,
    'RUNNING, heartbeat t0': (r) => ({ ...r, heartbeat_at: t0 }),
    'RUNNING, no heartbeat, started t0': (r) => ({ ...r, started_at: t0, heartbeat_at: undefined }),
    'RUNNING, heartbeat t2': (r) => ({ ...r, heartbeat_at: t2 }),
    'RUNNING, cancel requested': (r) => ({ ...r, heartbeat_at: t2, cancel_requested_at: t1 }),
    'FAILED, ended t1': (r) => ({ ...finished(r, 'FAILED'), ended_at: t1 }),
    'CRASHED, ended t2': (r) => ({ ...finished(r, 'CRASHED'), ended_at: t2 }),
  };
  const runClauses: Record<string, RunClause[]> = {
    'never ([])': [],
    'exists: false': [{ exists: false }],
    'exists: true': [{ exists: true }],
    'any item ({})': [{}],
    'statusIn RUNNING': [{ statusIn: ['RUNNING'] }],
    'statusIn FAILED, CRASHED': [{ statusIn: ['FAILED', 'CRASHED'] }],
    'statusIn []': [{ statusIn: [] }],
    'heartbeatBefore t1': [{ heartbeatBefore: t1 }],
    'RUNNING and heartbeatBefore t1': [{ statusIn: ['RUNNING'], heartbeatBefore: t1 }],
    'cancelRequested: true': [{ cancelRequested: true }],
    'cancelRequested: false': [{ cancelRequested: false }],
    'RUNNING, not cancelled': [{ statusIn: ['RUNNING'], cancelRequested: false }],
    'endedAt t2': [{ endedAt: t2 }],
    'CRASHED and endedAt t1': [{ statusIn: ['CRASHED'], endedAt: t1 }],
    'exists: false OR RUNNING': [{ exists: false }, { statusIn: ['RUNNING'] }],
    'exists: false with a status (the status cannot apply)': [{ exists: false, statusIn: ['FAILED'] }],
  };

  it.each(Object.keys(runClauses))(
    'putRun and updateRun under "%s" write exactly when runSatisfies holds',
    async (name) => {
      const when = runClauses[name]!;
      for (const [state, make] of Object.entries(runStates)) {
        const base = runningRecord();
        const before = make(base);
        if (before) await raw(store).send(new PutCommand({ TableName: store.tableName, Item: before }));
        const expected = runSatisfies(before, when);

        const next = { ...finished(base, 'SUCCEEDED'), ended_at: t2 };
        const put = await store.putRun(next, when);
        expect({ state, written: put.written }).toEqual({ state, written: expected });
        expect(put.current).toEqual(expected ? next : before);
        expect(await store.readRun(base)).toEqual(expected ? next : before);

        // the same condition as an update, on a fresh copy of the state
        const other = runningRecord();
        const copy = make(other);
        if (copy) await raw(store).send(new PutCommand({ TableName: store.tableName, Item: copy }));
        const updated = await store.updateRun(other, { heartbeat_at: t2 }, when);
        const expectUpdate = copy !== undefined && runSatisfies(copy, when); // an update never creates an item
        expect({ state, updated: updated.written }).toEqual({ state, updated: expectUpdate });
        expect(updated.current).toEqual(expectUpdate ? { ...copy, heartbeat_at: t2 } : copy);
      }
    },
  );

  const keyStates: Record<string, (key: string) => KeyItem | undefined> = {
    absent: () => undefined,
    'RUNNING by run A, heartbeat t0': (key) => ({
      key,
      service: 'svc_a',
      run_id: 'A',
      status: 'RUNNING',
      heartbeat_at: t0,
    }),
    'RUNNING by run A, heartbeat t2': (key) => ({
      key,
      service: 'svc_a',
      run_id: 'A',
      status: 'RUNNING',
      heartbeat_at: t2,
    }),
    'SUCCEEDED by run B': (key) => ({
      key,
      service: 'svc_a',
      run_id: 'B',
      status: 'SUCCEEDED',
      payload_hash: 'h1',
      heartbeat_at: t1,
    }),
  };
  const keyClauses: Record<string, KeyClause[]> = {
    'never ([])': [],
    'exists: false': [{ exists: false }],
    'exists: true': [{ exists: true }],
    'ownerIs A': [{ ownerIs: 'A' }],
    'statusIn FAILED, SUCCEEDED': [{ statusIn: ['FAILED', 'SUCCEEDED'] }],
    'RUNNING and heartbeatBefore t1': [{ statusIn: ['RUNNING'], heartbeatBefore: t1 }],
    'ownerIs B and SUCCEEDED': [{ ownerIs: 'B', statusIn: ['SUCCEEDED'] }],
    'absent OR owned by A OR stale': [{ exists: false }, { ownerIs: 'A' }, { heartbeatBefore: t1 }],
  };

  it.each(Object.keys(keyClauses))(
    'putKey, updateKey and deleteKey under "%s" write exactly when keySatisfies holds',
    async (name) => {
      const when = keyClauses[name]!;
      let n = 0;
      for (const [state, make] of Object.entries(keyStates)) {
        const fresh = () => scopedKey('svc_a', `${name}-${state}-${++n}`);
        const seed = async (key: string) => {
          const item = make(key);
          if (item) expect((await store.putKey(item, [{ exists: false }])).written).toBe(true);
          return item;
        };
        const key = fresh();
        const before = await seed(key);
        const mine: KeyItem = { key, service: 'svc_a', run_id: 'C', status: 'RUNNING', heartbeat_at: t2 };
        const expected = keySatisfies(before, when);
        const put = await store.putKey(mine, when);
        expect({ state, written: put.written }).toEqual({ state, written: expected });
        if (put.written) expect(put.previous).toEqual(before);
        expect(put.current).toEqual(expected ? mine : before);
        expect(await store.readKey(key)).toEqual(expected ? mine : before);

        const updateKey = fresh();
        const copy = await seed(updateKey);
        const expectUpdate = copy !== undefined && keySatisfies(copy, when);
        const updated = await store.updateKey(updateKey, { status: 'FAILED' }, when);
        expect({ state, updated: updated.written }).toEqual({ state, updated: expectUpdate });
        expect(updated.current).toEqual(expectUpdate ? { ...copy, status: 'FAILED' } : copy);

        const deleteKey = fresh();
        const third = await seed(deleteKey);
        const expectDelete = third !== undefined && keySatisfies(third, when);
        expect({ state, deleted: await store.deleteKey(deleteKey, when) }).toEqual({ state, deleted: expectDelete });
        expect(await store.readKey(deleteKey)).toEqual(expectDelete ? undefined : third);
      }
    },
  );

  it('putKey returns the holder it replaced, so the lifecycle knows which stale run it took over', async () => {
    const key = scopedKey('svc_a', 'takeover');
    const stale: KeyItem = { key, service: 'svc_a', run_id: 'OLD', status: 'RUNNING', heartbeat_at: t0 };
    await store.putKey(stale, [{ exists: false }]);
    const mine: KeyItem = { ...stale, run_id: 'NEW', heartbeat_at: t2 };
    expect(await store.putKey(mine, [{ statusIn: ['RUNNING'], heartbeatBefore: t1 }])).toEqual({
      written: true,
      current: mine,
      previous: stale,
    });
  });
});

describe('DynamoRunStore layout 3', () => {
  it('a run item holds the record unchanged (plain status) and its index values in attributes of their own', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const record = runningRecord({ idempotency_key: 'nightly', payload_hash: 'h' });
    await lifecycle.begin(record);
    const final = finished(record, 'FAILED');
    await lifecycle.finish(final);
    const shard = shardOf(record.run_id);
    expect(await rawItem(store, { service: record.service, run_id: record.run_id })).toEqual({
      ...final,
      entity: `run#${shard}`,
      status_shard: `FAILED#${shard}`,
      service_status: 'svc_a#FAILED',
    });
    // the key's item: scoped by service, the owner under names that are not the table's key, no index attribute
    const keyItem = await rawItem(store, keyItemKey('svc_a#nightly'));
    expect(keyItem).toEqual({
      ...keyItemKey('svc_a#nightly'),
      key: 'svc_a#nightly',
      owner_service: 'svc_a',
      owner_run_id: record.run_id,
      owner_status: 'FAILED',
      payload_hash: 'h',
      heartbeat_at: record.started_at,
    });
    expect(await store.get(record.run_id)).toEqual(final);
    expect((await store.list({ limit: 10 })).items).toEqual([final]); // no key item in a listing
    await store.close();
  });

  it('an item with no status reads back without one, never as the string "undefined"', async () => {
    const store = await freshStore();
    const { status: _status, ...noStatus } = runningRecord();
    await raw(store).send(new PutCommand({ TableName: store.tableName, Item: noStatus }));
    const read = await store.readRun(noStatus);
    expect(read).toEqual(noStatus);
    expect(read && 'status' in read).toBe(false);
    expect((await store.latest('svc_a'))?.status).toBeUndefined();
    await store.close();
  });

  it('serves each listing from an index, list({service, status}) included: no query filters', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const runs = Array.from({ length: 6 }, (_, i) => runningRecord({ service: i % 2 ? 'svc_a' : 'svc_b' }));
    for (const run of runs) await lifecycle.begin(run);
    for (const run of runs.slice(0, 4))
      await lifecycle.finish(finished(run, run.service === 'svc_a' ? 'FAILED' : 'SUCCEEDED'));
    const sent = recordCommands(store);
    const ids = async (query: Parameters<DynamoRunStore['list']>[0]) =>
      (await store.list(query)).items.map((r) => r.run_id);
    const newestFirst = (rs: RunExecutionMetadata[]) => rs.map((r) => r.run_id).reverse();

    expect(await ids({ service: 'svc_a', status: 'FAILED', limit: 10 })).toEqual(
      newestFirst(runs.slice(0, 4).filter((r) => r.service === 'svc_a')),
    );
    expect(sent.splice(0)).toEqual([`QueryCommand ${INDEXES.byServiceStatus}`]);
    expect(await ids({ service: 'svc_a', status: 'RUNNING', limit: 10 })).toEqual([runs[5]!.run_id]);
    expect(await ids({ service: 'svc_b', limit: 10 })).toEqual(newestFirst(runs.filter((r) => r.service === 'svc_b')));
    expect(sent.splice(0)).toEqual([`QueryCommand ${INDEXES.byServiceStatus}`, 'QueryCommand']);
    expect(await ids({ status: 'SUCCEEDED', limit: 10 })).toEqual(
      newestFirst(runs.slice(0, 4).filter((r) => r.service === 'svc_b')),
    );
    expect(new Set(sent.splice(0))).toEqual(new Set([`QueryCommand ${INDEXES.byStatus}`]));
    expect(await ids({ limit: 10 })).toEqual(newestFirst(runs));
    expect(new Set(sent.splice(0))).toEqual(new Set([`QueryCommand ${INDEXES.all}`]));
    expect((await store.latest('svc_b'))?.run_id).toBe(runs[4]!.run_id);
    expect(sent.splice(0)).toEqual(['QueryCommand']);
    // pages through a service + status with the cursor
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({ service: 'svc_b', status: 'SUCCEEDED', limit: 1, cursor });
      pages.push(page.items.map((r) => r.run_id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual([[runs[2]!.run_id], [runs[0]!.run_id]]);
    await store.close();
  });

  it('keys runs by service + run id: two runs in the same second never overwrite each other', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const second = '2026-11-21T10:00:00.000Z';
    const runs = [
      runningRecord({ timestamp: second }),
      runningRecord({ timestamp: second }),
      runningRecord({ timestamp: second, service: 'svc_b' }),
    ];
    for (const r of runs) await lifecycle.begin(r);
    expect((await store.list({ limit: 10 })).items.map((r) => r.run_id).sort()).toEqual(
      runs.map((r) => r.run_id).sort(),
    );
    await store.close();
  });

  it('spreads 500 runs over 10 services so no partition key value of any index takes more than a tenth of the writes', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const reader = dynamo.client();
    const INDEXED = {
      table: 'service',
      [INDEXES.byRunId]: 'run_id',
      [INDEXES.all]: 'entity',
      [INDEXES.byStatus]: 'status_shard',
      [INDEXES.byServiceStatus]: 'service_status',
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
    const runs = Array.from({ length: 500 }, (_, i) =>
      runningRecord({ service: `svc_${i % 10}`, ...(i % 2 ? { idempotency_key: `key-${i}` } : {}) }),
    );
    const statusOf = (j: number) => (j % 3 ? 'SUCCEEDED' : 'FAILED');
    for (let i = 0; i < runs.length; i += 25) {
      await Promise.all(
        runs.slice(i, i + 25).map(async (run, j) => {
          expect(await lifecycle.begin(run)).toEqual({ started: true });
          expect((await lifecycle.finish(finished(run, statusOf(i + j)))).ok).toBe(true);
        }),
      );
    }
    const [hottest, count] = [...writes].sort((a, b) => b[1] - a[1])[0]!;
    // every run's writes were seen: begin + finish, and the key item's two writes for keyed runs
    expect(total).toBe(500 * 2 + 250 * 2);
    expect({ hottest, tooHot: count / total > 0.11 }).toEqual({ hottest, tooHot: false });
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
    const failed = (await store.list({ status: 'FAILED', limit: 500 })).items.map((r) => r.run_id);
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
});

describe('DynamoRunStore through the lifecycle', () => {
  it('keys belong to a service: the same key in two services runs both, and each replays only its own', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const hash = payloadHash({ day: 1 });
    const a = runningRecord({ service: 'svc_a', idempotency_key: 'r1', payload_hash: hash });
    const b = runningRecord({ service: 'svc_b', idempotency_key: 'r1', payload_hash: hash });
    expect(await lifecycle.begin(a)).toEqual({ started: true });
    expect(await lifecycle.begin(b)).toEqual({ started: true });
    await lifecycle.finish(finished(a));
    await lifecycle.finish(finished(b));
    const againA = await lifecycle.begin(
      runningRecord({ service: 'svc_a', idempotency_key: 'r1', payload_hash: hash }),
    );
    const againB = await lifecycle.begin(
      runningRecord({ service: 'svc_b', idempotency_key: 'r1', payload_hash: hash }),
    );
    expect(againA).toEqual({
      started: false,
      replayed: { ...finished(a), ended_at: expect.any(String), replayed: true },
    });
    expect(!againA.started && againA.replayed.run_id).toBe(a.run_id);
    expect(!againB.started && againB.replayed.run_id).toBe(b.run_id);
    // another payload under a SUCCEEDED key is refused, naming the run that holds it
    await expect(
      lifecycle.begin(
        runningRecord({ service: 'svc_a', idempotency_key: 'r1', payload_hash: payloadHash({ day: 2 }) }),
      ),
    ).rejects.toMatchObject({ name: 'IdempotencyKeyMismatchError', existingRunId: a.run_id });
    await store.close();
  });

  it('a live holder blocks its key; once its heartbeat is stale the next begin takes the key over and marks it CRASHED', async () => {
    const store = await freshStore();
    const time = manualClock();
    const lifecycle = lifecycleOf(store, time.clock);
    const first = runningRecord({ idempotency_key: 'k', started_at: time.iso(), heartbeat_at: time.iso() });
    await lifecycle.begin(first);
    await expect(lifecycle.begin(runningRecord({ idempotency_key: 'k' }))).rejects.toMatchObject({
      name: 'RunConflictError',
      runId: first.run_id,
    });
    // a heartbeat keeps it alive
    time.advance(50_000);
    expect((await lifecycle.heartbeat(first))?.heartbeat_at).toBe(time.iso());
    time.advance(50_000);
    expect(await lifecycle.markCrashed(first, { name: 'RunCrashed', body: 'gone' })).toMatchObject({
      crashed: false,
      reason: 'fresh',
    });
    await expect(lifecycle.begin(runningRecord({ idempotency_key: 'k' }))).rejects.toMatchObject({
      name: 'RunConflictError',
    });
    // then it stops beating
    time.advance(61_000);
    const second = runningRecord({ idempotency_key: 'k', started_at: time.iso(), heartbeat_at: time.iso() });
    expect(await lifecycle.begin(second)).toEqual({ started: true, tookOverFrom: first.run_id });
    expect(await store.readRun(first)).toMatchObject({ status: 'CRASHED', error: { name: 'RunCrashed' } });
    expect(await store.readKey('svc_a#k')).toMatchObject({ run_id: second.run_id, status: 'RUNNING' });
    // the first run's own final record replaces the presumption that it crashed
    const own = finished(first, 'SUCCEEDED');
    const outcome = await lifecycle.finish(own);
    expect(outcome).toMatchObject({ ok: true, superseded: { status: 'CRASHED' } });
    expect(await store.get(first.run_id)).toEqual(own);
    // ...and, being a success, it takes the key back from the second run (still RUNNING): the key
    // replays that success from now on, whatever the second run comes to
    expect(await store.readKey('svc_a#k')).toMatchObject({ run_id: first.run_id, status: 'SUCCEEDED' });
    expect(await lifecycle.begin(runningRecord({ idempotency_key: 'k' }))).toMatchObject({
      started: false,
      replayed: { run_id: first.run_id, replayed: true },
    });
    // the first terminal record wins over anything but a CRASHED presumption
    expect(await lifecycle.finish({ ...finished(first, 'FAILED'), ended_at: time.iso(1) })).toEqual({
      ok: false,
      existing: own,
    });
    await store.close();
  });

  it('requestCancel sets cancel_requested_at once, and the next heartbeat carries it back', async () => {
    const store = await freshStore();
    const time = manualClock();
    const lifecycle = lifecycleOf(store, time.clock);
    const run = runningRecord();
    await lifecycle.begin(run);
    const asked = await lifecycle.requestCancel(run.run_id);
    expect(asked?.cancel_requested_at).toBe(time.iso());
    time.advance(1000);
    await lifecycle.requestCancel(run.run_id);
    expect(await lifecycle.heartbeat(run)).toMatchObject({
      status: 'RUNNING',
      cancel_requested_at: asked!.cancel_requested_at,
    });
    await lifecycle.finish(finished(run, 'CANCELLED'));
    // a terminal record is left alone by heartbeats and cancel requests
    const ended = await store.readRun(run);
    expect(await lifecycle.heartbeat(run)).toEqual(ended);
    expect(await lifecycle.requestCancel(run.run_id)).toEqual(ended);
    expect(ended).toMatchObject({ status: 'CANCELLED' });
    await store.close();
  });

  it('survives ambiguous writes: putKey, putRun and finish land, their answers are lost, the retries find them their own', async () => {
    const store = await freshStore();
    const proxy = await startFaultProxy(dynamo.port);
    const client = new DynamoDBClient({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1, // as fromEnvironment: the lifecycle's retry policy is the only retry
    });
    const throughProxy = new DynamoRunStore(client, store.tableName);
    const lifecycle = lifecycleOf(throughProxy);
    try {
      const record = runningRecord({ idempotency_key: 'ambiguous' });
      // the key's put and the record's put both land; neither answer comes back
      proxy.dropAnswersTo(/PutItem/, 2);
      expect(await lifecycle.begin(record)).toEqual({ started: true });
      expect(proxy.dropped).toBe(2);
      expect(await store.get(record.run_id)).toEqual(record);
      expect((await store.list({ limit: 10 })).items).toHaveLength(1);
      // the key is held by that run, and by no orphan: another begin is refused naming it
      expect(await store.readKey('svc_a#ambiguous')).toMatchObject({ run_id: record.run_id, status: 'RUNNING' });
      await expect(lifecycleOf(store).begin(runningRecord({ idempotency_key: 'ambiguous' }))).rejects.toMatchObject({
        name: 'RunConflictError',
        runId: record.run_id,
      });
      // an ambiguous finish, and an ambiguous key release, are idempotent too
      proxy.dropAnswersTo(/PutItem|UpdateItem/, 2);
      const final = finished(record);
      expect(await lifecycle.finish(final)).toEqual({ ok: true, record: final });
      expect(proxy.dropped).toBe(4);
      expect(await store.get(record.run_id)).toEqual(final);
      expect(await store.readKey('svc_a#ambiguous')).toMatchObject({ run_id: record.run_id, status: 'SUCCEEDED' });
      const replay = await lifecycleOf(store).begin(runningRecord({ idempotency_key: 'ambiguous' }));
      expect(!replay.started && replay.replayed.run_id).toBe(record.run_id);
    } finally {
      await throughProxy.close();
      await proxy.close();
      await store.close();
    }
  });

  it('a refused write costs one conditional request that asks for the item it found (dynalite does not return it: one read)', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const first = runningRecord({ idempotency_key: 'replayed' });
    await lifecycle.begin(first);
    await lifecycle.finish(finished(first));
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
    const again = await lifecycle.begin(runningRecord({ idempotency_key: 'replayed' }));
    expect(!again.started && again.replayed).toMatchObject({ run_id: first.run_id, status: 'SUCCEEDED', body: 'done' });
    // the refused put, the read standing in for its missing item, the replayed run's read
    expect(operations).toEqual(['PutItemCommand ALL_OLD', 'GetItemCommand', 'GetItemCommand']);
    await store.close();
  });

  it('takes over a key whose run ended although the key still says RUNNING (its release was lost)', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const first = runningRecord({ idempotency_key: 'stuck' });
    await lifecycle.begin(first);
    await store.putRun(finished(first, 'FAILED'), [{ statusIn: ['RUNNING'] }]); // the record landed, the key was not told
    expect(await store.readKey('svc_a#stuck')).toMatchObject({ status: 'RUNNING' });
    expect(await lifecycle.begin(runningRecord({ idempotency_key: 'stuck' }))).toEqual({ started: true });
    await store.close();
  });

  it('prunes finished runs before the cutoff with the key items they own, never a key another run holds now', async () => {
    const store = await freshStore();
    const lifecycle = lifecycleOf(store);
    const day = 86_400_000;
    let serial = 0;
    const at = (daysAgo: number) => `${runIdFloor(Date.now() - daysAgo * day)}${String(++serial).padStart(16, '0')}`;
    const oldKept = runningRecord({ run_id: at(100), idempotency_key: 'mine' });
    const oldLost = runningRecord({ run_id: at(99), idempotency_key: 'moved-on' });
    const oldRunning = runningRecord({ run_id: at(98) });
    for (const r of [oldKept, oldLost, oldRunning]) await lifecycle.begin(r);
    await lifecycle.finish(finished(oldKept));
    await lifecycle.finish(finished(oldLost, 'FAILED'));
    const newer = runningRecord({ idempotency_key: 'moved-on' });
    await lifecycle.begin(newer); // the failed run's key runs again
    const before = new Date(Date.now() - 90 * day).toISOString();
    expect(await store.prune({ before, statuses: prunableStatuses(), dryRun: true })).toEqual({ removed: 2 });
    expect(await store.readRun(oldKept)).toBeDefined();
    expect(await store.prune({ before, statuses: prunableStatuses() })).toEqual({ removed: 2 });
    expect((await store.list({ limit: 10 })).items.map((r) => r.run_id).sort()).toEqual(
      [oldRunning.run_id, newer.run_id].sort(),
    );
    expect(await store.readKey('svc_a#mine')).toBeUndefined();
    expect(await store.readKey('svc_a#moved-on')).toMatchObject({ run_id: newer.run_id });
    await store.close();
  });

  it('with a retention, finished runs and their keys carry a TTL expires_at; records never show it', async () => {
    const seed = await freshStore();
    const time = manualClock();
    const store = new DynamoRunStore(seed.client, seed.tableName, 30, time.clock);
    const keyed = lifecycleOf(store, time.clock);
    const run = runningRecord({ idempotency_key: 'kept-30-days' });
    await keyed.begin(run);
    const runKey = { service: run.service, run_id: run.run_id };
    expect((await rawItem(store, runKey))?.expires_at).toBeUndefined(); // RUNNING: never
    expect((await rawItem(store, keyItemKey('svc_a#kept-30-days')))?.expires_at).toBeUndefined();
    const final = finished(run);
    await keyed.finish(final);
    expect((await rawItem(store, runKey))?.expires_at).toBe(
      Math.floor(Date.parse(final.ended_at!) / 1000) + 30 * 86_400,
    );
    expect((await rawItem(store, keyItemKey('svc_a#kept-30-days')))?.expires_at).toBe(
      Math.floor(time.clock.now() / 1000) + 30 * 86_400,
    );
    expect(await store.get(run.run_id)).toEqual(final);
    expect((await store.list({ limit: 1 })).items).toEqual([final]);
    await store.close();
  });

  it('reports a missing table with the command that creates it, as an error no retry can fix', async () => {
    const store = new DynamoRunStore(dynamo.client(), 'no_such_table');
    const error = await lifecycleOf(store)
      .begin(runningRecord())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RunStoreError', message: expect.stringContaining('`pipeline storage init`') });
    expect(store.classifyError(error)).toBe('unavailable');
    await expect(store.latest('svc_a')).rejects.toThrow('does not exist');
    store.client.destroy();
  });
});

/**
 * DynamoDB in front of dynalite, as far as adding indexes goes: dynalite ignores an UpdateTable
 * that creates or deletes an index, so this loopback endpoint answers those itself and shows the
 * new index in DescribeTable as DynamoDB does: CREATING for `creatingFor` descriptions, then
 * ACTIVE (an index being deleted shows DELETING). Every other request goes to dynalite as is.
 */
async function indexBuildingEndpoint(target: LocalDynamo, creatingFor: number) {
  const building = new Map<string, { describes: number; index: Record<string, unknown> }>();
  const deleting = new Set<string>();
  const calls: string[] = [];
  const forward = (headers: Record<string, unknown>, body: string) =>
    new Promise<string>((resolve, reject) => {
      const upstream = request(
        { host: '127.0.0.1', port: target.port, method: 'POST', path: '/', headers: headers as Record<string, string> },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          response.on('end', () => resolve(text));
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', async () => {
      const operation = String(req.headers['x-amz-target']).split('.')[1]!;
      const input = JSON.parse(body || '{}');
      const reply = (json: unknown) => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(json));
      };
      const update = input.GlobalSecondaryIndexUpdates?.[0];
      if (operation === 'UpdateTable' && update) {
        if (update.Create) {
          calls.push(`create ${update.Create.IndexName}`);
          building.set(update.Create.IndexName, { describes: 0, index: update.Create });
        } else {
          calls.push(`delete ${update.Delete.IndexName}`);
          deleting.add(update.Delete.IndexName);
        }
        return reply({ TableDescription: { TableName: input.TableName } });
      }
      const answer = await forward(req.headers, body);
      if (operation !== 'DescribeTable') {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        return res.end(answer);
      }
      const described = JSON.parse(answer);
      const indexes = (described.Table.GlobalSecondaryIndexes ?? []).map((g: { IndexName: string }) =>
        deleting.has(g.IndexName) ? { ...g, IndexStatus: 'DELETING' } : g,
      );
      for (const [name, state] of building) {
        state.describes += 1;
        const creating = state.describes <= creatingFor;
        calls.push(`describe ${name} ${creating ? 'CREATING' : 'ACTIVE'}`);
        indexes.push({
          ...state.index,
          IndexName: name,
          IndexStatus: creating ? 'CREATING' : 'ACTIVE',
          Backfilling: creating,
        });
      }
      reply({ Table: { ...described.Table, GlobalSecondaryIndexes: indexes } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    calls,
    client: () =>
      new DynamoDBClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A table as layout 2 made it: a GSI on `status`, none on `status_shard` or `service_status`. */
async function layout2Table(client: DynamoDBClient, billing: 'PAY_PER_REQUEST' | 'PROVISIONED' = 'PAY_PER_REQUEST') {
  const tableName = `runs_${++tableCounter}`;
  const definition = runTableDefinition(tableName);
  const capacity = { ReadCapacityUnits: 7, WriteCapacityUnits: 3 };
  const indexes = [
    ...definition.GlobalSecondaryIndexes!.slice(0, 2),
    {
      IndexName: 'status-run_id-index',
      KeySchema: [
        { AttributeName: 'status', KeyType: 'HASH' as const },
        { AttributeName: 'run_id', KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    },
  ];
  await client.send(
    new CreateTableCommand({
      ...definition,
      BillingMode: billing,
      ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: capacity } : {}),
      AttributeDefinitions: ['service', 'run_id', 'entity', 'status'].map((AttributeName) => ({
        AttributeName,
        AttributeType: 'S',
      })),
      GlobalSecondaryIndexes: indexes.map((index) =>
        billing === 'PROVISIONED' ? { ...index, ProvisionedThroughput: capacity } : index,
      ),
    }),
  );
  return { tableName, capacity };
}

/** A clock whose sleeps move its time on at once (the migration's polls wait for nothing real). */
function steppingClock() {
  let nowMs = Date.parse('2026-12-06T10:00:00.000Z');
  const slept: number[] = [];
  return {
    slept,
    clock: toClock({
      now: () => nowMs,
      sleep: async (ms: number) => {
        slept.push(ms);
        nowMs += ms;
      },
    }),
  };
}

describe('pipeline storage migrate (layout 1 and 2 to layout 3)', () => {
  /** Layout 2's run item: the status holds the shard. */
  const layout2Run = (record: RunExecutionMetadata) => ({
    ...record,
    status: `${record.status}#${shardOf(record.run_id)}`,
    entity: `run#${shardOf(record.run_id)}`,
  });

  it('rewrites runs and keys in place: old runs are listed by every index, an old SUCCEEDED key still replays, in its service only', async () => {
    const store = await freshStore();
    const doc = raw(store);
    const put = (Item: Record<string, unknown>) => doc.send(new PutCommand({ TableName: store.tableName, Item }));
    const hash = payloadHash({ day: 1 });
    const nightly = finished(runningRecord({ service: 'svc_b', idempotency_key: 'nightly', payload_hash: hash }));
    const failed = finished(runningRecord({ service: 'svc_b' }), 'FAILED');
    const layout1 = finished(runningRecord({ service: 'svc_a', idempotency_key: 'weekly' }));
    const stuck = runningRecord({
      service: 'svc_a',
      idempotency_key: 'stuck',
      heartbeat_at: '2026-01-01T00:00:00.000Z',
    });
    await put(layout2Run(nightly));
    await put(layout2Run(failed));
    await put(layout2Run(stuck));
    await put({ ...layout1, entity: 'run' }); // layout 1: bare status, one index partition
    await put({
      ...legacyKeyItemKey('nightly'),
      owner_run_id: nightly.run_id,
      owner_service: 'svc_b',
      owner_status: 'SUCCEEDED',
      owner_started_at: nightly.started_at,
      record: nightly,
    });
    await put({
      ...legacyKeyItemKey('stuck'),
      owner_run_id: stuck.run_id,
      owner_service: 'svc_a',
      owner_status: 'RUNNING',
      owner_started_at: stuck.started_at,
      record: stuck,
    });
    await put({
      service: '#idempotency#weekly',
      run_id: '#lock',
      owner_run_id: layout1.run_id,
      owner_service: 'svc_a',
      owner_status: 'RUNNING', // layout 1's lock was never told its run ended: the run's item says so
      owner_started_at: layout1.started_at,
    });
    // before: layout 2's status values do not match layout 3's indexes
    expect((await store.list({ status: 'FAILED', limit: 10 })).items).toEqual([]);

    expect(await migrateRunTable(store)).toEqual({
      layout: 3,
      runs: 4,
      keys: 3,
      unchanged: 0,
      indexesAdded: [],
      indexesRemoved: [],
    });
    const all = [nightly, failed, layout1, stuck];
    expect((await store.list({ limit: 10 })).items.map((r) => r.run_id)).toEqual(
      all
        .map((r) => r.run_id)
        .sort()
        .reverse(),
    );
    for (const record of all) expect(await store.get(record.run_id)).toEqual(record);
    expect(await rawItem(store, { service: 'svc_b', run_id: failed.run_id })).toMatchObject({
      status: 'FAILED',
      status_shard: `FAILED#${shardOf(failed.run_id)}`,
      service_status: 'svc_b#FAILED',
    });
    expect((await store.list({ status: 'FAILED', limit: 10 })).items).toEqual([failed]);
    expect((await store.list({ service: 'svc_b', status: 'SUCCEEDED', limit: 10 })).items).toEqual([nightly]);
    // the old keys are gone, their scoped items hold the same owners
    expect(await rawItem(store, legacyKeyItemKey('nightly'))).toBeUndefined();
    expect(await rawItem(store, { service: '#idempotency#weekly', run_id: '#lock' })).toBeUndefined();
    expect(await store.readKey('svc_b#nightly')).toEqual({
      key: 'svc_b#nightly',
      service: 'svc_b',
      run_id: nightly.run_id,
      status: 'SUCCEEDED',
      payload_hash: hash,
      heartbeat_at: nightly.started_at,
    });
    expect(await store.readKey('svc_a#weekly')).toMatchObject({ run_id: layout1.run_id, status: 'SUCCEEDED' });

    const lifecycle = lifecycleOf(store);
    // old keys keep working: the SUCCEEDED one replays for its own service...
    const again = await lifecycle.begin(
      runningRecord({ service: 'svc_b', idempotency_key: 'nightly', payload_hash: hash }),
    );
    expect(again).toMatchObject({ started: false, replayed: { run_id: nightly.run_id, replayed: true } });
    const weekly = await lifecycle.begin(runningRecord({ service: 'svc_a', idempotency_key: 'weekly' }));
    expect(!weekly.started && weekly.replayed.run_id).toBe(layout1.run_id);
    // ...and not for another service that uses the same key
    expect(await lifecycle.begin(runningRecord({ service: 'svc_a', idempotency_key: 'nightly' }))).toEqual({
      started: true,
    });
    // a layout 2 RUNNING holder whose heartbeat is long stale is taken over and marked CRASHED
    const next = runningRecord({ service: 'svc_a', idempotency_key: 'stuck' });
    expect(await lifecycle.begin(next)).toEqual({ started: true, tookOverFrom: stuck.run_id });
    expect((await store.get(stuck.run_id))?.status).toBe('CRASHED');

    // a second migration changes nothing
    const items = 4 + 1 /* svc_a#nightly's new run */ + 1; /* next */
    const keys = 3 + 1; /* svc_a#nightly */
    expect(await migrateRunTable(store)).toMatchObject({ runs: 0, keys: 0, unchanged: items + keys });
    await store.close();
  });

  it('is safe while runs are written: runs finishing during the migration end in layout 3 with their final status', async () => {
    const store = await freshStore();
    const runs = Array.from({ length: 40 }, (_, i) => runningRecord({ service: `svc_${i % 4}` }));
    for (const run of runs)
      await raw(store).send(new PutCommand({ TableName: store.tableName, Item: layout2Run(run) }));
    const lifecycle = lifecycleOf(store);
    const migration = migrateRunTable(store); // runs while the runs below finish
    const outcomes = await Promise.all(
      runs.map((run, i) => lifecycle.finish(finished(run, i % 2 ? 'SUCCEEDED' : 'FAILED'))),
    );
    const report = await migration;
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(report.runs + report.unchanged).toBe(40);
    for (const [i, run] of runs.entries()) {
      const status = i % 2 ? 'SUCCEEDED' : 'FAILED';
      expect(await rawItem(store, { service: run.service, run_id: run.run_id })).toMatchObject({
        status,
        status_shard: `${status}#${shardOf(run.run_id)}`,
        service_status: `${run.service}#${status}`,
      });
    }
    expect((await store.list({ service: 'svc_1', status: 'SUCCEEDED', limit: 50 })).items).toHaveLength(10);
    await store.close();
  });

  it('a run written by the old layout before the upgrade can still finish after it (its sharded status matches)', async () => {
    const store = await freshStore();
    const run = runningRecord();
    await raw(store).send(new PutCommand({ TableName: store.tableName, Item: layout2Run(run) }));
    const final = finished(run);
    expect(await lifecycleOf(store).finish(final)).toEqual({ ok: true, record: final });
    expect(await rawItem(store, { service: run.service, run_id: run.run_id })).toMatchObject({
      status: 'SUCCEEDED',
      status_shard: `SUCCEEDED#${shardOf(run.run_id)}`,
    });
    await store.close();
  });

  it.each([
    ['PAY_PER_REQUEST', 'could not be added to the table: 1 validation error'],
    ['PROVISIONED', 'the server accepted the request but did not add it'],
  ] as const)(
    'on a %s table made by layout 2, adds the missing indexes first; a server that cannot (dynalite) stops it with nothing changed',
    async (billing, why) => {
      const client = dynamo.client();
      const { tableName, capacity } = await layout2Table(client, billing);
      const store = new DynamoRunStore(client, tableName);
      const old = finished(runningRecord());
      await raw(store).send(new PutCommand({ TableName: tableName, Item: layout2Run(old) }));
      const updates: unknown[] = [];
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'UpdateTableCommand') updates.push(args.input);
          return next(args);
        },
        { step: 'initialize', name: 'recordUpdateTable' },
      );
      const error = await migrateRunTable(store).catch((e: Error) => e);
      expect(error).toMatchObject({ name: 'RunStoreError', message: expect.stringContaining(why) });
      expect((error as Error).message).toContain(`"${INDEXES.byStatus}"`);
      expect((error as Error).message).toContain('Nothing was changed');
      // what DynamoDB is asked: the first missing index, with the attribute it is keyed on
      expect(updates).toEqual([
        {
          TableName: tableName,
          AttributeDefinitions: [
            { AttributeName: 'status_shard', AttributeType: 'S' },
            { AttributeName: 'run_id', AttributeType: 'S' },
          ],
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: INDEXES.byStatus,
                KeySchema: [
                  { AttributeName: 'status_shard', KeyType: 'HASH' },
                  { AttributeName: 'run_id', KeyType: 'RANGE' },
                ],
                Projection: { ProjectionType: 'ALL' },
                // a provisioned table's index gets the table's capacity; an on-demand one none
                ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: capacity } : {}),
              },
            },
          ],
        },
      ]);
      expect(await rawItem(store, { service: old.service, run_id: old.run_id })).toEqual(layout2Run(old));
      await client.send(new DeleteTableCommand({ TableName: tableName }));
      await store.close();
    },
  );
  it('before the migration, a listing that needs a new index names `pipeline storage migrate`; old runs still read', async () => {
    const client = dynamo.client();
    const { tableName } = await layout2Table(client);
    const store = new DynamoRunStore(client, tableName);
    const old = finished(runningRecord());
    await raw(store).send(new PutCommand({ TableName: tableName, Item: layout2Run(old) }));
    for (const query of [{ status: 'SUCCEEDED' as const }, { service: 'svc_a', status: 'SUCCEEDED' as const }]) {
      await expect(store.list({ ...query, limit: 10 })).rejects.toMatchObject({
        name: 'RunStoreError',
        message: expect.stringContaining('has no index'),
        fix: 'Bring it to this version with `pipeline storage migrate`.',
      });
    }
    // what layout 3 reads without the new indexes works on the old items
    expect(await store.get(old.run_id)).toEqual(old);
    expect((await store.list({ service: 'svc_a', limit: 10 })).items).toEqual([old]);
    expect((await store.list({ limit: 10 })).items).toEqual([old]);
    await store.close();
  });

  it('on DynamoDB, adds each missing index and waits until it is ACTIVE before the next, rewrites the items, then removes the old index', async () => {
    const fake = await indexBuildingEndpoint(dynamo, 2);
    const client = fake.client();
    const { tableName } = await layout2Table(client);
    const store = new DynamoRunStore(client, tableName);
    const old = finished(runningRecord());
    await raw(store).send(new PutCommand({ TableName: tableName, Item: layout2Run(old) }));
    const time = steppingClock();
    const progress: string[] = [];
    const report = await migrateRunTable(store, {
      clock: time.clock,
      indexPollMs: 5000,
      onProgress: (message) => progress.push(message),
    });
    expect(report).toEqual({
      layout: 3,
      runs: 1,
      keys: 0,
      unchanged: 0,
      indexesAdded: [INDEXES.byStatus, INDEXES.byServiceStatus],
      indexesRemoved: ['status-run_id-index'],
    });
    // one index at a time, the next only once the first is ACTIVE; the old one removed last
    expect(fake.calls).toEqual([
      `create ${INDEXES.byStatus}`,
      `describe ${INDEXES.byStatus} CREATING`,
      `describe ${INDEXES.byStatus} CREATING`,
      `describe ${INDEXES.byStatus} ACTIVE`,
      `create ${INDEXES.byServiceStatus}`,
      `describe ${INDEXES.byStatus} ACTIVE`,
      `describe ${INDEXES.byServiceStatus} CREATING`,
      `describe ${INDEXES.byStatus} ACTIVE`,
      `describe ${INDEXES.byServiceStatus} CREATING`,
      `describe ${INDEXES.byStatus} ACTIVE`,
      `describe ${INDEXES.byServiceStatus} ACTIVE`,
      `describe ${INDEXES.byStatus} ACTIVE`,
      `describe ${INDEXES.byServiceStatus} ACTIVE`,
      'delete status-run_id-index',
    ]);
    expect(time.slept).toEqual([5000, 5000, 5000, 5000]);
    expect(progress).toEqual([
      expect.stringContaining(`adding index ${INDEXES.byStatus}`),
      expect.stringContaining(`adding index ${INDEXES.byServiceStatus}`),
      expect.stringContaining('rewriting the items'),
      expect.stringContaining('removing index status-run_id-index'),
    ]);
    expect(await store.get(old.run_id)).toEqual(old);
    expect((await rawItem(store, { service: old.service, run_id: old.run_id }))?.status).toBe('SUCCEEDED');
    // run again: the indexes are there, the old one is being deleted, the items are current
    fake.calls.length = 0;
    expect(await migrateRunTable(store, { clock: time.clock })).toMatchObject({
      runs: 0,
      unchanged: 1,
      indexesAdded: [],
      indexesRemoved: [],
    });
    expect(fake.calls.filter((c) => !c.startsWith('describe'))).toEqual([]);
    await store.close();
    await fake.close();
  });

  it('stops with the command to run again when a new index is not ACTIVE in time, before any item changed', async () => {
    const fake = await indexBuildingEndpoint(dynamo, 1000);
    const client = fake.client();
    const { tableName } = await layout2Table(client);
    const store = new DynamoRunStore(client, tableName);
    const old = finished(runningRecord());
    await raw(store).send(new PutCommand({ TableName: tableName, Item: layout2Run(old) }));
    const time = steppingClock();
    await expect(
      migrateRunTable(store, { clock: time.clock, indexPollMs: 10_000, maxIndexWaitMs: 60_000 }),
    ).rejects.toMatchObject({
      name: 'RunStoreError',
      message: expect.stringMatching(
        /"status_shard-run_id-index" is still CREATING after 60 s.*`pipeline storage migrate` again/,
      ),
    });
    expect(time.slept).toHaveLength(6);
    expect(await rawItem(store, { service: old.service, run_id: old.run_id })).toEqual(layout2Run(old));
    await store.close();
    await fake.close();
  });
});

describe('the run table', () => {
  it('creating the table twice reports that it exists', async () => {
    const client = dynamo.client();
    expect(await createRunTable(client, 'twice')).toBe('created');
    expect(await createRunTable(client, 'twice')).toBe('exists');
    await client.send(new DeleteTableCommand({ TableName: 'twice' }));
    client.destroy();
  });

  it('prints CloudFormation and Terraform equivalents of the table, with the four indexes', () => {
    const { cloudformation, terraform } = runTableSnippets('integration_run_metadata');
    expect(cloudformation).toContain('TableName: integration_run_metadata');
    expect(cloudformation).toContain('BillingMode: PAY_PER_REQUEST');
    for (const name of Object.values(INDEXES)) expect(cloudformation).toContain(`IndexName: ${name}`);
    expect(cloudformation).toContain('AttributeName: service_status');
    expect(cloudformation).not.toMatch(/AttributeName: status\b/);
    expect(terraform).toContain('hash_key     = "service"');
    expect(terraform).toContain('range_key    = "run_id"');
    expect(terraform).toContain('hash_key        = "status_shard"');
    expect(terraform.match(/global_secondary_index/g)).toHaveLength(4);
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
      await lifecycleOf(store).begin(record);
      expect((await seed.get(record.run_id))?.run_id).toBe(record.run_id);
      await store.close();
      await seed.close();
    } finally {
      process.env = saved;
    }
  });
});
