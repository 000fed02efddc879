import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Agent } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  RunLifecycle,
  retryPolicyFromDelays,
  type RunExecutionMetadata,
  type RunStore,
} from '@pipeline-invocation/core';
import { DynamoRunStore, createRunTable } from '../src/dynamodb';
import { MemoryRunStore, Outbox, SqliteRunStore } from '../src';
import { startDynalite } from './helpers/dynalite';
import { ManualClock } from './helpers/manual-clock';
import { finished, runningRecord } from './helpers/records';
import { startFaultProxy } from './helpers/tcp-proxy';
import { tempDir } from './helpers/temp';

const dir = tempDir();

/** A lifecycle over `store`; store calls are tried once (or as `delaysMs` says), on `clock`. */
const lifecycleOf = (store: RunStore, clock = new ManualClock(Date.now()), delaysMs: number[] = []) =>
  new RunLifecycle(store, { clock, staleAfterMs: 60_000, retry: retryPolicyFromDelays(delaysMs) });

/** A SQLite store whose file another connection holds with BEGIN EXCLUSIVE: every write is SQLITE_BUSY. */
async function lockedSqlite(name: string) {
  const file = join(dir, 'locked', `${name}.db`);
  const store = new SqliteRunStore(file);
  await store.ping();
  const other = new Database(file, { timeout: 0 });
  other.exec('BEGIN EXCLUSIVE');
  return {
    store,
    unlock: () => {
      if (other.inTransaction) other.exec('COMMIT');
    },
    close: async () => {
      if (other.inTransaction) other.exec('COMMIT');
      other.close();
      await store.close();
    },
  };
}

