import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import {
  RunStoreError,
  describe,
  keySatisfies,
  runIdFloor,
  onStatusOnly,
  runSatisfies,
  type KeyCondition,
  type KeyItem,
  type KeyPatch,
  type ListRunsQuery,
  type RunCondition,
  type RunPatch,
  type RunStatus,
  type StoreErrorKind,
  type Written,
  type PruneQuery,
  type PruneResult,
  type ServiceStats,
  type RunExecutionMetadata,
  type RunKey,
  type RunPage,
  type RunStore,
} from '@pipeline-invocation/core';
import { pageFrom } from '../query';
import { classifyStoreError } from '../store-errors';
import { GroupCommit } from './group-commit';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';

/**
 * How long one write waits for another process's lock (ms). Short on purpose: better-sqlite3
 * waits synchronously, blocking the event loop (heartbeats, a queue's lock renewals); a busy
 * write fails as transient and the retry policy tries again after an asynchronous delay.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 250;

/**
 * How long opening a store waits for another process's lock (ms), once, before its writes wait
 * {@link DEFAULT_BUSY_TIMEOUT_MS}: creating the file, switching it to WAL and migrating it take
 * the file's lock, and many processes may open one new file at once (a team's first parallel
 * runs), each waiting for the others' opening; nothing is retried around the open, and before
 * the store is used no heartbeat or queue lock waits on the event loop.
 */
export const OPEN_BUSY_TIMEOUT_MS = 5000;

/** Options of {@link SqliteRunStore}. */
export interface SqliteRunStoreOptions {
  /** How long one write waits for another process's lock before failing as busy (ms). Default {@link DEFAULT_BUSY_TIMEOUT_MS}. */
  busyTimeoutMs?: number;
}

type Row = { record: string };

/**
 * Run records in an embedded SQLite file (WAL mode, busy timeout, versioned schema).
 * Several processes may write to one file at once. The writes one process issues in one turn of
 * its event loop (concurrent runs' begins, heartbeats and finishes) are committed together, in
 * one transaction (see {@link GroupCommit}); each keeps its own condition and outcome.
 */
export class SqliteRunStore implements RunStore {
  readonly description: string;
  private readonly db: Database.Database;
  private readonly statements: ReturnType<SqliteRunStore['prepare']>;
  private readonly writes: GroupCommit;
  private readonly putRunTx: Database.Transaction<
    (record: RunExecutionMetadata, when: RunCondition) => Written<RunExecutionMetadata>
  >;
  /** A begin alone whose record is already finished (it is counted: two statements, one transaction). */
  private readonly insertTx: Database.Transaction<(record: RunExecutionMetadata) => Written<RunExecutionMetadata>>;
  /**
   * The changes to the dashboard's hourly counts (`run_counts`) the writes of the current
   * transaction made, by service, hour and status: written by {@link counting} before its commit.
   */
  private readonly pendingCounts = new Map<string, { service: string; hour: number; status: RunStatus; n: number }>();
  private readonly updateRunTx: Database.Transaction<
    (run: RunKey, patch: RunPatch, when: RunCondition) => Written<RunExecutionMetadata>
  >;
  private readonly putKeyTx: Database.Transaction<(item: KeyItem, when: KeyCondition) => Written<KeyItem>>;
  private readonly updateKeyTx: Database.Transaction<
    (key: string, patch: KeyPatch, when: KeyCondition) => Written<KeyItem>
  >;

