import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  RunLifecycle,
  newRunId,
  retryPolicyFromDelays,
  scopedKey,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { Outbox, SCHEMA_VERSION, SqliteRunStore, createRunStore, sqliteFile, storageConfigFromEnv } from '../src';
import { DEFAULT_BUSY_TIMEOUT_MS, OPEN_BUSY_TIMEOUT_MS } from '../src/sqlite/sqlite-store';
import { MIGRATIONS } from '../src/sqlite/migrations';
import { STALE_AFTER_MS, runStoreContract } from './helpers/contract';
import { ManualClock } from './helpers/manual-clock';
import { finished, runningRecord } from './helpers/records';
import { tempDir } from './helpers/temp';

const dir = tempDir();
let n = 0;
runStoreContract('sqlite', async () => new SqliteRunStore(join(dir, `contract-${++n}`, 'runs.db')));

/** A lifecycle over `store` on a manual clock; retries cost no wall time (the clock moves). */
function lifecycleOver(store: SqliteRunStore, delaysMs: number[] = [0, 0]) {
  const clock = new ManualClock(Date.now());
  const lifecycle = new RunLifecycle(store, {
    clock,
    staleAfterMs: STALE_AFTER_MS,
    retry: retryPolicyFromDelays(delaysMs),
  });
  const running = (overrides: Partial<RunExecutionMetadata> = {}) =>
    runningRecord({ started_at: clock.iso(), timestamp: clock.iso(), heartbeat_at: clock.iso(), ...overrides });
  const ended = (record: RunExecutionMetadata, status: RunExecutionMetadata['status'] = 'SUCCEEDED') => ({
    ...finished(record, status),
    ended_at: clock.iso(),
  });
  return { clock, lifecycle, running, ended };
}

