import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import {
  RunStoreError,
  describe,
  runIdFloor,
  type BeginResult,
  type FinishResult,
  type ListRunsQuery,
  type PruneQuery,
  type PruneResult,
  type ServiceStats,
  type RunExecutionMetadata,
  type RunKey,
  type RunPage,
  type RunStore,
} from '@pipeline-invocation/core';
import { finishDecision, pageFrom } from '../query';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';

/** Options of {@link SqliteRunStore}. */
export interface SqliteRunStoreOptions {
  /** How long a writer waits for another process's lock before failing (ms). Default 10 000. */
  busyTimeoutMs?: number;
}

type Row = { record: string };

/**
 * Run records in an embedded SQLite file (WAL mode, busy timeout, versioned schema).
 * Several processes may write to one file at once.
 */
export class SqliteRunStore implements RunStore {
  readonly description: string;
  private readonly db: Database.Database;
  private readonly statements: ReturnType<SqliteRunStore['prepare']>;
  private readonly beginTx: Database.Transaction<(record: RunExecutionMetadata) => BeginResult>;
  private readonly finishTx: Database.Transaction<(record: RunExecutionMetadata) => FinishResult>;

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
      this.db = new (betterSqlite3())(this.file, { timeout: options.busyTimeoutMs ?? 10_000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
    } catch (error) {
      throw this.wrap(error);
    }
    this.statements = this.prepare();
    this.beginTx = this.db.transaction((record: RunExecutionMetadata): BeginResult => {
      const row = this.statements.blocking.get(record.idempotency_key, record.run_id) as Row | undefined;
      if (row) return { ok: false, existing: JSON.parse(row.record) };
      this.statements.insertOnce.run(this.row(record)); // a retried begin of this run finds its row
      return { ok: true };
    });
    // The common case is one conditional UPDATE over the RUNNING row; the rest (no row: an outbox
    // replay; a terminal row: a retried or losing write) is decided by the shared rule.
    this.finishTx = this.db.transaction((record: RunExecutionMetadata): FinishResult => {
      const row = this.row(record);
      if (this.statements.finishRunning.run(row).changes === 1) return { ok: true };
      const decision = finishDecision(parse(this.statements.get.get(record.run_id) as Row | undefined), record);
      if (decision !== 'write') return decision;
      this.statements.insert.run(row);
      return { ok: true };
    });
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
      insert: this.db.prepare(
        'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (@run_id, @service, @status, @idempotency_key, @record)',
      ),
      insertOnce: this.db.prepare(
        'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (@run_id, @service, @status, @idempotency_key, @record) ON CONFLICT (run_id) DO NOTHING',
      ),
      finishRunning: this.db.prepare(
        // service and idempotency_key never change after begin: leaving them out spares their index updates
        "UPDATE runs SET status = @status, record = @record WHERE run_id = @run_id AND status = 'RUNNING'",
      ),
      heartbeat: this.db.prepare(
        "UPDATE runs SET record = json_set(record, '$.heartbeat_at', ?) WHERE run_id = ? AND status = 'RUNNING'",
      ),
      requestCancel: this.db.prepare(
        // the first request's time is kept
        `UPDATE runs SET record = json_set(record, '$.cancel_requested_at', coalesce(json_extract(record, '$.cancel_requested_at'), ?))
         WHERE run_id = ? AND status = 'RUNNING'`,
      ),
      blocking: this.db.prepare(
        "SELECT record FROM runs WHERE idempotency_key = ? AND run_id <> ? AND status IN ('RUNNING', 'SUCCEEDED') ORDER BY run_id DESC LIMIT 1",
      ),
      get: this.db.prepare('SELECT record FROM runs WHERE run_id = ?'),
      latest: this.db.prepare('SELECT record FROM runs WHERE service = ? ORDER BY run_id DESC LIMIT 1'),
    };
  }

  private row(record: RunExecutionMetadata) {
    return {
      run_id: record.run_id,
      service: record.service,
      status: record.status,
      idempotency_key: record.idempotency_key ?? null,
      record: JSON.stringify(record),
    };
  }

  async begin(record: RunExecutionMetadata): Promise<BeginResult> {
    // Without an idempotency key there is nothing to check: one autocommit INSERT is atomic.
    if (!record.idempotency_key) {
      this.guard(() => this.statements.insertOnce.run(this.row(record)));
      return { ok: true };
    }
    return this.guard(() => this.beginTx.immediate(record));
  }

  async finish(record: RunExecutionMetadata): Promise<FinishResult> {
    return this.guard(() => this.finishTx.immediate(record));
  }

  async heartbeat(run: RunKey, at: string): Promise<RunExecutionMetadata | undefined> {
    return this.patchRunning(this.statements.heartbeat, run.run_id, at);
  }

  async requestCancel(runId: string, at: string): Promise<RunExecutionMetadata | undefined> {
    return this.patchRunning(this.statements.requestCancel, runId, at);
  }

  /** Run one of the RUNNING-only updates and return the record as stored. */
  private patchRunning(update: Database.Statement, runId: string, at: string) {
    return this.guard(() => {
      update.run(at, runId);
      return parse(this.statements.get.get(runId) as Row | undefined);
    });
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
   * Remove finished runs started before `query.before` (one statement on the primary key: run
   * ids are time-ordered), never a RUNNING one. Same rule as {@link prunable}.
   */
  async prune(query: PruneQuery): Promise<PruneResult> {
    const where = `run_id < ? AND status <> 'RUNNING'${query.keepFailed ? " AND status = 'SUCCEEDED'" : ''}`;
    const floor = runIdFloor(Date.parse(query.before));
    return this.guard(() => {
      if (query.dryRun) {
        const row = this.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE ${where}`).get(floor) as { n: number };
        return { removed: row.n };
      }
      return { removed: this.db.prepare(`DELETE FROM runs WHERE ${where}`).run(floor).changes };
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

  async close(): Promise<void> {
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

function parse(row: Row | undefined): RunExecutionMetadata | undefined {
  return row ? (JSON.parse(row.record) as RunExecutionMetadata) : undefined;
}

/** better-sqlite3, loaded when a SQLite store is first opened (a DynamoDB host never loads it). */
function betterSqlite3(): typeof Database {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('better-sqlite3') as typeof Database;
}
