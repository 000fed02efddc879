import { runIdFloor, type RunStore } from '@pipeline-invocation/core';
import { finished, runningRecord } from './records';

/**
 * The run store contract: every store (memory, SQLite, DynamoDB) must pass these.
 * `open` makes an empty store; `close` releases it.
 */
export function runStoreContract(name: string, open: () => Promise<RunStore>): void {
  describe(`${name}: run store contract`, () => {
    let store: RunStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('begin writes a RUNNING record that get() returns with every field', async () => {
      const record = runningRecord();
      expect(await store.begin(record)).toEqual({ ok: true });
      expect(await store.get(record.run_id)).toEqual(record);
    });

    it('finish replaces the RUNNING record, once, and keeps the error', async () => {
      const record = runningRecord();
      await store.begin(record);
      const final = finished(record, 'FAILED');
      await store.finish(final);
      await store.finish(final);
      expect(await store.get(record.run_id)).toEqual(final);
      expect((await store.list({ limit: 10 })).items).toHaveLength(1);
    });

    it('get returns undefined for an unknown run id', async () => {
      expect(await store.get('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
    });

    it('latest returns the newest run of that service only', async () => {
      expect(await store.latest('svc_a')).toBeUndefined();
      const first = runningRecord();
      const other = runningRecord({ service: 'svc_b' });
      const second = runningRecord();
      for (const r of [first, other, second]) await store.begin(r);
      await store.finish(finished(first));
      expect((await store.latest('svc_a'))?.run_id).toBe(second.run_id);
      expect((await store.latest('svc_b'))?.run_id).toBe(other.run_id);
    });

    it('refuses a second begin while a run with the same idempotency key is RUNNING or SUCCEEDED', async () => {
      const first = runningRecord({ idempotency_key: 'key-1' });
      expect(await store.begin(first)).toEqual({ ok: true });
      const again = runningRecord({ idempotency_key: 'key-1' });
      const whileRunning = await store.begin(again);
      expect(whileRunning.ok).toBe(false);
      expect(!whileRunning.ok && whileRunning.existing.run_id).toBe(first.run_id);

      await store.finish(finished(first));
      const afterSuccess = await store.begin(again);
      expect(!afterSuccess.ok && afterSuccess.existing.status).toBe('SUCCEEDED');
      expect(await store.get(again.run_id)).toBeUndefined();
    });

    it('lets a key be used again after its run failed', async () => {
      const first = runningRecord({ idempotency_key: 'key-2' });
      await store.begin(first);
      await store.finish(finished(first, 'FAILED'));
      const retry = runningRecord({ idempotency_key: 'key-2' });
      expect(await store.begin(retry)).toEqual({ ok: true });
      const third = await store.begin(runningRecord({ idempotency_key: 'key-2' }));
      expect(!third.ok && third.existing.run_id).toBe(retry.run_id);
    });

    it('lists newest first, filtered by service and status', async () => {
      const a1 = runningRecord();
      const b1 = runningRecord({ service: 'svc_b' });
      const a2 = runningRecord();
      for (const r of [a1, b1, a2]) await store.begin(r);
      await store.finish(finished(a1));
      await store.finish(finished(b1, 'FAILED'));
      const ids = (q: Parameters<RunStore['list']>[0]) => store.list(q).then((p) => p.items.map((r) => r.run_id));
      expect(await ids({ limit: 10 })).toEqual([a2.run_id, b1.run_id, a1.run_id]);
      expect(await ids({ service: 'svc_a', limit: 10 })).toEqual([a2.run_id, a1.run_id]);
      expect(await ids({ status: 'FAILED', limit: 10 })).toEqual([b1.run_id]);
      expect(await ids({ service: 'svc_a', status: 'RUNNING', limit: 10 })).toEqual([a2.run_id]);
      expect(await ids({ service: 'none', limit: 10 })).toEqual([]);
    });

    it('pages through every record exactly once with the cursor', async () => {
      const records = Array.from({ length: 23 }, (_, i) => runningRecord({ service: i % 2 ? 'svc_a' : 'svc_b' }));
      for (const r of records) await store.begin(r);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 5, cursor });
        seen.push(...page.items.map((r) => r.run_id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen).toEqual(records.map((r) => r.run_id).reverse());

      const onlyA: string[] = [];
      cursor = undefined;
      do {
        const page = await store.list({ service: 'svc_a', limit: 4, cursor });
        onlyA.push(...page.items.map((r) => r.run_id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(onlyA).toEqual(
        records
          .filter((r) => r.service === 'svc_a')
          .map((r) => r.run_id)
          .reverse(),
      );
    });

    it('begin is idempotent for its own run: a retried begin is ok and writes one record', async () => {
      for (const key of [undefined, 'own-key']) {
        const record = runningRecord(key ? { idempotency_key: key } : {});
        expect(await store.begin(record)).toEqual({ ok: true });
        expect(await store.begin(record)).toEqual({ ok: true });
        expect(await store.get(record.run_id)).toEqual(record);
      }
      expect((await store.list({ limit: 10 })).items).toHaveLength(2);
    });

    it('keeps the first terminal record: a retried finish is ok, a later different one is refused', async () => {
      const record = runningRecord();
      await store.begin(record);
      const succeeded = finished(record, 'SUCCEEDED');
      expect(await store.finish(succeeded)).toEqual({ ok: true });
      expect(await store.finish(succeeded)).toEqual({ ok: true });
      const crashed = { ...finished(record, 'CRASHED'), ended_at: new Date(Date.now() + 5).toISOString() };
      expect(await store.finish(crashed)).toEqual({ ok: false, existing: succeeded });
      expect(await store.get(record.run_id)).toEqual(succeeded);
    });

    it('finish writes a record it never saw begin (an outbox replay), once', async () => {
      const final = finished(runningRecord({ idempotency_key: 'replayed-key' }), 'FAILED');
      expect(await store.finish(final)).toEqual({ ok: true });
      expect(await store.get(final.run_id)).toEqual(final);
      expect(await store.begin(runningRecord({ idempotency_key: 'replayed-key' }))).toEqual({ ok: true });
    });

    it('renews the heartbeat of a RUNNING run, and carries a cancel request back to it', async () => {
      const record = runningRecord();
      await store.begin(record);
      const at = new Date(Date.now() + 10_000).toISOString();
      expect((await store.heartbeat(record, at))?.heartbeat_at).toBe(at);
      const cancelAt = new Date(Date.now() + 11_000).toISOString();
      expect((await store.requestCancel(record.run_id, cancelAt))?.cancel_requested_at).toBe(cancelAt);
      // a second request keeps the first time; the next heartbeat sees it
      await store.requestCancel(record.run_id, new Date(Date.now() + 12_000).toISOString());
      const beat = await store.heartbeat(record, new Date(Date.now() + 13_000).toISOString());
      expect(beat).toMatchObject({ status: 'RUNNING', cancel_requested_at: cancelAt });
    });

    it('leaves a terminal record untouched by heartbeats and cancel requests', async () => {
      const record = runningRecord();
      await store.begin(record);
      const final = finished(record);
      await store.finish(final);
      expect(await store.heartbeat(record, new Date().toISOString())).toEqual(final);
      expect(await store.requestCancel(record.run_id, new Date().toISOString())).toEqual(final);
      expect(await store.get(record.run_id)).toEqual(final);
      expect(await store.requestCancel('01ZZZZZZZZZZZZZZZZZZZZZZZZ', new Date().toISOString())).toBeUndefined();
    });

    it.each(['CANCELLED', 'CRASHED', 'TIMED_OUT'] as const)(
      'lets a key run again after its run ended %s',
      async (status) => {
        const first = runningRecord({ idempotency_key: `key-${status}` });
        await store.begin(first);
        await store.finish(finished(first, status));
        expect(await store.begin(runningRecord({ idempotency_key: `key-${status}` }))).toEqual({ ok: true });
      },
    );

    it('prunes finished runs started before the cutoff, never a RUNNING one, and frees their keys', async () => {
      const day = 86_400_000;
      // a run id made `daysAgo` days ago (newRunId never goes back in time within a process)
      let serial = 0;
      const at = (daysAgo: number) => `${runIdFloor(Date.now() - daysAgo * day)}${String(++serial).padStart(16, '0')}`;
      const old = { service: 'svc_a' };
      const oldSucceeded = finished(runningRecord({ ...old, run_id: at(100), idempotency_key: 'nightly' }));
      const oldFailed = finished(runningRecord({ ...old, run_id: at(95) }), 'FAILED');
      const oldRunning = runningRecord({ ...old, run_id: at(120) });
      const recent = finished(runningRecord({ ...old, run_id: at(10) }));
      for (const r of [oldSucceeded, oldFailed, oldRunning, recent]) {
        await store.begin({ ...r, status: 'RUNNING' });
        if (r.status !== 'RUNNING') await store.finish(r);
      }
      const before = new Date(Date.now() - 90 * day).toISOString();
      const remaining = async () => (await store.list({ limit: 10 })).items.map((r) => r.run_id).sort();
      // a dry run counts and removes nothing
      expect(await store.prune!({ before, dryRun: true })).toEqual({ removed: 2 });
      expect(await remaining()).toHaveLength(4);
      // --keep-failed takes the old success only
      expect(await store.prune!({ before, keepFailed: true })).toEqual({ removed: 1 });
      expect(await store.get(oldSucceeded.run_id)).toBeUndefined();
      // its key runs again instead of replaying a record that is gone
      expect(await store.begin(runningRecord({ idempotency_key: 'nightly' }))).toEqual({ ok: true });
      expect(await store.prune!({ before })).toEqual({ removed: 1 });
      expect(await remaining()).toEqual(expect.arrayContaining([oldRunning.run_id, recent.run_id]));
      expect(await store.get(oldFailed.run_id)).toBeUndefined();
      expect((await store.get(oldRunning.run_id))?.status).toBe('RUNNING');
      // "0d": every finished run, still never the RUNNING ones
      expect(await store.prune!({ before: new Date().toISOString() })).toEqual({ removed: 1 });
      expect((await store.list({ limit: 10 })).items.every((r) => r.status === 'RUNNING')).toBe(true);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