  /**
   * Open (creating when missing) the database at `file`.
   *
   * @throws RunStoreError naming the file when it is not a SQLite database or its schema is
   *   newer than this code; the file is never recreated.
   */
  constructor(
    readonly file: string,
    options: SqliteRunStoreOptions = {},
  ) {
    this.file = resolve(file);
    this.description = `sqlite:${this.file}`;
    mkdirSync(dirname(this.file), { recursive: true });
    try {
      const nativeBinding = nativeBuild();
      const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
      // (better-sqlite3 checks the option: a busy timeout that is not a whole number of ms throws)
      this.db = new (betterSqlite3())(this.file, {
        timeout: busyTimeoutMs,
        ...(nativeBinding ? { nativeBinding } : {}),
      });
      // the open waits longer for another process's lock; from then on each write waits the
      // short busy timeout (and is retried asynchronously)
      this.db.pragma(`busy_timeout = ${Math.max(busyTimeoutMs, OPEN_BUSY_TIMEOUT_MS)}`);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    } catch (error) {
      throw this.wrap(error);
    }
    this.statements = this.prepare();
    // Each primitive reads the item, evaluates the condition and writes, inside one IMMEDIATE
    // transaction (the write lock is held from the read on): one conditional write or nothing.
    // Alone, each is a transaction of its own; grouped, their bodies run in the group's.
    // The writes that end a run also count it in the hourly rollups, in the same transaction.
    this.putRunTx = this.db.transaction((record, when) => this.counting(() => this.putRunBody(record, when)));
    this.insertTx = this.db.transaction((record) => this.counting(() => this.insertBody(record)));
    this.updateRunTx = this.db.transaction((run, patch, when) => this.updateRunBody(run, patch, when));
    this.putKeyTx = this.db.transaction((item, when) => this.putKeyBody(item, when));
    this.updateKeyTx = this.db.transaction((key, patch, when) => this.updateKeyBody(key, patch, when));
    this.writes = new GroupCommit(
      this.db,
      (error) => this.wrap(error),
      (group) => this.counting(group),
    );
  }

  private putRunBody(record: RunExecutionMetadata, when: RunCondition): Written<RunExecutionMetadata> {
    if (onStatusOnly(when) && fromRunningOnly(when)) {
      const written = this.putRunOnStatus(record, when);
      if (written) return written;
    }
    const current = parse(this.statements.get.get(record.run_id) as Row | undefined);
    if (!runSatisfies(current, when)) return { written: false, current };
    const json = JSON.stringify(record);
    if (current) {
      const { service } = this.statements.replace.get(record.status, json, record.run_id) as { service: string };
      this.count(service, current, record);
    } else {
      this.statements.insert.run(...this.row(record, json));
      this.count(record.service, undefined, record);
    }
    return { written: true, current: record };
  }

  /**
   * A condition on the status alone that allows no item or a RUNNING one (a finish; a failed
   * begin) as one statement: an UPDATE of the run when it is RUNNING, else (when a clause allows
   * no item) an INSERT that does nothing on conflict. Undefined when neither wrote: the caller
   * reads the record and decides (a refusal; or a record that names another service than its
   * run's, which the UPDATE leaves to that path, since the rollups count a run under its own).
   */
  private putRunOnStatus(record: RunExecutionMetadata, when: RunCondition): Written<RunExecutionMetadata> | undefined {
    const json = JSON.stringify(record);
    if (
      when.some((clause) => clause.exists !== false) &&
      this.statements.replaceRunning.run(record.status, json, record.run_id, record.service).changes === 1
    ) {
      this.count(record.service, RUNNING, record);
      return { written: true, current: record };
    }
    if (
      when.some((clause) => clause.exists === false) &&
      this.statements.insertOnce.run(...this.row(record, json)).changes === 1
    ) {
      this.count(record.service, undefined, record);
      return { written: true, current: record };
    }
    return undefined;
  }

  /** "No item yet" (a begin): one INSERT that does nothing on conflict. */
  private insertBody(record: RunExecutionMetadata): Written<RunExecutionMetadata> {
    if (this.statements.insertOnce.run(...this.row(record)).changes === 1) {
      this.count(record.service, undefined, record);
      return { written: true, current: record };
    }
    return { written: false, current: parse(this.statements.get.get(record.run_id) as Row | undefined) };
  }

  /**
   * Count a run of `service` (its column: a record cannot move a run) whose record went from
   * `before` (none: inserted) to `after` in the hourly rollups of finished runs, as the triggers
   * of schemas 3 and 4 did: a run is counted once it has ended, under its status and the hour it
   * started, and a run whose status changes after it ended (its own record replacing a CRASHED
   * presumption) moves from the old status to the new. A record whose start time SQLite cannot
   * read is stored and not counted (the trigger failed its write).
   */
  private count(
    service: string,
    before: Pick<RunExecutionMetadata, 'status'> | undefined,
    after: RunExecutionMetadata,
  ): void {
    if (after.status === 'RUNNING' || before?.status === after.status) return;
    if (before && before.status !== 'RUNNING') {
      // A decrement is written at once, after the increments of its row issued before it: the
      // order the triggers had (a decrement of a row not there yet changes nothing).
      const hour = this.hourOf(before as RunExecutionMetadata);
      if (hour !== undefined) {
        this.writeCount(countKey(service, hour, before.status));
        this.statements.countDown.run(service, hour, before.status);
      }
    }
    const hour = this.hourOf(after);
    if (hour === undefined) return;
    const key = countKey(service, hour, after.status);
    const pending = this.pendingCounts.get(key);
    if (pending) pending.n += 1;
    else this.pendingCounts.set(key, { service, hour, status: after.status, n: 1 });
  }

