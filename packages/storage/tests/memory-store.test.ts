import { RunLifecycle } from '@pipeline-invocation/core';
import { MemoryRunStore } from '../src';
import { runStoreContract } from './helpers/contract';
import { runningRecord } from './helpers/records';

runStoreContract('memory', async () => new MemoryRunStore());

describe('MemoryRunStore', () => {
  it('copies records in and out, so a caller cannot change what is stored', async () => {
    const store = new MemoryRunStore();
    const record = runningRecord({ idempotency_key: 'k' });
    await new RunLifecycle(store).begin(record);
    (record.request_metadata as { request_id: string }).request_id = 'changed';
    const read = await store.get(record.run_id);
    expect(read?.request_metadata.request_id).toBe('r-1');
    read!.body = 'mutated';
    expect((await store.get(record.run_id))?.body).toBe('');
    const key = await store.readKey('svc_a#k');
    (key as { run_id: string }).run_id = 'someone-else';
    expect((await store.readKey('svc_a#k'))?.run_id).toBe(record.run_id);
    expect(store.all()).toHaveLength(1);
  });
});
