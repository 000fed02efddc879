import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

/** Who holds a queue's lock. */
export interface LockHolder {
  /** The run id of the holder. */
  readonly holder: string;
  readonly pid: number;
  readonly host: string;
  /** When the holder last renewed the lock (ms since the epoch, by the holder's clock). */
  readonly heartbeat_ms: number;
}

/** How often a held lock is renewed, and when an unrenewed one is taken for dead (ms). */
export const QUEUE_LOCK_TIMES = Object.freeze({ renewMs: 5000, staleAfterMs: 30_000 });

/** Options of {@link QueueLock.acquire}. */
export interface QueueLockOptions {
  /** The run's clock (ms since the epoch): heartbeats are written and judged stale by it. Default `Date.now`. */
  now?: () => number;
  /** How long taking the lock waits for another process's write to the lock file (ms; default 10000). */
  busyTimeoutMs?: number;
}

/** The lock file of an input queue file: beside it, named after it. */
export function queueLockFile(inputFile: string): string {
  return `${resolve(inputFile)}.lock`;
}

/**
 * One run at a time per input queue: two runs over the same rows would send every post twice.
 * The lock lives in its own small SQLite file beside the input queue (`<input>.lock`, see
 * {@link queueLockFile}), never in the producer's file: a run that labels nothing leaves the
 * input file byte-for-byte as it was. It is taken in an immediate transaction, renewed every
 * {@link QUEUE_LOCK_TIMES}.renewMs while the run works, and released at its end. A holder
 * whose process is gone (same host, pid not alive) or whose renewals stopped for
 * {@link QUEUE_LOCK_TIMES}.staleAfterMs (by the injected clock) is taken over. The file is never
 * deleted: a process may have it open, and a new file would give two runs two locks.
 */
export class QueueLock {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly db: Database.Database,
    readonly holder: string,
    private readonly now: () => number,
  ) {}

  /**
   * Take the lock of the input queue `input` (its file, or the open queue) for run `holder`, or
   * return who holds it.
   */
  static acquire(
    input: string | { readonly file: string },
    holder: string,
    options: QueueLockOptions = {},
  ): QueueLock | { heldBy: LockHolder } {
    const now = options.now ?? Date.now;
    const file = queueLockFile(typeof input === 'string' ? input : input.file);
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file, { timeout: options.busyTimeoutMs ?? 10_000 });
    try {
      db.exec(`CREATE TABLE IF NOT EXISTS run_lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, heartbeat_ms INTEGER NOT NULL
      )`);
      const held = db
        .transaction((): LockHolder | undefined => {
          const current = db.prepare('SELECT holder, pid, host, heartbeat_ms FROM run_lock').get() as
            LockHolder | undefined;
          const nowMs = now();
          if (current && current.holder !== holder && isLive(current, nowMs)) return current;
          db.prepare(
            'INSERT OR REPLACE INTO run_lock (id, holder, pid, host, heartbeat_ms) VALUES (1, ?, ?, ?, ?)',
          ).run(holder, process.pid, hostname(), nowMs);
          return undefined;
        })
        .immediate();
      if (held) {
        db.close();
        return { heldBy: held };
      }
    } catch (error) {
      db.close();
      throw error;
    }
    const lock = new QueueLock(db, holder, now);
    lock.timer = setInterval(() => lock.renew(), QUEUE_LOCK_TIMES.renewMs);
    lock.timer.unref();
    return lock;
  }

  private renew(): void {
    try {
      this.db.prepare('UPDATE run_lock SET heartbeat_ms = ? WHERE holder = ?').run(this.now(), this.holder);
    } catch {
      // the lock file is busy: the next renewal tries again, well within the stale limit
    }
  }

  /** Release the lock (only ours) and close the lock file. Safe to call twice. */
  release(): void {
    clearInterval(this.timer);
    if (!this.db.open) return;
    try {
      this.db.prepare('DELETE FROM run_lock WHERE holder = ?').run(this.holder);
    } catch {
      // the lock file stayed busy: the lock, no longer renewed, goes stale and is taken over
    } finally {
      this.db.close();
    }
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