  /** Write the increments pending under `key`, if any. */
  private writeCount(key: string): void {
    const pending = this.pendingCounts.get(key);
    if (!pending) return;
    this.pendingCounts.delete(key);
    this.statements.countUp.run(pending.service, pending.hour, pending.status, pending.n);
  }

  /**
   * The hour (since 1970, UTC) a record's run started, as SQLite reads `started_at`
   * (`CAST(unixepoch(...) / 3600 AS INTEGER)`); undefined when it cannot. A UTC time as
   * `toISOString()` writes it, which is what runs hold, is read here (days 1-28 and hours 0-23,
   * where JavaScript and SQLite agree); anything else by SQLite.
   */
  private hourOf(record: RunExecutionMetadata): number | undefined {
    const startedAt: unknown = record.started_at;
    if (typeof startedAt === 'string' && ISO_UTC.test(startedAt) && day28Hour23(startedAt)) {
      const ms = Date.parse(startedAt);
      if (!Number.isNaN(ms)) return Math.trunc(Math.trunc(ms / 1000) / 3600);
    }
    const hour = this.statements.hourOf.get(JSON.stringify({ started_at: startedAt ?? null })) as number | null;
    return hour ?? undefined;
  }

  private counting<T>(writes: () => T): T {
    // (what an earlier transaction counted before it failed was rolled back with it)
    this.pendingCounts.clear();
    const result = writes();
    for (const key of [...this.pendingCounts.keys()]) this.writeCount(key);
    return result;
  }

  private updateRunBody(run: RunKey, patch: RunPatch, when: RunCondition): Written<RunExecutionMetadata> {
    const current = parse(this.statements.get.get(run.run_id) as Row | undefined);
    if (!current || !runSatisfies(current, when)) return { written: false, current };
    const updated = { ...current, ...patch };
    this.statements.setRecord.run(JSON.stringify(updated), run.run_id);
    return { written: true, current: updated };
  }

  private putKeyBody(item: KeyItem, when: KeyCondition): Written<KeyItem> {
    const previous = parseKey(this.statements.getKey.get(item.key) as Row | undefined);
    if (!keySatisfies(previous, when)) return { written: false, current: previous };
    this.statements.putKey.run(item.key, JSON.stringify(item));
    return { written: true, current: item, ...(previous ? { previous } : {}) };
  }

  private updateKeyBody(key: string, patch: KeyPatch, when: KeyCondition): Written<KeyItem> {
    const current = parseKey(this.statements.getKey.get(key) as Row | undefined);
    if (!current || !keySatisfies(current, when)) return { written: false, current };
    const updated = { ...current, ...patch };
    this.statements.putKey.run(key, JSON.stringify(updated));
    return { written: true, current: updated };
  }

  private deleteKeyBody(key: string, when: KeyCondition): boolean {
    const current = parseKey(this.statements.getKey.get(key) as Row | undefined);
    if (!current || !keySatisfies(current, when)) return false;
    this.statements.deleteKey.run(key);
    return true;
  }

  private migrate(): void {
    const version = () => this.db.pragma('user_version', { simple: true }) as number;
    const check = (v: number) => {
      if (v > SCHEMA_VERSION) {
        throw new RunStoreError(
          this.description,
          `the schema version is ${v}, newer than this version of @pipeline-invocation/storage understands (${SCHEMA_VERSION})`,
          'Upgrade @pipeline-invocation/storage, or point PIPELINE_HOME at another folder.',
        );
      }
    };
    check(version());
    if (version() === SCHEMA_VERSION) return;
    // Several processes may open a new file at once: the version is read again under the write
    // lock, so exactly one of them applies each migration.
    this.db
      .transaction(() => {
        const current = version();
        check(current);
        for (let v = current; v < SCHEMA_VERSION; v++) {
          this.db.exec(MIGRATIONS[v]!);
          this.db.pragma(`user_version = ${v + 1}`);
        }
      })
      .immediate();
  }

