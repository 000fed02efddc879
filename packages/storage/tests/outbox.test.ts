import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
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
    expect(await outbox.flush(store)).toEqual({ written: 2, remaining: 0 });
    expect(store.all()).toEqual(records);
    expect(outbox.pending()).toEqual([]);
    expect(await outbox.flush(store)).toEqual({ written: 0, remaining: 0 });
    expect(store.all()).toHaveLength(2);
  });

  it('keeps what still cannot be written, and skips a torn last line', async () => {
    const outbox = new Outbox(join(dir, 'b', 'outbox.jsonl'));
    const record = finished(runningRecord());
    outbox.append(record);
    appendFileSync(outbox.file, '{"service":"torn');
    const failing = new MemoryRunStore();
    failing.finish = async () => {
      throw new Error('store down');
    };
    const result = await outbox.flush(failing);
    expect(result).toMatchObject({ written: 0, remaining: 1 });
    expect((result.error as Error).message).toBe('store down');
    expect(outbox.pending()).toEqual([record]);
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
    expect(await outbox.flush(revived)).toEqual({ written: 1, remaining: 0 });
    expect(await outbox.flush(revived)).toEqual({ written: 0, remaining: 0 });
    const page = await revived.list({ limit: 10 });
    expect(page.items).toEqual([final]);
    await revived.close();
    await store.close();
    await dynamo.stop();
  });

  it('ignores an outbox that does not exist', async () => {
    const outbox = new Outbox(join(dir, 'none', 'outbox.jsonl'));
    expect(outbox.pending()).toEqual([]);
    writeFileSync(join(dir, 'unrelated'), '');
    expect(await outbox.flush(new MemoryRunStore())).toEqual({ written: 0, remaining: 0 });
  });
});