describe('SqliteRunStore', () => {
  it('creates the folder and file on first use, in WAL mode, at the current schema version', async () => {
    const file = join(dir, 'fresh', 'nested', 'runs.db');
    const store = new SqliteRunStore(file);
    await new RunLifecycle(store).begin(runningRecord());
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 1 });
    db.close();
  });

  it('keeps records across reopenings', async () => {
    const file = join(dir, 'reopen.db');
    const record = runningRecord();
    const first = new SqliteRunStore(file);
    await new RunLifecycle(first).begin(record);
    await first.close();
    const second = new SqliteRunStore(file);
    expect(await second.get(record.run_id)).toEqual(record);
    await second.close();
  });

  it('keeps a record flushed into a closed store in the outbox (not quarantined) until an open store takes it', async () => {
    const file = join(dir, 'closed', 'runs.db');
    const outbox = new Outbox(join(dir, 'closed', 'outbox.jsonl'));
    const record = finished(runningRecord());
    outbox.append(record);
    const closed = new SqliteRunStore(file);
    await closed.close();
    const result = await outbox.flush(new RunLifecycle(closed));
    expect(result).toMatchObject({ written: 0, remaining: 1, quarantined: 0 });
    expect(String(result.error)).toContain('the store was closed');
    expect(outbox.quarantined()).toEqual([]);
    const reopened = new SqliteRunStore(file);
    expect(await outbox.flush(new RunLifecycle(reopened))).toMatchObject({ written: 1, remaining: 0, quarantined: 0 });
    expect(await reopened.get(record.run_id)).toEqual(record);
    await reopened.close();
  });

  it('refuses a file that is not a database, naming it, and leaves it untouched', () => {
    const file = join(dir, 'not-a-db.db');
    const content = 'these are my notes, not a database\n'.repeat(200);
    writeFileSync(file, content);
    expect(() => new SqliteRunStore(file)).toThrow(
      expect.objectContaining({ name: 'RunStoreError', message: expect.stringContaining(file) }),
    );
    expect(() => new SqliteRunStore(file)).toThrow('not a SQLite database');
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('refuses a schema newer than it understands', async () => {
    const file = join(dir, 'future.db');
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteRunStore(file)).toThrow(
      `the schema version is ${SCHEMA_VERSION + 1}, newer than this version of @pipeline-invocation/storage understands (${SCHEMA_VERSION})`,
    );
  });

  it('upgrades a file of schema version 1, keeping its runs, and lists them by status', async () => {
    const file = join(dir, 'version-1.db');
    const failed = { ...runningRecord({ service: 'svc' }), status: 'FAILED' as const, status_code: 500 };
    const succeeded = { ...runningRecord({ service: 'svc' }), status: 'SUCCEEDED' as const, status_code: 200 };
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    const insert = old.prepare(
      'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, NULL, ?)',
    );
    for (const r of [failed, succeeded]) insert.run(r.run_id, r.service, r.status, JSON.stringify(r));
    old.close();

    const store = new SqliteRunStore(file);
    expect(await store.list({ status: 'FAILED', limit: 10 })).toEqual({ items: [failed] });
    expect(await store.list({ status: 'SUCCEEDED', limit: 10 })).toEqual({ items: [succeeded] });
    expect(await store.list({ service: 'svc', status: 'FAILED', limit: 10 })).toEqual({ items: [failed] });
    // migration 3 filled the dashboard's rollups from the runs already there
    const [stats] = await store.serviceStats(Date.now());
    expect(stats).toMatchObject({ service: 'svc', last24h: { finished: 2, succeeded: 1 } });
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const indexes = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_by_%' ORDER BY name",
    );
    // migration 4 moved the keys to items of their own (run_keys) and dropped their index
    expect(indexes.all()).toEqual([{ name: 'runs_by_service' }, { name: 'runs_by_unsettled_status' }]);
    db.close();
  });

  it('keeps rollups as runs finish: counts over 24 h and 7 days, and runs per day', async () => {
    const store = new SqliteRunStore(join(dir, 'stats.db'));
    const lifecycle = new RunLifecycle(store);
    const hour = 3_600_000;
    const finish = async (hoursAgo: number, status: 'SUCCEEDED' | 'FAILED', durationMs: number) => {
      const started = new Date(Date.now() - hoursAgo * hour).toISOString();
      const r = runningRecord({ service: 'svc_stats', started_at: started, timestamp: started });
      await lifecycle.begin(r);
      await lifecycle.finish({
        ...r,
        status,
        status_code: status === 'SUCCEEDED' ? 200 : 500,
        duration_ms: durationMs,
        ended_at: started,
      });
    };
    for (let i = 0; i < 18; i++) await finish(1, 'SUCCEEDED', 100); // within 24 h
    await finish(2, 'FAILED', 100);
    await finish(3, 'FAILED', 3000); // the slow tail: p95
    for (let i = 0; i < 10; i++) await finish(72, 'SUCCEEDED', 100); // three days ago
    await finish(24 * 10, 'SUCCEEDED', 100); // outside the week
    await lifecycle.begin(runningRecord({ service: 'svc_stats' })); // RUNNING: not counted
    const [stats] = await store.serviceStats(Date.now());
    expect(stats).toMatchObject({
      service: 'svc_stats',
      last24h: { finished: 20, succeeded: 18 },
      last7d: { finished: 30, succeeded: 28 },
    });
    expect(stats!.perDay.map((d) => d.runs).reduce((a, b) => a + b, 0)).toBe(30);
    expect(stats!.perDay).toHaveLength(7);
    await store.close();
  });

  it('upgrades a version-3 file with unscoped keys (migration 4): each old key keeps replaying, in its own service only', async () => {
    const file = join(dir, 'version-3.db');
    const { lifecycle, running, ended } = lifecycleOver(new SqliteRunStore(join(dir, 'scratch-v3.db')));
    const row = (r: RunExecutionMetadata) => [
      r.run_id,
      r.service,
      r.status,
      r.idempotency_key ?? null,
      JSON.stringify(r),
    ];
    // The same request id in two services, as the original's callers send it; an old key used twice in svc_a.
    const olderFailed = ended(running({ service: 'svc_a', idempotency_key: 'nightly', payload_hash: 'h1' }), 'FAILED');
    const succeeded = ended(running({ service: 'svc_a', idempotency_key: 'nightly', payload_hash: 'h1' }));
    const sharedA = ended(running({ service: 'svc_a', idempotency_key: 'r1' })); // no payload hash (older records)
    const sharedB = ended(running({ service: 'svc_b', idempotency_key: 'r1' }), 'FAILED');
    const live = running({ service: 'svc_a', idempotency_key: 'live' });
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    for (const migration of MIGRATIONS.slice(0, 3)) old.exec(migration);
    old.pragma('user_version = 3');
    const insert = old.prepare(
      'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, ?, ?)',
    );
    for (const r of [olderFailed, succeeded, sharedA, sharedB, live]) insert.run(...row(r));
    old.close();

    const store = new SqliteRunStore(file);
    const upgraded = new RunLifecycle(store, { clock: lifecycle.clock, staleAfterMs: STALE_AFTER_MS });
    expect(await store.readKey(scopedKey('svc_a', 'nightly'))).toEqual({
      key: 'svc_a#nightly',
      service: 'svc_a',
      run_id: succeeded.run_id, // the newest run of that key in its service
      status: 'SUCCEEDED',
      payload_hash: 'h1',
      heartbeat_at: succeeded.heartbeat_at,
    });
    expect(await store.readKey(scopedKey('svc_a', 'r1'))).not.toHaveProperty('payload_hash');
    // svc_a's old key replays its success, to svc_a only
    expect(await upgraded.begin(running({ service: 'svc_a', idempotency_key: 'nightly', payload_hash: 'h1' }))).toEqual(
      {
        started: false,
        replayed: { ...succeeded, replayed: true },
      },
    );
    await expect(
      upgraded.begin(running({ service: 'svc_a', idempotency_key: 'nightly', payload_hash: 'h2' })),
    ).rejects.toMatchObject({ name: 'IdempotencyKeyMismatchError', existingRunId: succeeded.run_id });
    expect(await upgraded.begin(running({ service: 'svc_a', idempotency_key: 'r1', payload_hash: 'x' }))).toEqual({
      started: false,
      replayed: { ...sharedA, replayed: true },
    });
    // svc_b's run of r1 failed: svc_b runs again, never answered by svc_a's success
    const bAgain = running({ service: 'svc_b', idempotency_key: 'r1' });
    expect(await upgraded.begin(bAgain)).toEqual({ started: true });
    expect(await upgraded.begin(running({ service: 'svc_c', idempotency_key: 'nightly' }))).toEqual({ started: true });
    // a RUNNING run of the old layout still holds its key
    await expect(upgraded.begin(running({ service: 'svc_a', idempotency_key: 'live' }))).rejects.toMatchObject({
      name: 'RunConflictError',
      runId: live.run_id,
    });
    expect((await upgraded.finish(ended(live, 'CANCELLED'))).ok).toBe(true);
    await store.close();
    await lifecycle.store.close();
  });

  it("a run's own record replacing a CRASHED presumption moves it from CRASHED to its real status in the dashboard counts", async () => {
    const file = join(dir, 'supersede-stats.db');
    const store = new SqliteRunStore(file);
    const { clock, lifecycle, running, ended } = lifecycleOver(store);
    const run = running({ service: 'svc_sup', idempotency_key: 'k' });
    await lifecycle.begin(run);
    clock.advance(STALE_AFTER_MS + 1000);
    expect((await lifecycle.markCrashed(run, { name: 'WorkerCrashed', body: 'presumed dead' })).crashed).toBe(true);
    expect((await store.serviceStats(clock.now()))[0]).toMatchObject({ last24h: { finished: 1, succeeded: 0 } });
    expect(await lifecycle.finish(ended(run))).toMatchObject({ ok: true, superseded: { status: 'CRASHED' } });
    const [stats] = await store.serviceStats(clock.now());
    expect(stats).toMatchObject({
      service: 'svc_sup',
      last24h: { finished: 1, succeeded: 1 },
      last7d: { finished: 1 },
    });
    expect(stats!.perDay.reduce((sum, d) => sum + d.runs, 0)).toBe(1);
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT status, n FROM run_counts WHERE service = 'svc_sup' ORDER BY status").all()).toEqual([
      { status: 'CRASHED', n: 0 },
      { status: 'SUCCEEDED', n: 1 },
    ]);
    db.close();
  });

  describe('rollups kept by the store (migration 5: no triggers)', () => {
    /** The dashboard's counts as a recount of the runs table would give them (what the triggers kept). */
    const recount = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        const counts = (sql: string) =>
          (db.prepare(sql).all() as { service: string; hour: number; status: string; n: number }[])
            .filter((row) => row.n !== 0)
            .map((row) => `${row.service} ${row.hour} ${row.status} ${row.n}`)
            .sort();
        return {
          kept: counts('SELECT service, hour, status, n FROM run_counts'),
          recounted: counts(
            `SELECT service, hour, status, count(*) AS n FROM (
               SELECT service, CAST(unixepoch(json_extract(record, '$.started_at')) / 3600 AS INTEGER) AS hour, status
               FROM runs WHERE status <> 'RUNNING')
             WHERE hour IS NOT NULL GROUP BY 1, 2, 3`,
          ),
          triggers: db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all(),
        };
      } finally {
        db.close();
      }
    };
    /** The file has no triggers, and its counts are what a recount of its runs gives; returns them. */
    const expectExactCounts = (file: string) => {
      const { kept, recounted, triggers } = recount(file);
      expect(triggers).toEqual([]);
      expect(kept).toEqual(recounted);
      return kept;
    };

    it('16 concurrent runs finishing in one group are counted once each, under their hour and status', async () => {
      const file = join(dir, 'rollup-group.db');
      const store = new SqliteRunStore(file);
      const { lifecycle, running, ended } = lifecycleOver(store);
      const records = Array.from({ length: 16 }, (_, i) => running({ service: i % 2 ? 'svc_odd' : 'svc_even' }));
      await Promise.all(records.map((r) => lifecycle.begin(r)));
      const groupsBefore = store.groupStats.groups;
      await Promise.all(records.map((r, i) => lifecycle.finish(ended(r, i % 4 === 0 ? 'FAILED' : 'SUCCEEDED'))));
      expect(store.groupStats.groups - groupsBefore).toBeLessThan(4); // the finishes shared their commits
      const byService = Object.fromEntries((await store.serviceStats(Date.now())).map((s) => [s.service, s.last24h]));
      expect(byService).toEqual({
        svc_even: { finished: 8, succeeded: 4 },
        svc_odd: { finished: 8, succeeded: 8 },
      });
      await store.close();
      expectExactCounts(file);
    });

    it('counts a finished record written without a RUNNING one, a crash and its supersede, alone and grouped, as a recount does', async () => {
      const file = join(dir, 'rollup-paths.db');
      const store = new SqliteRunStore(file);
      const { clock, lifecycle, running, ended } = lifecycleOver(store);
      // a terminal record put where no run was (the outbox's replay of a lost begin): counted
      const orphan = running({ service: 'svc_paths' });
      expect(await lifecycle.finish(ended(orphan, 'FAILED'))).toMatchObject({ ok: true });
      // a run presumed dead, then its own record: CRASHED, then moved to SUCCEEDED
      const presumed = running({ service: 'svc_paths', idempotency_key: 'k' });
      await lifecycle.begin(presumed);
      // a run swept as dead by a later run of its service
      const swept = running({ service: 'svc_paths' });
      await lifecycle.begin(swept);
      clock.advance(STALE_AFTER_MS + 1000);
      expect((await lifecycle.markCrashed(presumed, { name: 'WorkerCrashed', body: 'presumed dead' })).crashed).toBe(
        true,
      );
      expect(await lifecycle.sweepStale('svc_paths', { name: 'RunCrashed', body: 'no heartbeat' })).toBe(1);
      expectExactCounts(file);
      await Promise.all([lifecycle.finish(ended(presumed)), lifecycle.finish(ended(swept, 'FAILED'))]);
      // both presumptions were replaced by the runs' own records: nothing is left counted CRASHED
      expect(expectExactCounts(file).map((row) => row.replace(/ \d+ /, ' '))).toEqual([
        'svc_paths FAILED 2',
        'svc_paths SUCCEEDED 1',
      ]);
      await store.close();
    });

    it('a group in which one finish fails is written again write by write: the others are counted once, the failed one not at all', async () => {
      const file = join(dir, 'rollup-failed-group.db');
      const store = new SqliteRunStore(file);
      const { lifecycle, running, ended } = lifecycleOver(store);
      const runs = [
        running({ service: 'svc_fail' }),
        running({ service: 'svc_fail' }),
        running({ service: 'svc_fail' }),
      ];
      await Promise.all(runs.map((r) => lifecycle.begin(r)));
      // a value JSON cannot hold: the middle finish throws inside the group, which is rolled back
      const bad = { ...ended(runs[1]!), metadata: 1n as unknown as string };
      const outcomes = await Promise.allSettled([
        store.putRun(ended(runs[0]!), [{ exists: false }, { statusIn: ['RUNNING'] }]),
        store.putRun(bad, [{ exists: false }, { statusIn: ['RUNNING'] }]),
        store.putRun(ended(runs[2]!, 'FAILED'), [{ exists: false }, { statusIn: ['RUNNING'] }]),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await store.serviceStats(Date.now()))[0]).toMatchObject({ last24h: { finished: 2, succeeded: 1 } });
      await store.close();
      expect(expectExactCounts(file).map((row) => row.replace(/ \d+ /, ' '))).toEqual([
        'svc_fail FAILED 1',
        'svc_fail SUCCEEDED 1',
      ]);
    });

    it('a group counts as its writes one by one would, in their order, even over a run that was never counted', async () => {
      // A CRASHED run written without its count (by a process of an older version across the
      // upgrade) superseded by its own record, and another run marked CRASHED in the same turn.
      // As the triggers did, in the order written: a decrement of a row not there changes
      // nothing. Added up before writing, the two would cancel, and a crash counted first lose it.
      let files = 0;
      const counts = async (order: 'supersede first' | 'crash first', grouped: boolean) => {
        const file = join(dir, `rollup-order-${++files}.db`);
        const store = new SqliteRunStore(file);
        const { clock, running, ended } = lifecycleOver(store);
        const uncounted = { ...running({ service: 'svc_order' }), status: 'CRASHED' as const, ended_at: clock.iso() };
        const raw = new Database(file);
        raw
          .prepare('INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, NULL, ?)')
          .run(uncounted.run_id, uncounted.service, uncounted.status, JSON.stringify(uncounted));
        raw.close();
        const stale = running({ service: 'svc_order' });
        await store.putRun(stale, [{ exists: false }]);
        const writes = [
          () => store.putRun({ ...ended(uncounted), ended_at: clock.iso() }, [{ statusIn: ['CRASHED'] }]),
          () => store.putRun(ended(stale, 'CRASHED'), [{ statusIn: ['RUNNING'] }]),
        ];
        if (order === 'crash first') writes.reverse();
        if (grouped) await Promise.all(writes.map((write) => write()));
        else for (const write of writes) await write();
        await store.close();
        return recount(file).kept.map((row) => row.replace(/ \d+ /, ' '));
      };
      const oneByOne = await counts('supersede first', false);
      expect(oneByOne).toEqual(['svc_order CRASHED 1', 'svc_order SUCCEEDED 1']);
      expect(await counts('supersede first', true)).toEqual(oneByOne);
      const crashFirst = await counts('crash first', false);
      expect(crashFirst).toEqual(['svc_order SUCCEEDED 1']); // the decrement took the crash's count
      expect(await counts('crash first', true)).toEqual(crashFirst);
    });

    it("reads a start time as SQLite does (UTC when it names no zone, whole hours since 1970 towards zero), whatever the process's time zone", async () => {
      const file = join(dir, 'rollup-hours.db');
      const zone = process.env.TZ;
      process.env.TZ = 'America/New_York';
      try {
        const store = new SqliteRunStore(file);
        for (const started_at of [
          '2026-12-07T10:30:00.000Z',
          '2026-12-07T10:30:00',
          '2026-12-07 10:30:00',
          '2026-12-07T10:30:00+02:00',
          '1969-12-31T23:30:00.000Z',
          '2026-02-30T10:00:00.000Z',
          // read by SQLite too: days past 28, hour 24, seconds 60, a six-digit year
          '2026-04-31T10:00:00.000Z',
          '2026-12-07T24:00:00.000Z',
          '2026-12-07T23:59:60.000Z',
          '+002026-12-07T10:30:00.000Z',
        ]) {
          const record = { ...finished(runningRecord({ service: 'svc_hours' })), started_at };
          expect(await store.putRun(record, [{ exists: false }])).toMatchObject({ written: true });
        }
        await store.close();
      } finally {
        if (zone === undefined) delete process.env.TZ;
        else process.env.TZ = zone;
      }
      // the counts are those SQLite's reading of each start time gives (a recount): the first three
      // are 10:30 UTC, one is 08:30 UTC, and 23:30 on 31 December 1969 is hour 0 (towards zero)
      const kept = expectExactCounts(file);
      expect(kept).toContain(`svc_hours ${Date.UTC(2026, 11, 7, 10) / 3_600_000} SUCCEEDED 3`);
      expect(kept).toContain('svc_hours 0 SUCCEEDED 1');
    });

    it('a run begun before the upgrade (schema 4, triggers) and finished after it is counted once', async () => {
      const file = join(dir, 'rollup-upgrade.db');
      const old = new Database(file);
      old.pragma('journal_mode = WAL');
      for (const migration of MIGRATIONS.slice(0, 4)) old.exec(migration);
      old.pragma('user_version = 4');
      old.close();
      const { lifecycle: before, running, ended } = lifecycleOver(new SqliteRunStore(join(dir, 'scratch-v4.db')));
      await before.store.close();
      const earlier = running({ service: 'svc_up' });
      const live = running({ service: 'svc_up' });
      const v4 = new Database(file);
      const insert = v4.prepare(
        'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, NULL, ?)',
      );
      insert.run(earlier.run_id, 'svc_up', 'RUNNING', JSON.stringify(earlier));
      insert.run(live.run_id, 'svc_up', 'RUNNING', JSON.stringify(live));
      // finished under schema 4: its trigger counts it
      v4.prepare('UPDATE runs SET status = ?, record = ? WHERE run_id = ?').run(
        'SUCCEEDED',
        JSON.stringify(ended(earlier)),
        earlier.run_id,
      );
      v4.close();
      const store = new SqliteRunStore(file);
      expect(await new RunLifecycle(store).finish(ended(live, 'FAILED'))).toMatchObject({ ok: true });
      expect((await store.serviceStats(Date.now()))[0]).toMatchObject({
        service: 'svc_up',
        last24h: { finished: 2, succeeded: 1 },
      });
      await store.close();
      expectExactCounts(file);
    });

    it('counts a run under its own service (the column), whatever service a later record of it names', async () => {
      const file = join(dir, 'rollup-service.db');
      const store = new SqliteRunStore(file);
      const run = runningRecord({ service: 'svc_column' });
      await store.putRun(run, [{ exists: false }]);
      const renamed = { ...finished(run), service: 'svc_other' };
      expect(await store.putRun(renamed, [{ statusIn: ['RUNNING'] }])).toMatchObject({ written: true });
      const crashed = runningRecord({ service: 'svc_column' });
      await store.putRun(crashed, [{ exists: false }]);
      await store.putRun({ ...finished(crashed, 'CRASHED'), service: 'svc_other' }, [
        { statusIn: ['RUNNING'], heartbeatBefore: '9999' },
      ]);
      await store.putRun({ ...finished(crashed), service: 'svc_other' }, [{ statusIn: ['CRASHED'] }]);
      await store.close();
      expect(expectExactCounts(file).map((row) => row.replace(/ \d+ /, ' '))).toEqual(['svc_column SUCCEEDED 2']);
    });

    it('a finished record whose start time cannot be read is stored, and left out of the counts', async () => {
      const file = join(dir, 'rollup-no-start.db');
      const store = new SqliteRunStore(file);
      const unreadable = { ...finished(runningRecord({ service: 'svc_nostart' })), started_at: 'yesterday-ish' };
      // (a record without started_at is not a RunExecutionMetadata: one written by other code)
      const { started_at: _absent, ...missing } = finished(runningRecord({ service: 'svc_nostart' }));
      for (const record of [unreadable, missing as RunExecutionMetadata]) {
        expect(await store.putRun(record, [{ exists: false }])).toEqual({ written: true, current: record });
        expect(await store.readRun(record)).toEqual(record);
      }
      expect(await store.serviceStats(Date.now())).toMatchObject([{ service: 'svc_nostart', last7d: { finished: 0 } }]);
      await store.close();
      expect(expectExactCounts(file)).toEqual([]);
    });
  });

  describe('group commit: the writes of concurrent runs issued in one turn share one transaction', () => {
    it('16 concurrent runs begin and finish in a few commits, each with its own outcome; a second begin of a key conflicts', async () => {
      const file = join(dir, 'group', 'runs.db');
      const store = new SqliteRunStore(file);
      const { lifecycle, running, ended } = lifecycleOver(store);
      const records = Array.from({ length: 16 }, (_, i) =>
        running({ idempotency_key: i === 0 ? 'shared' : undefined }),
      );
      const rival = running({ idempotency_key: 'shared' });
      // one turn: 16 begins and a rival for the first run's key, issued together
      const begun = await Promise.all([...records, rival].map((r) => lifecycle.begin(r).catch((e: unknown) => e)));
      expect(begun.slice(0, 16)).toEqual(records.map(() => ({ started: true })));
      expect(begun[16]).toMatchObject({ name: 'RunConflictError' });
      // the same finish twice in one group: the second is the first's write, retried (ok); another
      // status for a finished run is refused and answered with the record that stands
      const finals = records.map((r) => ended(r));
      const other = ended(records[1]!, 'FAILED');
      const done = await Promise.all([...finals, finals[0]!, other].map((r) => lifecycle.finish(r)));
      expect(done.slice(0, 17).every((d) => d.ok)).toBe(true);
      expect(done[17]).toEqual({ ok: false, existing: finals[1] });
      const { groups, writes } = store.groupStats;
      expect(writes).toBeGreaterThanOrEqual(16 * 2 + 1);
      expect(groups).toBeLessThan(writes / 4);
      await store.close();
      // all of it committed, as another connection sees it
      const reader = new SqliteRunStore(file);
      for (const f of finals) expect(await reader.get(f.run_id)).toEqual(f);
      expect(await reader.get(rival.run_id)).toBeUndefined();
      expect(await reader.readKey(scopedKey('svc_a', 'shared'))).toMatchObject({
        run_id: records[0]!.run_id,
        status: 'SUCCEEDED',
      });
      await reader.close();
    });

    it('a write that fails inside a group fails alone: the others of its group land', async () => {
      const store = new SqliteRunStore(join(dir, 'group', 'one-fails.db'));
      const good = [runningRecord(), runningRecord()];
      // a value JSON cannot hold: this write throws while the group is written
      const bad = runningRecord({ request_metadata: { big: 1n } as unknown as Record<string, unknown> });
      const outcomes = await Promise.allSettled(
        [good[0]!, bad, good[1]!].map((r) => store.putRun(r, [{ exists: false }])),
      );
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
      for (const r of good) expect(await store.get(r.run_id)).toEqual(r);
      expect(await store.get(bad.run_id)).toBeUndefined();
      await store.close();
    });

    it('a lock held by another connection fails the whole group after one busy timeout (not one per write)', async () => {
      const file = join(dir, 'group', 'locked.db');
      const store = new SqliteRunStore(file);
      await store.ping();
      const other = new Database(file, { timeout: 0 });
      other.exec('BEGIN EXCLUSIVE');
      const started = Date.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, () => store.putRun(runningRecord(), [{ exists: false }])),
      );
      const tookMs = Date.now() - started;
      for (const o of outcomes) {
        expect(o).toMatchObject({ status: 'rejected', reason: { name: 'RunStoreError' } });
        expect(store.classifyError((o as PromiseRejectedResult).reason)).toBe('transient');
      }
      expect(tookMs).toBeLessThan(8 * DEFAULT_BUSY_TIMEOUT_MS);
      other.exec('COMMIT');
      other.close();
      const record = runningRecord();
      expect(await store.putRun(record, [{ exists: false }])).toEqual({ written: true, current: record });
      await store.close();
    });

    it('close() commits the writes already issued before it closes', async () => {
      const file = join(dir, 'group', 'close.db');
      const store = new SqliteRunStore(file);
      const records = [runningRecord(), runningRecord(), runningRecord()];
      const writes = records.map((r) => store.putRun(r, [{ exists: false }]));
      await store.close();
      expect(await Promise.all(writes)).toEqual(records.map((r) => ({ written: true, current: r })));
      const reopened = new SqliteRunStore(file);
      for (const r of records) expect(await reopened.get(r.run_id)).toEqual(r);
      await reopened.close();
    });
  });

  describe('a file locked by another connection (BEGIN EXCLUSIVE): real SQLITE_BUSY', () => {
    const lockedStore = async (name: string) => {
      const file = join(dir, 'busy', `${name}.db`);
      const store = new SqliteRunStore(file);
      await store.ping();
      const other = new Database(file, { timeout: 0 });
      other.exec('BEGIN EXCLUSIVE');
      return { store, other };
    };

    it('a write waits the busy timeout, fails as transient, and the retry after the lock is released lands', async () => {
      expect(DEFAULT_BUSY_TIMEOUT_MS).toBe(250);
      const { store, other } = await lockedStore('released');
      const { clock, lifecycle, running } = lifecycleOver(store, [1000, 2000]);
      // the other process commits while the lifecycle waits (on its clock) before the retry
      clock.onSleep = () => {
        if (other.inTransaction) other.exec('COMMIT');
      };
      const record = running({ idempotency_key: 'busy' });
      expect(await lifecycle.begin(record)).toEqual({ started: true });
      expect(clock.slept).toEqual([1000]);
      expect(await store.get(record.run_id)).toEqual(record);
      expect(await store.readKey(scopedKey('svc_a', 'busy'))).toMatchObject({ run_id: record.run_id });
      other.close();
      await store.close();
    });

    it('a lock held past every retry fails the begin as "stayed locked" (transient), writing nothing; later it runs', async () => {
      const { store, other } = await lockedStore('held');
      const { clock, lifecycle, running } = lifecycleOver(store, [1000, 2000]);
      const record = running({ idempotency_key: 'held' });
      const error = await lifecycle.begin(record).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'RunStoreError', message: expect.stringContaining('stayed locked') });
      expect(store.classifyError(error)).toBe('transient');
      expect(clock.slept).toEqual([1000, 2000]);
      // reads go on under WAL while the writer holds the lock
      expect(await store.get(record.run_id)).toBeUndefined();
      expect(await store.readKey(scopedKey('svc_a', 'held'))).toBeUndefined();
      other.exec('COMMIT');
      other.close();
      expect(await lifecycle.begin(running({ idempotency_key: 'held' }))).toEqual({ started: true });
      await store.close();
    });

    it('a final record met by the lock goes to the outbox, and the next flush after the lock is gone writes it', async () => {
      const { store, other } = await lockedStore('outbox');
      const { clock, lifecycle, running, ended } = lifecycleOver(store, []);
      const outbox = new Outbox(join(dir, 'busy', 'outbox.jsonl'), { clock, retry: retryPolicyFromDelays([5000]) });
      other.exec('COMMIT');
      const record = running();
      await lifecycle.begin(record);
      other.exec('BEGIN EXCLUSIVE');
      const final = ended(record);
      await expect(lifecycle.finish(final)).rejects.toMatchObject({ name: 'RunStoreError' });
      outbox.append(final);
      expect(await outbox.flush(lifecycle)).toMatchObject({ written: 0, remaining: 1, quarantined: 0 });
      expect(outbox.quarantined()).toEqual([]);
      other.exec('COMMIT');
      other.close();
      clock.advance(5000);
      expect(await outbox.flush(lifecycle)).toEqual({ written: 1, remaining: 0, quarantined: 0 });
      expect(await store.get(record.run_id)).toEqual(final);
      await store.close();
    });
  });

  it('opening waits out another process holding a new file lock past the busy timeout; its writes then wait only the busy timeout', async () => {
    // (50 `pipeline invoke` processes starting on one new file: one failed to open after 250 ms
    // while another created and migrated it)
    const file = join(dir, 'open-locked', 'runs.db');
    mkdirSync(dirname(file), { recursive: true });
    const holdMs = 1000;
    expect(holdMs).toBeGreaterThan(DEFAULT_BUSY_TIMEOUT_MS * 2);
    expect(holdMs).toBeLessThan(OPEN_BUSY_TIMEOUT_MS);
    // another process creates the file and holds its lock for a second, then lets go
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]);
         db.exec('CREATE TABLE other_app (a)');
         db.exec('BEGIN EXCLUSIVE');
         console.log('locked');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});`,
        file,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking the lock`)));
      });
      const store = new SqliteRunStore(file); // waits (synchronously) for the holder to let go
      const { lifecycle, running } = lifecycleOver(store, []);
      const record = running();
      expect(await lifecycle.begin(record)).toEqual({ started: true });
      expect(await store.get(record.run_id)).toEqual(record);
      // opened, a write meets a held lock after the short busy timeout, not the open's
      const other = new Database(file, { timeout: 0 });
      other.exec('BEGIN EXCLUSIVE');
      const started = Date.now();
      const error = await lifecycle.begin(running()).catch((e: unknown) => e);
      const waitedMs = Date.now() - started;
      other.exec('COMMIT');
      other.close();
      expect(error).toMatchObject({ name: 'RunStoreError', message: expect.stringContaining('stayed locked') });
      expect(waitedMs).toBeGreaterThanOrEqual(DEFAULT_BUSY_TIMEOUT_MS - 50);
      expect(waitedMs).toBeLessThan(OPEN_BUSY_TIMEOUT_MS / 2);
      await store.close();
    } finally {
      if (holder.exitCode === null) holder.kill('SIGKILL');
    }
  });

  it('refuses a busy timeout that is not a whole, non-negative number of ms (the open does not hide it)', () => {
    for (const busyTimeoutMs of [-1, 1.5, Number.NaN])
      expect(() => new SqliteRunStore(join(dir, 'bad-timeout', 'runs.db'), { busyTimeoutMs })).toThrow(
        /"timeout" option to be a positive integer/,
      );
  });

  it('records every run when 20 processes create and write one new file at once (unique run ids, none lost)', async () => {
    const file = join(dir, 'concurrent.db');
    const script = `
      const { SqliteRunStore } = require('@pipeline-invocation/storage');
      const { RunLifecycle, newRunId } = require('@pipeline-invocation/core');
      const store = new SqliteRunStore(process.argv[1]);
      const lifecycle = new RunLifecycle(store);
      (async () => {
        for (let i = 0; i < 5; i++) {
          const now = new Date().toISOString();
          const record = { service: 'svc', timestamp: now, status_code: 0, body: '', metadata_table_name: 't',
            metadata: '{}', run_id: newRunId(), status: 'RUNNING', started_at: now, handler_package: 'p',
            handler_version: '1', request_metadata: {} };
          await lifecycle.begin(record);
          await lifecycle.finish({ ...record, status: 'SUCCEEDED', status_code: 200, ended_at: new Date().toISOString() });
        }
        await store.close();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const exits = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'ignore', 'inherit'] });
            child.on('exit', resolve);
          }),
      ),
    );
    expect(exits).toEqual(Array(20).fill(0));
    const store = new SqliteRunStore(file);
    const page = await store.list({ limit: 1000 });
    expect(page.items).toHaveLength(100);
    expect(new Set(page.items.map((r) => r.run_id)).size).toBe(100);
    expect(page.items.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    await store.close();
  }, 60_000);
});

describe('storage configuration', () => {
  it('defaults to SQLite under .pipeline in the working directory', async () => {
    const config = storageConfigFromEnv({}, dir);
    expect(config).toEqual({
      kind: 'sqlite',
      home: join(dir, '.pipeline'),
      outbox: join(dir, '.pipeline', 'outbox.jsonl'),
      sqliteBusyTimeoutMs: 250,
      dynamodbTable: 'integration_run_metadata',
    });
    expect(
      storageConfigFromEnv({ PIPELINE_HOME: '/data/p', PIPELINE_OUTBOX: '/other-disk/outbox.jsonl' }, dir).outbox,
    ).toBe('/other-disk/outbox.jsonl');
    expect(storageConfigFromEnv({ PIPELINE_HOME: 'rel' }, dir).outbox).toBe(join(dir, 'rel', 'outbox.jsonl'));
    const store = await createRunStore(config);
    expect(store.description).toBe(`sqlite:${sqliteFile(config)}`);
    await store.close();
  });

  it('names the variable and the accepted values when PIPELINE_STORE is wrong', () => {
    expect(() => storageConfigFromEnv({ PIPELINE_STORE: 'postgres' }, dir)).toThrow(
      'PIPELINE_STORE must be "sqlite", "dynamodb" or "memory"',
    );
    expect(() => storageConfigFromEnv({ PIPELINE_DYNAMODB_TABLE: 'x' }, dir)).toThrow('PIPELINE_DYNAMODB_TABLE');
    expect(() => storageConfigFromEnv({ PIPELINE_SQLITE_BUSY_MS: 'soon' }, dir)).toThrow('PIPELINE_SQLITE_BUSY_MS');
  });

  it('makes an in-memory store when asked', async () => {
    const store = await createRunStore(storageConfigFromEnv({ PIPELINE_STORE: 'memory' }, dir));
    expect(store.description).toBe('memory');
  });
});