  private prepare() {
    return {
      // (positional parameters: binding by name costs an object and a lookup per value)
      insert: this.db.prepare(
        'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, ?, ?)',
      ),
      insertOnce: this.db.prepare(
        'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING',
      ),
      // service and idempotency_key never change after the first write: leaving them out spares their index updates
      // (RETURNING the run's service: the rollups count a run under its column, as the triggers did)
      replace: this.db.prepare('UPDATE runs SET status = ?, record = ? WHERE run_id = ? RETURNING service'),
      replaceRunning: this.db.prepare(
        "UPDATE runs SET status = ?, record = ? WHERE run_id = ? AND status = 'RUNNING' AND service = ?",
      ),
      countUp: this.db.prepare(
        'INSERT INTO run_counts (service, hour, status, n) VALUES (?, ?, ?, ?) ON CONFLICT (service, hour, status) DO UPDATE SET n = n + excluded.n',
      ),
      countDown: this.db.prepare('UPDATE run_counts SET n = n - 1 WHERE service = ? AND hour = ? AND status = ?'),
      hourOf: this.db.prepare("SELECT CAST(unixepoch(json_extract(?, '$.started_at')) / 3600 AS INTEGER)").pluck(),
      setRecord: this.db.prepare('UPDATE runs SET record = ? WHERE run_id = ?'),
      get: this.db.prepare('SELECT record FROM runs WHERE run_id = ?'),
      latest: this.db.prepare('SELECT record FROM runs WHERE service = ? ORDER BY run_id DESC LIMIT 1'),
      getKey: this.db.prepare('SELECT item AS record FROM run_keys WHERE key = ?'),
      putKey: this.db.prepare(
        'INSERT INTO run_keys (key, item) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET item = excluded.item',
      ),
      deleteKey: this.db.prepare('DELETE FROM run_keys WHERE key = ?'),
    };
  }

  /** The values of `insert`/`insertOnce` for `record` (its JSON when already made). */
  private row(record: RunExecutionMetadata, json = JSON.stringify(record)) {
    return [record.run_id, record.service, record.status, record.idempotency_key ?? null, json] as const;
  }

  async putRun(record: RunExecutionMetadata, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    if (when.length === 1 && when[0]!.exists === false && Object.keys(when[0]!).length === 1) {
      // alone, an autocommit statement (a RUNNING record is not counted)
      return this.writes.submit(
        () => this.insertBody(record),
        () => (record.status === 'RUNNING' ? this.insertBody(record) : this.insertTx.immediate(record)),
      );
    }
    return this.writes.submit(
      () => this.putRunBody(record, when),
      () => this.putRunTx.immediate(record, when),
    );
  }

  async updateRun(run: RunKey, patch: RunPatch, when: RunCondition): Promise<Written<RunExecutionMetadata>> {
    return this.writes.submit(
      () => this.updateRunBody(run, patch, when),
      () => this.updateRunTx.immediate(run, patch, when),
    );
  }

  async readRun(run: RunKey): Promise<RunExecutionMetadata | undefined> {
    return this.get(run.run_id);
  }

  async putKey(item: KeyItem, when: KeyCondition): Promise<Written<KeyItem>> {
    return this.writes.submit(
      () => this.putKeyBody(item, when),
      () => this.putKeyTx.immediate(item, when),
    );
  }

  async updateKey(key: string, patch: KeyPatch, when: KeyCondition): Promise<Written<KeyItem>> {
    return this.writes.submit(
      () => this.updateKeyBody(key, patch, when),
      () => this.updateKeyTx.immediate(key, patch, when),
    );
  }

  async deleteKey(key: string, when: KeyCondition): Promise<boolean> {
    return this.writes.submit(
      () => this.deleteKeyBody(key, when),
      () => this.db.transaction(() => this.deleteKeyBody(key, when)).immediate(),
    );
  }

  async readKey(key: string): Promise<KeyItem | undefined> {
    return this.guard(() => parseKey(this.statements.getKey.get(key) as Row | undefined));
  }

  classifyError(error: unknown): StoreErrorKind {
    return classifyStoreError(error);
  }

  async latest(service: string): Promise<RunExecutionMetadata | undefined> {
    return this.guard(() => parse(this.statements.latest.get(service) as Row | undefined));
  }

  async get(runId: string): Promise<RunExecutionMetadata | undefined> {
    return this.guard(() => parse(this.statements.get.get(runId) as Row | undefined));
  }

