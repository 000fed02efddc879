import type { RejectReason } from '../posts';
import type { SqliteQueue } from './sqlite-queue';

/**
 * The `rejected_posts` table of an output queue file: the posts the filters kept from the API
 * (no URI, too little text, placeholder text, no preprocessing timestamp), one row each with the
 * reason, so the `queue` table holds labels only (as the original's did) and nothing is lost.
 */
export class RejectedPosts {
  constructor(private readonly output: SqliteQueue) {
    output.db.exec(`CREATE TABLE IF NOT EXISTS rejected_posts (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      uri TEXT,
      reason TEXT NOT NULL,
      post TEXT NOT NULL,
      rejected_at TIMESTAMP NOT NULL
    )`);
  }

  /** Add rejected posts (call inside the output transaction of the page's commit). */
  add(rejected: readonly { post: Record<string, unknown>; reason: RejectReason }[], at: string): void {
    if (!rejected.length) return;
    const insert = this.output.statement(
      'INSERT INTO rejected_posts (uri, reason, post, rejected_at) VALUES (?, ?, ?, ?)',
    );
    for (const { post, reason } of rejected) {
      const { batch_id: _id, batch_metadata: _meta, ...original } = post;
      insert.run(typeof post.uri === 'string' ? post.uri : null, reason, JSON.stringify(original), at);
    }
  }
}
