import {
  RunLifecycle,
  prunableStatuses,
  retryPolicyFromDelays,
  runIdFloor,
  scopedKey,
  type RunExecutionMetadata,
  type RunStore,
} from '@pipeline-invocation/core';
import { ManualClock } from './manual-clock';
import { finished, runningRecord } from './records';

/** The lifecycle's staleness limit in the contract (ms). */
export const STALE_AFTER_MS = 60_000;

/**
 * The run store contract: every store (memory, SQLite, DynamoDB) must pass these. The store is
 * driven the way production drives it, through core's {@link RunLifecycle} over its primitives,
 * on a {@link ManualClock} (staleness is reached by moving the clock, never by waiting).
 * `open` makes an empty store; `close` releases it.
 */
export function runStoreContract(name: string, open: () => Promise<RunStore>): void {
  describe(`${name}: run store contract`, () => {
    let store: RunStore;
    let clock: ManualClock;
    let lifecycle: RunLifecycle;
    /** A RUNNING record started now on the test's clock. */
    const running = (overrides: Partial<RunExecutionMetadata> = {}) =>
      runningRecord({ started_at: clock.iso(), timestamp: clock.iso(), heartbeat_at: clock.iso(), ...overrides });
    /** Its final record, ended now on the test's clock. */
    const ended = (record: RunExecutionMetadata, status: RunExecutionMetadata['status'] = 'SUCCEEDED') => ({
      ...finished(record, status),
      ended_at: clock.iso(),
    });

    beforeEach(async () => {
      store = await open();
      clock = new ManualClock(Date.now());
      lifecycle = new RunLifecycle(store, {
        clock,
        staleAfterMs: STALE_AFTER_MS,
        retry: retryPolicyFromDelays([0, 0]),
      });
    });
    afterEach(async () => {
      await store.close();
    });

    it('begin writes a RUNNING record that get() returns with every field', async () => {
      const record = running();
      expect(await lifecycle.begin(record)).toEqual({ started: true });
      expect(await store.get(record.run_id)).toEqual(record);
      expect(await store.readRun(record)).toEqual(record);
    });

    it('finish replaces the RUNNING record, once, and keeps the error', async () => {
      const record = running();
      await lifecycle.begin(record);
      const final = ended(record, 'FAILED');
      expect(await lifecycle.finish(final)).toEqual({ ok: true, record: final });
      expect(await lifecycle.finish(final)).toEqual({ ok: true, record: final });
      expect(await store.get(record.run_id)).toEqual(final);
      expect((await store.get(record.run_id))?.error).toEqual({ name: 'Error', message: 'boom' });
      expect((await store.list({ limit: 10 })).items).toHaveLength(1);
    });

    it('get returns undefined for an unknown run id', async () => {
      expect(await store.get('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
      expect(await store.readRun({ service: 'svc_a', run_id: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' })).toBeUndefined();
    });

    it('latest returns the newest run of that service only', async () => {
      expect(await store.latest('svc_a')).toBeUndefined();
      const first = running();
      const other = running({ service: 'svc_b' });
      const second = running();
      for (const r of [first, other, second]) await lifecycle.begin(r);
      await lifecycle.finish(ended(first));
      expect((await store.latest('svc_a'))?.run_id).toBe(second.run_id);
      expect((await store.latest('svc_b'))?.run_id).toBe(other.run_id);
    });

    it('refuses a second begin while the key is RUNNING (naming the holder) and replays it once SUCCEEDED', async () => {
      const first = running({ idempotency_key: 'key-1', payload_hash: 'h1' });
      expect(await lifecycle.begin(first)).toEqual({ started: true });
      const again = running({ idempotency_key: 'key-1', payload_hash: 'h1' });
      const conflict = await lifecycle.begin(again).catch((e: unknown) => e);
      // the run that holds the key, never the refused one (whose id no `pipeline cancel` can find)
      expect(conflict).toMatchObject({ name: 'RunConflictError', idempotencyKey: 'key-1', runId: first.run_id });
      expect((conflict as Error).message).toContain(`pipeline cancel ${first.run_id}`);
      expect((conflict as Error).message).not.toContain(again.run_id);

      const done = ended(first);
      await lifecycle.finish(done);
      expect(await lifecycle.begin(again)).toEqual({ started: false, replayed: { ...done, replayed: true } });
      expect(await store.get(again.run_id)).toBeUndefined();
      // the same key with another payload is a caller bug, never a replay
      await expect(lifecycle.begin(running({ idempotency_key: 'key-1', payload_hash: 'h2' }))).rejects.toMatchObject({
        name: 'IdempotencyKeyMismatchError',
        existingRunId: first.run_id,
      });
    });

    it('lets a key be used again after its run failed; the new holder blocks the next begin', async () => {
      const first = running({ idempotency_key: 'key-2' });
      await lifecycle.begin(first);
      await lifecycle.finish(ended(first, 'FAILED'));
      const retry = running({ idempotency_key: 'key-2' });
      expect(await lifecycle.begin(retry)).toEqual({ started: true });
      await expect(lifecycle.begin(running({ idempotency_key: 'key-2' }))).rejects.toMatchObject({
        name: 'RunConflictError',
        runId: retry.run_id,
      });
    });

    it.each(['CANCELLED', 'CRASHED', 'TIMED_OUT'] as const)(
      'lets a key run again after its run ended %s',
      async (status) => {
        const first = running({ idempotency_key: `key-${status}` });
        await lifecycle.begin(first);
        await lifecycle.finish(ended(first, status));
        expect(await lifecycle.begin(running({ idempotency_key: `key-${status}` }))).toEqual({ started: true });
      },
    );

    it('scopes keys by service: the same key in svc_a and svc_b never conflicts nor replays across', async () => {
      const a = running({ service: 'svc_a', idempotency_key: 'r1', payload_hash: 'h' });
      const b = running({ service: 'svc_b', idempotency_key: 'r1', payload_hash: 'h' });
      expect(await lifecycle.begin(a)).toEqual({ started: true });
      // svc_a's RUNNING holder does not block svc_b
      expect(await lifecycle.begin(b)).toEqual({ started: true });
      const aDone = ended(a);
      await lifecycle.finish(aDone);
      const bDone = ended(b, 'FAILED');
      await lifecycle.finish(bDone);
      // svc_b's key was FAILED: svc_b runs again, svc_a's success is not its answer
      const b2 = running({ service: 'svc_b', idempotency_key: 'r1', payload_hash: 'h' });
      expect(await lifecycle.begin(b2)).toEqual({ started: true });
      const b2Done = ended(b2);
      await lifecycle.finish(b2Done);
      const replayA = await lifecycle.begin(running({ service: 'svc_a', idempotency_key: 'r1', payload_hash: 'h' }));
      const replayB = await lifecycle.begin(running({ service: 'svc_b', idempotency_key: 'r1', payload_hash: 'h' }));
      expect(replayA).toEqual({ started: false, replayed: { ...aDone, replayed: true } });
      expect(replayB).toEqual({ started: false, replayed: { ...b2Done, replayed: true } });
      expect(await store.readKey(scopedKey('svc_a', 'r1'))).toMatchObject({ service: 'svc_a', run_id: a.run_id });
      expect(await store.readKey(scopedKey('svc_b', 'r1'))).toMatchObject({ service: 'svc_b', run_id: b2.run_id });
    });

    it('takes over a stale RUNNING holder in one begin and marks it CRASHED; a fresh one is never touched', async () => {
      const holder = running({ idempotency_key: 'k-stale' });
      await lifecycle.begin(holder);
      clock.advance(STALE_AFTER_MS - 1000);
      // still fresh: refused, naming the holder, which stays RUNNING
      await expect(lifecycle.begin(running({ idempotency_key: 'k-stale' }))).rejects.toMatchObject({
        name: 'RunConflictError',
        runId: holder.run_id,
      });
      expect((await store.get(holder.run_id))?.status).toBe('RUNNING');
      clock.advance(2000);
      const next = running({ idempotency_key: 'k-stale' });
      expect(await lifecycle.begin(next)).toEqual({ started: true, tookOverFrom: holder.run_id });
      expect(await store.get(holder.run_id)).toMatchObject({
        status: 'CRASHED',
        error: { name: 'RunCrashed' },
        ended_at: clock.iso(),
      });
      expect(await store.readKey(scopedKey('svc_a', 'k-stale'))).toMatchObject({
        run_id: next.run_id,
        status: 'RUNNING',
      });
    });

    it('a heartbeat keeps a holder fresh past the staleness limit', async () => {
      const holder = running({ idempotency_key: 'k-beat' });
      await lifecycle.begin(holder);
      for (let i = 0; i < 3; i++) {
        clock.advance(STALE_AFTER_MS / 2);
        expect(await lifecycle.heartbeat(holder)).toMatchObject({ status: 'RUNNING', heartbeat_at: clock.iso() });
      }
      clock.advance(STALE_AFTER_MS / 2);
      await expect(lifecycle.begin(running({ idempotency_key: 'k-beat' }))).rejects.toMatchObject({
        runId: holder.run_id,
      });
      expect(await store.readKey(scopedKey('svc_a', 'k-beat'))).toMatchObject({
        run_id: holder.run_id,
        heartbeat_at: clock.iso(-STALE_AFTER_MS / 2),
      });
    });

    it('markCrashed refuses a fresh run, crashes a stale one, and leaves an ended or unknown one alone', async () => {
      const record = running({ idempotency_key: 'k-crash' });
      await lifecycle.begin(record);
      const reason = { name: 'WorkerCrashed', body: 'the worker died' };
      const fresh = await lifecycle.markCrashed(record, reason);
      expect(fresh).toMatchObject({ crashed: false, reason: 'fresh', record: { status: 'RUNNING' } });
      expect((await store.get(record.run_id))?.status).toBe('RUNNING');

      clock.advance(STALE_AFTER_MS);
      const crashed = await lifecycle.markCrashed(record, reason);
      expect(crashed).toMatchObject({
        crashed: true,
        record: { status: 'CRASHED', body: 'the worker died', error: { name: 'WorkerCrashed' } },
      });
      expect(await store.get(record.run_id)).toEqual(crashed.crashed && crashed.record);
      // its key is free again
      expect(await store.readKey(scopedKey('svc_a', 'k-crash'))).toMatchObject({ status: 'CRASHED' });
      expect(await lifecycle.markCrashed(record, reason)).toMatchObject({ crashed: false, reason: 'ended' });
      expect(await lifecycle.markCrashed({ service: 'svc_a', run_id: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' }, reason)).toEqual({
        crashed: false,
        reason: 'missing',
      });
      expect(await lifecycle.begin(running({ idempotency_key: 'k-crash' }))).toEqual({ started: true });
    });

    it("supersede: a run's own final record replaces the CRASHED presumption about it, and its key replays it", async () => {
      const record = running({ idempotency_key: 'k-sup', payload_hash: 'h' });
      await lifecycle.begin(record);
      clock.advance(STALE_AFTER_MS + 1000);
      const presumed = await lifecycle.markCrashed(record, { name: 'WorkerCrashed', body: 'presumed dead' });
      expect(presumed.crashed).toBe(true);
      // the run was alive after all (its heartbeats failed): its real outcome arrives
      const real = ended(record, 'SUCCEEDED');
      const result = await lifecycle.finish(real);
      expect(result).toEqual({ ok: true, record: real, superseded: presumed.crashed && presumed.record });
      expect(await store.get(record.run_id)).toEqual(real);
      // the same record again is one write
      expect(await lifecycle.finish(real)).toEqual({ ok: true, record: real });
      // nothing else replaces it: a FAILED or another CRASHED record is refused
      clock.advance(10);
      for (const status of ['FAILED', 'CRASHED'] as const) {
        expect(await lifecycle.finish(ended(record, status))).toEqual({ ok: false, existing: real });
      }
      expect(await store.get(record.run_id)).toEqual(real);
      expect(await lifecycle.begin(running({ idempotency_key: 'k-sup', payload_hash: 'h' }))).toEqual({
        started: false,
        replayed: { ...real, replayed: true },
      });
    });

    it("supersede leaves the key with the run that took it over; a CRASHED record never replaces another's", async () => {
      const old = running({ idempotency_key: 'k-taken' });
      await lifecycle.begin(old);
      clock.advance(STALE_AFTER_MS + 1);
      const next = running({ idempotency_key: 'k-taken' });
      expect(await lifecycle.begin(next)).toEqual({ started: true, tookOverFrom: old.run_id });
      const crashed = await store.get(old.run_id);
      // a second presumption (another host's) does not replace the first
      clock.advance(5);
      expect(await lifecycle.finish(ended(old, 'CRASHED'))).toEqual({ ok: false, existing: crashed });
      const real = ended(old, 'FAILED');
      expect(await lifecycle.finish(real)).toMatchObject({ ok: true, superseded: crashed });
      expect(await store.readKey(scopedKey('svc_a', 'k-taken'))).toMatchObject({
        run_id: next.run_id,
        status: 'RUNNING',
      });
      expect((await store.get(next.run_id))?.status).toBe('RUNNING');
    });

    it('keeps the first terminal record: a retried finish is ok, a later different one is refused', async () => {
      const record = running();
      await lifecycle.begin(record);
      const succeeded = ended(record, 'SUCCEEDED');
      expect(await lifecycle.finish(succeeded)).toEqual({ ok: true, record: succeeded });
      expect(await lifecycle.finish(succeeded)).toEqual({ ok: true, record: succeeded });
      clock.advance(5);
      expect(await lifecycle.finish(ended(record, 'CRASHED'))).toEqual({ ok: false, existing: succeeded });
      expect(await lifecycle.finish(ended(record, 'CANCELLED'))).toEqual({ ok: false, existing: succeeded });
      expect(await store.get(record.run_id)).toEqual(succeeded);
    });

    it('retried writes are idempotent: begin, heartbeat, requestCancel and finish repeated write one record', async () => {
      for (const key of [undefined, 'own-key']) {
        const record = running(key ? { idempotency_key: key } : {});
        // a begin whose answer was lost is tried again: it is its own, not a conflict
        expect(await lifecycle.begin(record)).toEqual({ started: true });
        expect(await lifecycle.begin(record)).toEqual({ started: true });
        expect(await store.get(record.run_id)).toEqual(record);
        clock.advance(1000);
        await lifecycle.heartbeat(record);
        await lifecycle.heartbeat(record);
        const asked = await lifecycle.requestCancel(record.run_id);
        clock.advance(1000);
        expect(await lifecycle.requestCancel(record.run_id)).toEqual(asked);
        const final = ended(record, 'CANCELLED');
        await lifecycle.finish(final);
        await lifecycle.finish(final);
        expect(await store.get(record.run_id)).toEqual(final);
      }
      expect((await store.list({ limit: 10 })).items).toHaveLength(2);
      expect(await store.readKey(scopedKey('svc_a', 'own-key'))).toMatchObject({ status: 'CANCELLED' });
    });

    it('finish writes a record it never saw begin (an outbox replay), once', async () => {
      const final = ended(running({ idempotency_key: 'replayed-key' }), 'FAILED');
      expect(await lifecycle.finish(final)).toEqual({ ok: true, record: final });
      expect(await lifecycle.finish(final)).toEqual({ ok: true, record: final });
      expect(await store.get(final.run_id)).toEqual(final);
      expect(await lifecycle.begin(running({ idempotency_key: 'replayed-key' }))).toEqual({ started: true });
    });

    it('renews the heartbeat of a RUNNING run, and carries a cancel request back to it', async () => {
      const record = running();
      await lifecycle.begin(record);
      clock.advance(10_000);
      expect((await lifecycle.heartbeat(record))?.heartbeat_at).toBe(clock.iso());
      clock.advance(1000);
      const cancelAt = clock.iso();
      expect((await lifecycle.requestCancel(record.run_id))?.cancel_requested_at).toBe(cancelAt);
      // a second request keeps the first time; the next heartbeat sees it
      clock.advance(1000);
      expect((await lifecycle.requestCancel(record.run_id))?.cancel_requested_at).toBe(cancelAt);
      clock.advance(1000);
      const beat = await lifecycle.heartbeat(record);
      expect(beat).toMatchObject({ status: 'RUNNING', cancel_requested_at: cancelAt, heartbeat_at: clock.iso() });
    });

    it('leaves a terminal record untouched by heartbeats and cancel requests', async () => {
      const record = running({ idempotency_key: 'k-done' });
      await lifecycle.begin(record);
      const final = ended(record);
      await lifecycle.finish(final);
      clock.advance(1000);
      expect(await lifecycle.heartbeat(record)).toEqual(final);
      expect(await lifecycle.requestCancel(record.run_id)).toEqual(final);
      expect(await store.get(record.run_id)).toEqual(final);
      expect(await store.readKey(scopedKey('svc_a', 'k-done'))).toMatchObject({ status: 'SUCCEEDED' });
      expect(await lifecycle.requestCancel('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
      expect(await lifecycle.heartbeat({ service: 'svc_a', run_id: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' })).toBeUndefined();
    });

    it('lists newest first, filtered by service and status', async () => {
      const a1 = running();
      const b1 = running({ service: 'svc_b' });
      const a2 = running();
      for (const r of [a1, b1, a2]) await lifecycle.begin(r);
      await lifecycle.finish(ended(a1));
      await lifecycle.finish(ended(b1, 'FAILED'));
      const ids = (q: Parameters<RunStore['list']>[0]) => store.list(q).then((p) => p.items.map((r) => r.run_id));
      expect(await ids({ limit: 10 })).toEqual([a2.run_id, b1.run_id, a1.run_id]);
      expect(await ids({ service: 'svc_a', limit: 10 })).toEqual([a2.run_id, a1.run_id]);
      expect(await ids({ status: 'FAILED', limit: 10 })).toEqual([b1.run_id]);
      expect(await ids({ status: 'SUCCEEDED', limit: 10 })).toEqual([a1.run_id]);
      expect(await ids({ service: 'svc_a', status: 'RUNNING', limit: 10 })).toEqual([a2.run_id]);
      expect(await ids({ service: 'none', limit: 10 })).toEqual([]);
    });

    it('pages through every record exactly once with the cursor', async () => {
      const records = Array.from({ length: 23 }, (_, i) => running({ service: i % 2 ? 'svc_a' : 'svc_b' }));
      for (const r of records) await lifecycle.begin(r);
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

    it('prunes finished runs started before the cutoff with the key items they own, never a RUNNING one', async () => {
      const day = 86_400_000;
      // a run id made `daysAgo` days ago (newRunId never goes back in time within a process)
      let serial = 0;
      const at = (daysAgo: number) => `${runIdFloor(clock.now() - daysAgo * day)}${String(++serial).padStart(16, '0')}`;
      const oldSucceeded = running({ run_id: at(100), idempotency_key: 'nightly' });
      const oldFailed = running({ run_id: at(95), idempotency_key: 'weekly' });
      const oldRunning = running({ run_id: at(120), idempotency_key: 'hourly' });
      const recent = running({ run_id: at(10) });
      for (const r of [oldSucceeded, oldFailed, oldRunning, recent]) await lifecycle.begin(r);
      for (const [r, status] of [
        [oldSucceeded, 'SUCCEEDED'],
        [oldFailed, 'FAILED'],
        [recent, 'SUCCEEDED'],
      ] as const)
        await lifecycle.finish(ended(r, status));
      const before = new Date(clock.now() - 90 * day).toISOString();
      const prune = (q: { before: string; keepFailed?: boolean; dryRun?: boolean }) =>
        store.prune!({ ...q, statuses: prunableStatuses(q.keepFailed) });
      const remaining = async () => (await store.list({ limit: 10 })).items.map((r) => r.run_id).sort();
      // a dry run counts and removes nothing
      expect(await prune({ before, dryRun: true })).toEqual({ removed: 2 });
      expect(await remaining()).toHaveLength(4);
      expect(await store.readKey(scopedKey('svc_a', 'nightly'))).toBeDefined();
      // --keep-failed takes the old success only, with its key item
      expect(await prune({ before, keepFailed: true })).toEqual({ removed: 1 });
      expect(await store.get(oldSucceeded.run_id)).toBeUndefined();
      expect(await store.readKey(scopedKey('svc_a', 'nightly'))).toBeUndefined();
      expect(await store.readKey(scopedKey('svc_a', 'weekly'))).toMatchObject({ run_id: oldFailed.run_id });
      // its key runs again instead of replaying a record that is gone
      const fresh = running({ idempotency_key: 'nightly' });
      expect(await lifecycle.begin(fresh)).toEqual({ started: true });
      expect(await prune({ before })).toEqual({ removed: 1 });
      expect(await store.readKey(scopedKey('svc_a', 'weekly'))).toBeUndefined();
      expect(await remaining()).toEqual([oldRunning.run_id, recent.run_id, fresh.run_id].sort());
      expect((await store.get(oldRunning.run_id))?.status).toBe('RUNNING');
      expect(await store.readKey(scopedKey('svc_a', 'hourly'))).toMatchObject({ run_id: oldRunning.run_id });
      // "0d": every finished run, still never the RUNNING ones nor a key a RUNNING run holds
      expect(await prune({ before: clock.iso(1) })).toEqual({ removed: 1 });
      expect((await store.list({ limit: 10 })).items.every((r) => r.status === 'RUNNING')).toBe(true);
      expect(await store.readKey(scopedKey('svc_a', 'nightly'))).toMatchObject({ run_id: fresh.run_id });
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
