import type Database from 'better-sqlite3';
import { QUEUE_CACHE_SIZE, type SqliteQueue } from './sqlite-queue';

/**
 * The URIs seen during one run, for de-duplication, in a temporary table of the queue's
 * connection stored on disk: memory stays bounded however many posts a run reads
 * (a JavaScript Set of a million URIs would not).
 */
export class UriSet {
  private readonly insert: Database.Statement;

  constructor(queue: SqliteQueue) {
    queue.db.pragma('temp_store = FILE');
    queue.db.pragma(`temp.cache_size = ${QUEUE_CACHE_SIZE}`); // the temporary database has its own cache
    queue.db.exec('CREATE TEMP TABLE IF NOT EXISTS seen_uris (uri TEXT PRIMARY KEY) WITHOUT ROWID');
    queue.db.exec('DELETE FROM temp.seen_uris');
    this.insert = queue.db.prepare('INSERT OR IGNORE INTO temp.seen_uris (uri) VALUES (?)');
  }

  /** Add `uri`; false when it was already there. */
  add(uri: string): boolean {
    return this.insert.run(uri).changes === 1;
  }
}
