import type { SqliteQueue } from './sqlite-queue';

/** Rows to put back on the input queue when a page is committed. */
export interface Requeue {
  posts: Record<string, unknown>[];
  metadata: Record<string, unknown>;
}

interface CommitRow {
  id: number;
  input_row_ids: string;
  requeue: string;
}

/**
 * Makes a page's commit exactly-once across the two queue files (SQLite cannot commit two WAL
 * files atomically). Step 1, in the OUTPUT file's transaction: the labels and a commit record
 * naming the input rows to delete and the failed posts to requeue. Step 2, in the INPUT file's
 * transaction: requeue and delete. Step 3: drop the commit record. A crash between steps is
 * finished by {@link CommitLog.recover} on the next run, so every post ends up labelled once or
 * still pending. The extra `pipeline_commits` table does not disturb Python readers of the file.
 */
export class CommitLog {
  constructor(
    private readonly input: SqliteQueue,
    private readonly output: SqliteQueue,
  ) {
    output.db.exec(`CREATE TABLE IF NOT EXISTS pipeline_commits (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      input_row_ids TEXT NOT NULL,
      requeue TEXT NOT NULL
    )`);
  }

  /** Commit one page: `writeOutput` runs inside the output transaction. */
  commit(inputRowIds: readonly number[], requeue: readonly Requeue[], writeOutput: () => void): void {
    const commitId = this.output.db.transaction(() => {
      writeOutput();
      const result = this.output
        .statement('INSERT INTO pipeline_commits (input_row_ids, requeue) VALUES (?, ?)')
        .run(JSON.stringify(inputRowIds), JSON.stringify(requeue));
      return Number(result.lastInsertRowid);
    })();
    this.apply({ id: commitId, input_row_ids: JSON.stringify(inputRowIds), requeue: JSON.stringify(requeue) });
  }

  /** Finish commits a crash interrupted. Returns how many there were. */
  recover(): number {
    const pending = this.output.db
      .prepare('SELECT id, input_row_ids, requeue FROM pipeline_commits ORDER BY id')
      .all() as CommitRow[];
    for (const row of pending) this.apply(row);
    return pending.length;
  }

  private apply(row: CommitRow): void {
    const ids = JSON.parse(row.input_row_ids) as number[];
    const requeue = JSON.parse(row.requeue) as Requeue[];
    this.input.db.transaction(() => {
      // One cached statement whatever the number of ids: they travel as one JSON array.
      const present = (
        this.input
          .statement('SELECT COUNT(*) AS n FROM queue WHERE id IN (SELECT value FROM json_each(?))')
          .get(row.input_row_ids) as {
          n: number;
        }
      ).n;
      // Step 2 is one transaction: either none of it happened (rows present) or all of it did.
      if (present > 0 || ids.length === 0) {
        for (const r of requeue) this.input.add(r.posts, r.metadata);
        this.input.statement('DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?))').run(row.input_row_ids);
      }
    })();
    this.output.statement('DELETE FROM pipeline_commits WHERE id = ?').run(row.id);
  }
}
