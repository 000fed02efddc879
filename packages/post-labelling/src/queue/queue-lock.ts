import { hostname } from 'node:os';
import type { SqliteQueue } from './sqlite-queue';

/** Who holds a queue's lock. */
export interface LockHolder {
  /** The run id of the holder. */
  readonly holder: string;
  readonly pid: number;
  readonly host: string;
  /** When the holder last renewed the lock (ms since the epoch). */
  readonly heartbeat_ms: number;
}

/** How often a held lock is renewed, and when an unrenewed one is taken for dead (ms). */
export const QUEUE_LOCK_TIMES = Object.freeze({ renewMs: 5000, staleAfterMs: 30_000 });

/**
 * One run at a time per input queue: two runs over the same rows would send every post twice.
 * The lock is a row in a `pipeline_run_lock` table of the input file (Python readers ignore it),
 * taken in an immediate transaction, renewed while the run works, and released at its end. A
 * holder whose process is gone (same host, pid not alive) or whose renewals stopped
 * ({@link QUEUE_LOCK_TIMES}) is taken over.
 */
export class QueueLock {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly queue: SqliteQueue,
    readonly holder: string,
  ) {}

  /** Take the lock for run `holder`, or return who holds it. */
  static acquire(queue: SqliteQueue, holder: string, nowMs = Date.now()): QueueLock | { heldBy: LockHolder } {
    queue.db.exec(`CREATE TABLE IF NOT EXISTS pipeline_run_lock (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      holder TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL
    )`);
    const held = queue.db
      .transaction((): LockHolder | undefined => {
        const current = queue.db.prepare('SELECT holder, pid, host, heartbeat_ms FROM pipeline_run_lock').get() as
          LockHolder | undefined;
        if (current && current.holder !== holder && isLive(current, nowMs)) return current;
        queue.db
          .prepare(
            'INSERT OR REPLACE INTO pipeline_run_lock (id, holder, pid, host, heartbeat_ms) VALUES (1, ?, ?, ?, ?)',
          )
          .run(holder, process.pid, hostname(), nowMs);
        return undefined;
      })
      .immediate();
    if (held) return { heldBy: held };
    const lock = new QueueLock(queue, holder);
    lock.timer = setInterval(() => lock.renew(), QUEUE_LOCK_TIMES.renewMs);
    lock.timer.unref();
    return lock;
  }

  private renew(): void {
    try {
      this.queue.db
        .prepare('UPDATE pipeline_run_lock SET heartbeat_ms = ? WHERE holder = ?')
        .run(Date.now(), this.holder);
    } catch {
      // the queue is busy: the next renewal tries again, well within the stale limit
    }
  }

  /** Release the lock (only ours). */
  release(): void {
    clearInterval(this.timer);
    if (this.queue.db.open) this.queue.db.prepare('DELETE FROM pipeline_run_lock WHERE holder = ?').run(this.holder);
  }
}

function isLive(holder: LockHolder, nowMs: number): boolean {
  if (nowMs - holder.heartbeat_ms > QUEUE_LOCK_TIMES.staleAfterMs) return false;
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
