import { RunLifecycle } from '@pipeline-invocation/core';
import fc from 'fast-check';
import { MemoryRunStore } from '../src';
import { copyJson } from '../src/memory-store';
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

  it('stores what a JSON round trip would: the same values, keys and order, for any record shape', () => {
    // what a real store keeps is the record's JSON; the memory store copies without the text
    const odd = fc.oneof(
      fc.constant(undefined),
      fc.constant(Number.NaN),
      fc.constant(Infinity),
      fc.date({ noInvalidDate: true }),
      fc.constant(() => 1),
      fc.constant({ toJSON: () => 'custom' }),
      fc.constant(JSON.parse('{"__proto__": {"polluted": true}}') as unknown),
    );
    const value = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue(),
        odd,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    let nonPlain = 0;
    fc.assert(
      fc.property(value, (v) => {
        const copied = copyJson(v);
        const roundTrip = v === undefined || typeof v === 'function' ? undefined : JSON.parse(JSON.stringify(v));
        if (typeof v === 'function') return copied === v; // a bare function is kept (a record never is one)
        if (JSON.stringify(v)?.includes('custom') || JSON.stringify(v)?.includes('Z"')) nonPlain += 1;
        expect(copied).toStrictEqual(roundTrip);
        expect(JSON.stringify(copied)).toBe(JSON.stringify(roundTrip));
        if (copied !== null && typeof copied === 'object') expect(copied).not.toBe(v);
        expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
        return true;
      }),
      { numRuns: 500 },
    );
    expect(nonPlain).toBeGreaterThan(0); // dates and toJSON were among the cases
  });
});
