import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynamoRunStore, createRunTable } from '../src/dynamodb';
import { MemoryRunStore, Outbox } from '../src';
import { startDynalite } from './helpers/dynalite';
import { finished, runningRecord } from './helpers/records';
import { tempDir } from './helpers/temp';

const dir = tempDir();

describe('Outbox', () => {
  it('appends records durably as JSON lines and replays them into a store, once', async () => {
    const outbox = new Outbox(join(dir, 'a', 'outbox.jsonl'));
    const records = [finished(runningRecord()), finished(runningRecord(), 'FAILED')];
    records.forEach((r) => outbox.append(r));
    expect(readFileSync(outbox.file, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(outbox.pending()).toEqual(records);

    const store = new MemoryRunStore();
    expect(await outbox.flush(store)).toEqual({ written: 2, remaining: 0, quarantined: 0 });
    expect(store.all()).toEqual(records);
    expect(outbox.pending()).toEqual([]);
    expect(await outbox.flush(store)).toEqual({ written: 0, remaining: 0, quarantined: 0 });
    expect(store.all()).toHaveLength(2);
  });

  it('is due before its first flush, after its own appends and after RESCAN_MS; not between', async () => {
    const outbox = new Outbox(join(dir, 'due', 'outbox.jsonl'));
    const store = new MemoryRunStore();
    expect(outbox.due()).toBe(true);
    await outbox.flush(store);
    const flushedAt = Date.now();
    expect(outbox.due(flushedAt + 1000)).toBe(false);
    // another process's record: found at the next rescan
    new Outbox(outbox.file).append(finished(runningRecord()));
    expect(outbox.due(flushedAt + 1000)).toBe(false);
    expect(outbox.due(flushedAt + Outbox.RESCAN_MS + 50)).toBe(true);
    expect((await outbox.flush(store)).written).toBe(1);
    // its own record: due at once, and still due while the store cannot take it
    outbox.append(finished(runningRecord()));
    expect(outbox.due(Date.now())).toBe(true);
    const dynamo = await startDynalite();
    const down = new DynamoRunStore(dynamo.client({ maxAttempts: 1 }), 'runs');
    await dynamo.stop(); // a store that cannot be reached
    expect((await outbox.flush(down)).remaining).toBe(1);
    expect(outbox.due(Date.now())).toBe(true);
    expect((await outbox.flush(store)).written).toBe(1);
    expect(outbox.due(Date.now())).toBe(false);
    expect(store.all()).toHaveLength(2);
    await down.close();
  });

  it('keeps what still cannot be written, and quarantines a torn last line, counted', async () => {
    const outbox = new Outbox(join(dir, 'b', 'outbox.jsonl'));
    const record = finished(runningRecord());
    outbox.append(record);
    appendFileSync(outbox.file, '{"service":"torn');
    const failing = new MemoryRunStore();
    failing.finish = async () => {
      throw new Error('store down');
    };
    const result = await outbox.flush(failing);
    expect(result).toMatchObject({ written: 0, remaining: 1, quarantined: 1 });
    expect((result.error as Error).message).toBe('store down');
    expect(outbox.pending()).toEqual([record]);
    expect(outbox.quarantined()).toEqual([
      expect.objectContaining({ line: '{"service":"torn', reason: expect.stringContaining('not JSON') }),
    ]);
  });

  it('loses nothing when DynamoDB stops mid-run: the record waits in the outbox and lands exactly once', async () => {
    const dynamo = await startDynalite();
    const client = () => dynamo.client({ maxAttempts: 1 });
    await createRunTable(client(), 'runs');
    const store = new DynamoRunStore(client(), 'runs');
    const record = runningRecord();
    await store.begin(record);

    await dynamo.stop();
    const final = finished(record);
    const outbox = new Outbox(join(dir, 'c', 'outbox.jsonl'));
    await expect(store.finish(final)).rejects.toThrow();
    outbox.append(final);

    await dynamo.restart(); // dynalite keeps nothing in memory across restarts: recreate the table
    await createRunTable(client(), 'runs');
    const revived = new DynamoRunStore(client(), 'runs');
    expect(await outbox.flush(revived)).toEqual({ written: 1, remaining: 0, quarantined: 0 });
    expect(await outbox.flush(revived)).toEqual({ written: 0, remaining: 0, quarantined: 0 });
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
      expect(await outbox.flush(store)).toEqual({ written: 2, remaining: 0, quarantined: 1 });
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
    await store.finish(records[0]!);
    records.forEach((r) => outbox.append(r));
    const dist = join(__dirname, '..', 'dist');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { Outbox } = require(${JSON.stringify(join(dist, 'index.js'))});
         const { DynamoRunStore } = require(${JSON.stringify(join(dist, 'dynamodb', 'index.js'))});
         const store = DynamoRunStore.fromEnvironment({ tableName: 'runs', client: { endpoint: 'http://127.0.0.1:${silentPort}',
           region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } });
         new Outbox(${JSON.stringify(outbox.file)}).flush(store);`,
      ],
      { stdio: 'ignore' },
    );
    try {
      const folder = join(dir, 'killed');
      const claimed = () => readdirSync(folder).filter((f) => f.endsWith('.replaying'));
      for (let i = 0; i < 200 && claimed().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(claimed()).toHaveLength(1);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(existsSync(outbox.file)).toBe(false); // everything sits in the dead flush's file
      expect(outbox.pending()).toEqual(records);

      expect(await outbox.flush(store)).toEqual({ written: 3, remaining: 0, quarantined: 0 });
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
    expect(await outbox.flush(new MemoryRunStore())).toEqual({ written: 0, remaining: 0, quarantined: 0 });
  });
});
