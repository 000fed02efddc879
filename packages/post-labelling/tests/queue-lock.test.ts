import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUEUE_LOCK_TIMES, QueueLock, SqliteQueue } from '../src';
import { queueLockFile } from '../src/queue/queue-lock';
import { enqueueFile, post, tempDir } from './helpers/queues';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const held = (lock: ReturnType<typeof QueueLock.acquire>) => (lock instanceof QueueLock ? undefined : lock.heldBy);

afterEach(() => jest.useRealTimers());

describe('the one-run-per-queue lock', () => {
  it('lives in its own file beside the input queue: taking and releasing it leaves the input file unchanged', () => {
    const input = join(tempDir(), 'input_svc.db');
    enqueueFile(input, [[post('a post waiting for its label')]]);
    const before = sha256(input);
    const lock = QueueLock.acquire(input, 'run-a') as QueueLock;
    expect(lock).toBeInstanceOf(QueueLock);
    expect(existsSync(`${input}.lock`)).toBe(true);
    expect(queueLockFile(input)).toBe(`${input}.lock`);
    lock.release();
    lock.release(); // twice is harmless
    expect(sha256(input)).toBe(before);
    const queue = new SqliteQueue(input, { readonly: true });
    const tables = queue.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    queue.close();
    expect(tables).toEqual([{ name: 'queue' }, { name: 'sqlite_sequence' }]);
  });

  it('refuses a second run while the first holds it, naming the holder; frees it on release', () => {
    const input = join(tempDir(), 'input_svc.db');
    const a = QueueLock.acquire(input, 'run-a') as QueueLock;
    expect(held(QueueLock.acquire(input, 'run-b'))).toMatchObject({ holder: 'run-a', pid: process.pid });
    a.release();
    const b = QueueLock.acquire(input, 'run-b');
    expect(b).toBeInstanceOf(QueueLock);
    (b as QueueLock).release();
  });

  it('stays held while renewed, and is taken over once renewals stop for staleAfterMs (the injected clock, fake timers)', () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-01T10:00:00Z') });
    const input = join(tempDir(), 'input_svc.db');
    const clock = () => Date.now();
    const a = QueueLock.acquire(input, 'run-a', { now: clock }) as QueueLock;
    // a minute of renewals every renewMs: still held, whatever the wall clock did
    jest.advanceTimersByTime(60_000);
    expect(held(QueueLock.acquire(input, 'run-b', { now: clock }))).toMatchObject({
      holder: 'run-a',
      heartbeat_ms: Date.parse('2026-12-01T10:01:00Z'),
    });
    // the holder stops renewing (a frozen process: its timers do not run) ...
    jest.setSystemTime(Date.now() + QUEUE_LOCK_TIMES.staleAfterMs);
    expect(held(QueueLock.acquire(input, 'run-b', { now: clock }))).toMatchObject({ holder: 'run-a' });
    // ... and one millisecond past the limit the lock is stale: run-b takes it over
    jest.setSystemTime(Date.now() + 1);
    const b = QueueLock.acquire(input, 'run-b', { now: clock });
    expect(b).toBeInstanceOf(QueueLock);
    (b as QueueLock).release();
    a.release(); // the old holder's release does not free the new holder's lock
  });

  it('is taken over at once from a holder whose process was killed (SIGKILL, no release)', () => {
    const input = join(tempDir(), 'input_svc.db');
    const child = spawnSync(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        '-e',
        `const { QueueLock } = require(${JSON.stringify(join(__dirname, '../src/queue/queue-lock.ts'))});
         QueueLock.acquire(${JSON.stringify(input)}, 'run-killed');
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { encoding: 'utf8', cwd: join(__dirname, '../../..') },
    );
    expect([child.signal, child.stderr]).toEqual(['SIGKILL', '']);
    const taken = QueueLock.acquire(input, 'run-next');
    expect(taken).toBeInstanceOf(QueueLock);
    (taken as QueueLock).release();
  });
});