describe('Outbox', () => {
  it('appends records durably as JSON lines and replays them into a store, once', async () => {
    const outbox = new Outbox(join(dir, 'a', 'outbox.jsonl'));
    const records = [finished(runningRecord()), finished(runningRecord(), 'FAILED')];
    records.forEach((r) => outbox.append(r));
    expect(readFileSync(outbox.file, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(outbox.pending()).toEqual(records);

    const store = new MemoryRunStore();
    expect(await outbox.flush(lifecycleOf(store))).toEqual({ written: 2, remaining: 0, quarantined: 0 });
    expect(store.all()).toEqual(records);
    expect(outbox.pending()).toEqual([]);
    expect(await outbox.flush(lifecycleOf(store))).toEqual({ written: 0, remaining: 0, quarantined: 0 });
    expect(store.all()).toHaveLength(2);
  });

  it('is due before its first flush, after its own appends and after RESCAN_MS; not between', async () => {
    const clock = new ManualClock();
    const outbox = new Outbox(join(dir, 'due', 'outbox.jsonl'), { clock });
    const lifecycle = lifecycleOf(new MemoryRunStore(), clock);
    expect(outbox.due()).toBe(true);
    await outbox.flush(lifecycle);
    clock.advance(1000);
    expect(outbox.due()).toBe(false);
    // another process's record: found at the next rescan
    new Outbox(outbox.file).append(finished(runningRecord()));
    expect(outbox.due()).toBe(false);
    clock.advance(Outbox.RESCAN_MS);
    expect(outbox.due()).toBe(true);
    expect((await outbox.flush(lifecycle)).written).toBe(1);
    expect(outbox.due()).toBe(false);
    // its own record: due at once
    outbox.append(finished(runningRecord()));
    expect(outbox.due()).toBe(true);
  });

  it('after a failed flush is not due until its backoff has passed, growing with each failure (no run waits on a down store first)', async () => {
    const clock = new ManualClock();
    const outbox = new Outbox(join(dir, 'backoff', 'outbox.jsonl'), {
      clock,
      retry: retryPolicyFromDelays([5000, 20_000]),
    });
    const locked = await lockedSqlite('backoff');
    const down = lifecycleOf(locked.store, clock);
    const record = finished(runningRecord());
    outbox.append(record);
    expect(outbox.due()).toBe(true);
    const first = await outbox.flush(down);
    expect(first).toMatchObject({ written: 0, remaining: 1, quarantined: 0 });
    expect(String(first.error)).toContain('stayed locked');
    // the store is down: the next runs do not try the outbox first
    expect(outbox.due()).toBe(false);
    clock.advance(4999);
    expect(outbox.due()).toBe(false);
    clock.advance(1);
    expect(outbox.due()).toBe(true);
    expect((await outbox.flush(down)).remaining).toBe(1);
    clock.advance(5000);
    expect(outbox.due()).toBe(false); // the second failure waits longer
    clock.advance(15_000);
    expect(outbox.due()).toBe(true);
    // a run's own append during the backoff does not make it due either: the store is still down
    outbox.append(finished(runningRecord()));
    expect((await outbox.flush(down)).remaining).toBe(2);
    expect(outbox.due()).toBe(false);
    locked.unlock();
    clock.advance(20_000);
    expect(outbox.due()).toBe(true);
    expect(await outbox.flush(down)).toEqual({ written: 2, remaining: 0, quarantined: 0 });
    expect(await locked.store.get(record.run_id)).toEqual(record);
    // back to normal: not due again until something is appended or RESCAN_MS passes
    clock.advance(1000);
    expect(outbox.due()).toBe(false);
    await locked.close();
  });

  it('keeps what still cannot be written (a locked SQLite file), and quarantines a torn last line, counted', async () => {
    const outbox = new Outbox(join(dir, 'b', 'outbox.jsonl'));
    const record = finished(runningRecord());
    outbox.append(record);
    appendFileSync(outbox.file, '{"service":"torn');
    const locked = await lockedSqlite('torn');
    const result = await outbox.flush(lifecycleOf(locked.store));
    expect(result).toMatchObject({ written: 0, remaining: 1, quarantined: 1 });
    expect(result.error).toMatchObject({ name: 'RunStoreError', message: expect.stringContaining('stayed locked') });
    expect(outbox.pending()).toEqual([record]);
    expect(outbox.quarantined()).toEqual([
      expect.objectContaining({ line: '{"service":"torn', reason: expect.stringContaining('not JSON') }),
    ]);
    await locked.close();
  });

  it("writes a run's real SUCCEEDED record over the CRASHED presumption another host made meanwhile (not quarantined)", async () => {
    // host A reaches DynamoDB through a proxy that goes down; host B reaches it directly
    const dynamo = await startDynalite();
    const proxy = await startFaultProxy(dynamo.port);
    await createRunTable(dynamo.client(), 'runs');
    const clock = new ManualClock(Date.now());
    const storeA = new DynamoRunStore(
      new DynamoDBClient({
        endpoint: proxy.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
        // a connection per request, so every request after the outage begins meets it
        requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
      }),
      'runs',
    );
    const storeB = new DynamoRunStore(dynamo.client(), 'runs');
    const hostA = lifecycleOf(storeA, clock);
    const hostB = lifecycleOf(storeB, clock);
    const outbox = new Outbox(join(dir, 'supersede', 'outbox.jsonl'), { clock });
    try {
      const run = runningRecord({
        idempotency_key: 'nightly',
        payload_hash: 'h',
        started_at: clock.iso(),
        heartbeat_at: clock.iso(),
      });
      await hostA.begin(run);
      proxy.mode = 'refuse'; // A's heartbeats and its final write fail from here on
      clock.advance(30_000);
      await expect(hostA.heartbeat(run)).rejects.toThrow();
      clock.advance(40_000);
      const real: RunExecutionMetadata = { ...finished(run), ended_at: clock.iso() };
      await expect(hostA.finish(real)).rejects.toThrow();
      outbox.append(real);
      // B sees a stale heartbeat and presumes A dead
      const presumed = await hostB.markCrashed(run, { name: 'WorkerCrashed', body: 'no heartbeat' });
      expect(presumed).toMatchObject({ crashed: true, record: { status: 'CRASHED' } });
      // A's store comes back: its outbox replays the real outcome, which replaces the presumption
      proxy.mode = 'forward';
      expect(await outbox.flush(hostA)).toEqual({ written: 1, remaining: 0, quarantined: 0 });
      expect(outbox.quarantined()).toEqual([]);
      expect(await storeB.get(run.run_id)).toEqual(real);
      // and the key replays it rather than running the work a second time
      const again = runningRecord({ idempotency_key: 'nightly', payload_hash: 'h', started_at: clock.iso() });
      expect(await hostB.begin(again)).toEqual({ started: false, replayed: { ...real, replayed: true } });
    } finally {
      await proxy.close();
      await storeA.close();
      await storeB.close();
      await dynamo.stop();
    }
  });

  it('quarantines a replayed record whose run already has another real terminal record (the first one stands)', async () => {
    const store = new MemoryRunStore();
    const lifecycle = lifecycleOf(store);
    const run = runningRecord();
    await lifecycle.begin(run);
    const succeeded = finished(run);
    await lifecycle.finish(succeeded);
    const outbox = new Outbox(join(dir, 'first-wins', 'outbox.jsonl'));
    const failed = { ...finished(run, 'FAILED'), ended_at: new Date(Date.now() + 5).toISOString() };
    outbox.append(failed);
    expect(await outbox.flush(lifecycle)).toEqual({ written: 0, remaining: 0, quarantined: 1 });
    expect(outbox.quarantined()).toEqual([
      expect.objectContaining({
        record: failed,
        reason: expect.stringContaining('already has a terminal record (SUCCEEDED)'),
      }),
    ]);
    expect(await store.get(run.run_id)).toEqual(succeeded);
  });

  it('loses nothing when DynamoDB stops mid-run: the record waits in the outbox and lands exactly once', async () => {
    const dynamo = await startDynalite();
    const client = () => dynamo.client({ maxAttempts: 1 });
    await createRunTable(client(), 'runs');
    const store = new DynamoRunStore(client(), 'runs');
    const record = runningRecord();
    await lifecycleOf(store).begin(record);

    await dynamo.stop();
    const final = finished(record);
    const outbox = new Outbox(join(dir, 'c', 'outbox.jsonl'));
    await expect(lifecycleOf(store).finish(final)).rejects.toThrow();
    outbox.append(final);

    await dynamo.restart(); // dynalite keeps nothing in memory across restarts: recreate the table
    await createRunTable(client(), 'runs');
    const revived = new DynamoRunStore(client(), 'runs');
    expect(await outbox.flush(lifecycleOf(revived))).toEqual({ written: 1, remaining: 0, quarantined: 0 });
    expect(await outbox.flush(lifecycleOf(revived))).toEqual({ written: 0, remaining: 0, quarantined: 0 });
    const page = await revived.list({ limit: 10 });
    expect(page.items).toEqual([final]);
    await revived.close();
    await store.close();
    await dynamo.stop();
  });

  it('quarantines a record DynamoDB refuses for good (over 400 KB) without blocking the ones behind it', async () => {
    const dynamo = await startDynalite();
    await createRunTable(dynamo.client(), 'runs');
    const store = new DynamoRunStore(dynamo.client(), 'runs');
    const outbox = new Outbox(join(dir, 'poison', 'outbox.jsonl'));
    const poison = { ...finished(runningRecord()), body: 'x'.repeat(500_000) };
    const after = [finished(runningRecord()), finished(runningRecord(), 'FAILED')];
    outbox.append(poison);
    after.forEach((r) => outbox.append(r));
    try {
      expect(await outbox.flush(lifecycleOf(store))).toEqual({ written: 2, remaining: 0, quarantined: 1 });
      expect((await store.list({ limit: 10 })).items.map((r) => r.run_id).sort()).toEqual(
        after.map((r) => r.run_id).sort(),
      );
      const [entry] = outbox.quarantined();
      expect(entry).toMatchObject({ record: poison, reason: expect.stringContaining('maximum allowed size') });
      expect(outbox.pending()).toEqual([]);
    } finally {
      await store.close();
      await dynamo.stop();
    }
  });

  it('takes up the claimed file of a flush whose process was killed mid-flush: nothing lost, nothing twice', async () => {
    // A store that never answers: a TCP server that accepts and stays silent.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    const dynamo = await startDynalite();
    await createRunTable(dynamo.client(), 'runs');
    const store = new DynamoRunStore(dynamo.client(), 'runs');
    const outbox = new Outbox(join(dir, 'killed', 'outbox.jsonl'));
    const records = [finished(runningRecord()), finished(runningRecord(), 'FAILED'), finished(runningRecord())];
    // the first one already landed before the crash: the replay must not write it twice
    await lifecycleOf(store).finish(records[0]!);
    records.forEach((r) => outbox.append(r));
    const dist = join(__dirname, '..', 'dist');
    const coreDist = join(__dirname, '..', '..', 'core', 'dist', 'index.js');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { RunLifecycle } = require(${JSON.stringify(coreDist)});
         const { Outbox } = require(${JSON.stringify(join(dist, 'index.js'))});
         const { DynamoRunStore } = require(${JSON.stringify(join(dist, 'dynamodb', 'index.js'))});
         const store = DynamoRunStore.fromEnvironment({ tableName: 'runs', client: { endpoint: 'http://127.0.0.1:${silentPort}',
           region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } });
         new Outbox(${JSON.stringify(outbox.file)}).flush(new RunLifecycle(store));`,
      ],
      { stdio: 'ignore' },
    );
    try {
      const folder = join(dir, 'killed');
      const claimed = () => readdirSync(folder).filter((f) => f.endsWith('.replaying'));
      // polls a file another process makes (no expiry involved): bounded, 5 s at most
      for (let i = 0; i < 200 && claimed().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(claimed()).toHaveLength(1);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(existsSync(outbox.file)).toBe(false); // everything sits in the dead flush's file
      expect(outbox.pending()).toEqual(records);

      expect(await outbox.flush(lifecycleOf(store))).toEqual({ written: 3, remaining: 0, quarantined: 0 });
      expect(claimed()).toEqual([]);
      const stored = (await store.list({ limit: 10 })).items;
      expect(stored.map((r) => r.run_id).sort()).toEqual(records.map((r) => r.run_id).sort());
    } finally {
      child.kill('SIGKILL');
      silent.close();
      await store.close();
      await dynamo.stop();
    }
  });

  it('ignores an outbox that does not exist', async () => {
    const outbox = new Outbox(join(dir, 'none', 'outbox.jsonl'));
    expect(outbox.pending()).toEqual([]);
    writeFileSync(join(dir, 'unrelated'), '');
    expect(await outbox.flush(lifecycleOf(new MemoryRunStore()))).toEqual({ written: 0, remaining: 0, quarantined: 0 });
  });
});
