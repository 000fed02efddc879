import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteQueue, type PerspectiveConfig } from '../src';
import { startFakePerspective, type FakePerspective } from './helpers/perspective-server';
import { perspectiveKit } from './helpers/kit';
import { enqueue, post, readQueue } from './helpers/queues';

let server: FakePerspective;
beforeEach(async () => {
  server = await startFakePerspective({ latencyMs: 20 });
});
afterEach(async () => {
  await server.stop();
});

const setup = (overrides: Partial<PerspectiveConfig> = {}) =>
  perspectiveKit(server.baseUrl, { qps: 200, maxAttempts: 2, ...overrides });

/** `promise`, or a failure saying `what` when it has not settled within `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const labelled = (file: string) => readQueue(file).flatMap((row) => row.items.map((i) => String(i.uri)));

describe('two runs over one queue', () => {
  it('never send a post twice: the second is refused with a 409 naming the run that holds the queue', async () => {
    const { config, files, run } = setup();
    const posts = Array.from({ length: 300 }, (_, i) => post(`a post for exactly one run ${i}`));
    enqueue(
      config,
      posts.map((p) => [p]),
    );
    const [a, b] = await Promise.all([run(), run()]);
    const [winner, refused] = a.status_code === 409 ? [b, a] : [a, b];
    expect(winner.status).toBe('SUCCEEDED');
    expect(refused).toMatchObject({ status: 'FAILED', status_code: 409 });
    expect(refused.body).toContain(`Another run (${winner.run_id}, pid ${process.pid}`);
    expect(refused.body).toContain('this run labelled nothing');
    // every post was sent once and labelled once
    expect(server.requests).toHaveLength(300);
    expect(new Set(server.requests.map((r) => r.text)).size).toBe(300);
    expect(labelled(files.output).sort()).toEqual(posts.map((p) => p.uri).sort());
    // the lock is released: a later run takes the queue
    expect((await run()).status).toBe('SUCCEEDED');
  });

  it('takes over the lock of a run whose process died', async () => {
    const { config, files, run } = setup();
    enqueue(config, [[post('a post left behind by a crash')]]);
    // a run's process takes the queue's lock and is killed before it can release it
    const lockModule = join(__dirname, '../../post-labelling/src/queue/queue-lock.ts');
    const dead = spawnSync(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        '-e',
        `require(${JSON.stringify(lockModule)}).QueueLock.acquire(${JSON.stringify(files.input)}, '01DEADRUN0000000000000000');
         process.kill(process.pid, 'SIGKILL');`,
      ],
      { encoding: 'utf8', cwd: join(__dirname, '../../..') },
    );
    expect(dead.signal).toBe('SIGKILL');
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    expect(labelled(files.output)).toHaveLength(1);
  });
});

describe('a page commit that fails', () => {
  it('ends the run and aborts the next page in flight: no more requests, no post lost', async () => {
    const { config, files, run } = setup({ qps: 100, queueBusyTimeoutMs: 200 });
    const posts = Array.from({ length: 600 }, (_, i) => post(`a post whose page may never commit ${i}`));
    enqueue(
      config,
      posts.map((p) => [p]),
    );
    // Another process holds the output file's write lock as soon as labelling starts.
    const pending = run();
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const blocker = new Database(files.output, { timeout: 5000 });
    blocker.exec('BEGIN EXCLUSIVE');
    let sentWhenItEnded: number;
    try {
      const record = await pending;
      expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
      expect(record.body).toMatch(/^Error in classification of latest posts: database is locked/);
      // The run aborted its requests in flight and closed its connections: the server sees every
      // one of them closed (what was on the wire read, answered or dropped). A labelling loop
      // going on in the background would keep a kept-alive connection open between its requests.
      await within(5000, server.allClosed(), 'the run left connections to the API open');
      sentWhenItEnded = server.requests.length;
      expect(sentWhenItEnded).toBeLessThan(500);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    expect([server.connections, server.requests.length]).toEqual([0, sentWhenItEnded]); // nothing went on in the background
    // nothing was committed, so every post is still pending
    expect(
      readQueue(files.input)
        .flatMap((r) => r.items.map((i) => i.uri))
        .sort(),
    ).toEqual(posts.map((p) => p.uri).sort());
  });
});

describe('malformed input rows', () => {
  it('are counted and kept with status "malformed", never deleted unseen', async () => {
    const { config, files, run } = setup();
    enqueue(config, [[post('a good post before the bad rows')]]);
    const input = new SqliteQueue(files.input);
    for (const payload of ['not json at all', '{"an":"object"}', '[1, 2, 3]']) {
      input.db
        .prepare(
          "INSERT INTO queue (payload, metadata, created_at, status) VALUES (?, '{}', '2026-11-20-10:00:00', 'pending')",
        )
        .run(payload);
    }
    input.close();
    enqueue(config, [[post('a good post after the bad rows')]]);
    const record = await run();
    expect(record.status).toBe('SUCCEEDED');
    expect(JSON.parse(record.metadata).inference_metadata).toMatchObject({
      total_posts_successfully_labeled: 2,
      total_malformed_rows: 3,
    });
    const kept = new Database(files.input, { readonly: true });
    try {
      expect(kept.prepare('SELECT payload, status FROM queue ORDER BY id').all()).toEqual([
        { payload: 'not json at all', status: 'malformed' },
        { payload: '{"an":"object"}', status: 'malformed' },
        { payload: '[1, 2, 3]', status: 'malformed' },
      ]);
    } finally {
      kept.close();
    }
    // a later run does not count them again
    expect(JSON.parse((await run()).metadata).inference_metadata.total_malformed_rows).toBe(0);
  });
});