  async list(query: ListRunsQuery): Promise<RunPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.service) {
      where.push('service = ?');
      params.push(query.service);
    }
    if (query.status) {
      // SQLite uses a partial index only for a query that repeats the index's condition: the
      // statuses other than SUCCEEDED are indexed (runs_by_unsettled_status), SUCCEEDED is not.
      where.push(query.status === 'SUCCEEDED' ? 'status = ?' : "status = ? AND status <> 'SUCCEEDED'");
      params.push(query.status);
    }
    if (query.cursor) {
      where.push('run_id < ?');
      params.push(query.cursor);
    }
    const sql = `SELECT record FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY run_id DESC LIMIT ?`;
    const rows = this.guard(() => this.db.prepare(sql).all(...params, query.limit + 1) as Row[]);
    return pageFrom(rows, query.limit, (r) => JSON.parse(r.record) as RunExecutionMetadata);
  }

  /**
   * Remove the runs started before `query.before` whose status is one of `query.statuses` (one
   * statement on the primary key: run ids are time-ordered), with the key items they own.
   */
  async prune(query: PruneQuery & { readonly statuses: readonly RunStatus[] }): Promise<PruneResult> {
    if (query.statuses.length === 0) return { removed: 0 };
    const where = `run_id < ? AND status IN (${query.statuses.map(() => '?').join(', ')})`;
    const params = [runIdFloor(Date.parse(query.before)), ...query.statuses];
    return this.guard(() => {
      if (query.dryRun) {
        const row = this.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE ${where}`).get(...params) as { n: number };
        return { removed: row.n };
      }
      return this.db
        .transaction(() => {
          this.db
            .prepare(
              `DELETE FROM run_keys WHERE key IN (SELECT service || '#' || idempotency_key FROM runs WHERE ${where} AND idempotency_key IS NOT NULL)
               AND json_extract(item, '$.run_id') IN (SELECT run_id FROM runs WHERE ${where})`,
            )
            .run(...params, ...params);
          return { removed: this.db.prepare(`DELETE FROM runs WHERE ${where}`).run(...params).changes };
        })
        .immediate();
    });
  }

  /** Each service's counts over the last 7 days, from the `run_counts` table (migration 3). */
  async serviceStats(nowMs: number): Promise<ServiceStats[]> {
    const hourNow = Math.floor(nowMs / 3_600_000);
    return this.guard(() => {
      // the services, by skipping through the service index (one lookup per service)
      const services = (
        this.db
          .prepare(
            `WITH RECURSIVE s(service) AS (
               SELECT min(service) FROM runs
               UNION ALL SELECT (SELECT min(service) FROM runs WHERE service > s.service) FROM s WHERE s.service IS NOT NULL)
             SELECT service FROM s WHERE service IS NOT NULL`,
          )
          .all() as { service: string }[]
      ).map((r) => r.service);
      // every sum in SQL, over at most a week of hourly rows per service
      const counts = this.db.prepare(
        `SELECT sum(n) AS finished, sum(CASE WHEN status = 'SUCCEEDED' THEN n ELSE 0 END) AS succeeded
         FROM run_counts WHERE service = ? AND hour > ? AND hour <= ?`,
      );
      const perDay = this.db.prepare(
        'SELECT hour / 24 AS day, sum(n) AS runs FROM run_counts WHERE service = ? AND hour > ? AND hour <= ? GROUP BY day',
      );
      const dayNow = Math.floor(hourNow / 24);
      return services.map((service) => {
        const window = (hours: number) => {
          const row = counts.get(service, hourNow - hours, hourNow) as {
            finished: number | null;
            succeeded: number | null;
          };
          return { finished: row.finished ?? 0, succeeded: row.succeeded ?? 0 };
        };
        const days = new Map(
          (perDay.all(service, hourNow - 7 * 24, hourNow) as { day: number; runs: number }[]).map((d) => [
            d.day,
            d.runs,
          ]),
        );
        return {
          service,
          last24h: window(24),
          last7d: window(7 * 24),
          perDay: Array.from({ length: 7 }, (_, i) => {
            const day = dayNow - 6 + i;
            return { day: new Date(day * 86_400_000).toISOString().slice(0, 10), runs: days.get(day) ?? 0 };
          }),
        };
      });
    });
  }

  async ping(): Promise<void> {
    this.guard(() => this.db.prepare('SELECT 1').get());
  }

  /** Commits of run and key writes so far, and the writes they carried (group commit). */
  get groupStats(): { readonly groups: number; readonly writes: number } {
    return { ...this.writes.stats };
  }

  async close(): Promise<void> {
    // the writes already issued are committed first, as they would have been one by one
    this.writes?.flush();
    if (this.db?.open) this.db.close();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private wrap(error: unknown): unknown {
    if (error instanceof Error && error.name === 'RunStoreError') return error;
    const code = (error as { code?: string } | undefined)?.code ?? '';
    const message = describe(error);
    if (!this.db?.open && /not open/i.test(message)) {
      // better-sqlite3 throws a TypeError here, which would read as "this record can never be
      // stored": the store is unusable instead, and the record must wait (in the outbox) for an open one.
      return new RunStoreError(
        this.description,
        'the store was closed',
        'Write through an open store: a store is not used after close().',
        { cause: error },
      );
    }
    if (code === 'SQLITE_NOTADB' || /not a database/i.test(message)) {
      return new RunStoreError(
        this.description,
        'the file is not a SQLite database',
        'Move the file away or set PIPELINE_HOME to another folder; it is never overwritten.',
        { cause: error },
      );
    }
    if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') {
      return new RunStoreError(this.description, 'the disk is full', 'Free space on the disk of PIPELINE_HOME.', {
        cause: error,
      });
    }
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return new RunStoreError(
        this.description,
        'the database stayed locked by another process past the busy timeout',
        'Retry, or find the process holding the lock.',
        { cause: error },
      );
    }
    if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES') {
      return new RunStoreError(
        this.description,
        `the database cannot be written (${message})`,
        'Check the permissions and free space of PIPELINE_HOME.',
        { cause: error },
      );
    }
    return error;
  }
}

const RUNNING = { status: 'RUNNING' } as const;

/** The key of a row of `run_counts` among the counts a transaction has pending. */
function countKey(service: string, hour: number, status: RunStatus): string {
  return `${service}\u0000${hour}\u0000${status}`;
}

/** A UTC time as `toISOString()` writes it (years 0000-9999). */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Whether the day of an {@link ISO_UTC} time is 01-28 and its hour 00-23. */
function day28Hour23(time: string): boolean {
  const day = time.slice(8, 10);
  const hour = time.slice(11, 13);
  return day >= '01' && day <= '28' && hour <= '23';
}

/**
 * Whether every clause of a status-only condition allows no item or a RUNNING one: the status a
 * write replaces is then known without reading it.
 */
function fromRunningOnly(when: RunCondition): boolean {
  return when.every(
    (clause) => clause.exists === false || (clause.statusIn?.length === 1 && clause.statusIn[0] === 'RUNNING'),
  );
}

function parse(row: Row | undefined): RunExecutionMetadata | undefined {
  return row ? (JSON.parse(row.record) as RunExecutionMetadata) : undefined;
}

/** A key's item; fields SQL wrote as null (a migrated key without a payload hash) are absent. */
function parseKey(row: Row | undefined): KeyItem | undefined {
  if (!row) return undefined;
  const item = JSON.parse(row.record) as Record<string, unknown>;
  for (const [name, value] of Object.entries(item)) if (value === null) delete item[name];
  return item as unknown as KeyItem;
}

/** better-sqlite3, loaded when a SQLite store is first opened (a DynamoDB host never loads it). */
function betterSqlite3(): typeof Database {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('better-sqlite3') as typeof Database;
}

let native: string | undefined | null = null;
/**
 * better-sqlite3's native build where its own build writes it (build/Release), so it is loaded
 * by path rather than found by `bindings` trying a dozen places (a few ms of a cold start);
 * undefined when it is not there (better-sqlite3 then looks as it always does).
 */
function nativeBuild(): string | undefined {
  if (native === null) {
    try {
      // resolved from this file, as require('better-sqlite3') is (also from a start bundle, whose
      // __filename is this file's)
      const root = dirname(createRequire(__filename).resolve('better-sqlite3/package.json'));
      const [first, debug, file] = [[], ['Debug'], ['Release']].map((dir) =>
        join(root, 'build', ...dir, 'better_sqlite3.node'),
      ) as [string, string, string];
      // (bindings looks in build/ and build/Debug/ first: a build there is left to it)
      native = !existsSync(first) && !existsSync(debug) && existsSync(file) ? file : undefined;
    } catch {
      native = undefined;
    }
  }
  return native;
}
