import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { queueTimestamp } from '../timestamps';

/** One row of a queue, as the original Python pipeline wrote it. */
export interface QueueRow {
  id: number;
  /** A JSON array of items (posts or labels). */
  payload: string;
  /** A JSON object. */
  metadata: string;
  created_at: string;
  status: string;
}

/** The original table (kept byte-compatible so Python's `sqlite3` reads and writes the same files). */
const SCHEMA = `CREATE TABLE IF NOT EXISTS queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  payload TEXT,
  metadata TEXT,
  created_at TIMESTAMP,
  status TEXT DEFAULT 'pending'
)`;

/** Page cache of each queue connection, in SQLite's notation (negative: KiB): 2 MB. */
export const QUEUE_CACHE_SIZE = -2000;

/**
 * A SQLite queue file in the original pipeline's layout (`queue` table, JSON array payloads,
 * `YYYY-MM-DD-HH:MM:SS` UTC timestamps, WAL mode).
 */
export class SqliteQueue {
  readonly db: Database.Database;
  readonly file: string;

  /** Open `file`, creating it (and its folder) with the original schema when missing. */
  constructor(file: string, options: { readonly?: boolean; busyTimeoutMs?: number } = {}) {
    this.file = resolve(file);
    if (!options.readonly) mkdirSync(dirname(this.file), { recursive: true });
    this.db = new Database(this.file, {
      readonly: options.readonly ?? false,
      timeout: options.busyTimeoutMs ?? 10_000,
    });
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection. A queue is streamed
    // front to back, so SQLite's stock 2 MB serves as well, and a run's three caches (input, its
    // temporary URI table, output) stay at 6 MB instead of growing to about 40 MB.
    this.db.pragma(`cache_size = ${QUEUE_CACHE_SIZE}`);
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.exec(SCHEMA);
    }
  }

  /** Whether `file` exists. */
  static exists(file: string): boolean {
    return existsSync(file);
  }

  /**
   * A prepared statement, prepared once per connection: a statement prepared per call holds
   * native memory until its wrapper is garbage-collected, which adds up over a long run.
   */
  statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Add one row holding `items` (a JSON array) with `metadata`. Returns its id. */
  add(items: readonly unknown[], metadata: Record<string, unknown>, createdAt: Date = new Date()): number {
    const result = this.statement(
      "INSERT INTO queue (payload, metadata, created_at, status) VALUES (?, ?, ?, 'pending')",
    ).run(JSON.stringify(items), JSON.stringify(metadata), queueTimestamp(createdAt));
    return Number(result.lastInsertRowid);
  }

  /** Add `items` in rows of at most `rowSize`, each with `metadataFor(rowItems)`. */
  addInRows<T>(
    items: readonly T[],
    rowSize: number,
    metadataFor: (row: readonly T[]) => Record<string, unknown>,
  ): number[] {
    const ids: number[] = [];
    this.db.transaction(() => {
      for (let i = 0; i < items.length; i += rowSize) {
        const row = items.slice(i, i + rowSize);
        ids.push(this.add(row, metadataFor(row)));
      }
    })();
    return ids;
  }

  /** Pending rows with id > `afterId` (and created after `createdAfter`), oldest first, one page. */
  pendingPage(afterId: number, limit: number, createdAfter?: Date): QueueRow[] {
    const sql = `SELECT id, payload, metadata, created_at, status FROM queue
      WHERE status = 'pending' AND id > ? ${createdAfter ? 'AND created_at > ?' : ''} ORDER BY id LIMIT ?`;
    const params: unknown[] = createdAfter ? [afterId, queueTimestamp(createdAfter), limit] : [afterId, limit];
    return this.statement(sql).all(...params) as QueueRow[];
  }

  /** How many items the pending rows hold (JSON array lengths), within the window. */
  pendingItemCount(createdAfter?: Date): number {
    const sql = `SELECT COALESCE(SUM(json_array_length(payload)), 0) AS n FROM queue
      WHERE status = 'pending' AND json_valid(payload) ${createdAfter ? 'AND created_at > ?' : ''}`;
    const row = this.db.prepare(sql).get(...(createdAfter ? [queueTimestamp(createdAfter)] : [])) as { n: number };
    return row.n;
  }

  /**
   * Set rows aside under another status (e.g. `malformed`): kept in the file, counted in
   * {@link SqliteQueue.stats}, and no longer read as pending.
   */
  setStatus(ids: readonly number[], status: string): void {
    this.statement('UPDATE queue SET status = ? WHERE id IN (SELECT value FROM json_each(?))').run(
      status,
      JSON.stringify(ids),
    );
  }

  /** Row and item counts by status. */
  stats(): { status: string; rows: number; items: number }[] {
    return this.db
      .prepare(
        `SELECT status, COUNT(*) AS rows, COALESCE(SUM(CASE WHEN json_valid(payload) THEN json_array_length(payload) ELSE 0 END), 0) AS items
         FROM queue GROUP BY status ORDER BY status`,
      )
      .all() as { status: string; rows: number; items: number }[];
  }

  /** Every row, oldest first, one at a time (bounded memory). */
  *rows(): Generator<QueueRow> {
    yield* this.db
      .prepare('SELECT id, payload, metadata, created_at, status FROM queue ORDER BY id')
      .iterate() as Iterable<QueueRow>;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
