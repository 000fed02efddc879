import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import plugin, { PERSPECTIVE_CONFIG, QUEUE_CACHE_SIZE, SqliteQueue, queueFiles, type PerspectiveConfig } from '../src';
import { CommitLog, UriSet } from '@pipeline-invocation/post-labelling';
import { startFakePerspective, type FakePerspective } from './helpers/perspective-server';
import { enqueue, post, readQueue, tempQueueDir } from './helpers/queues';
import { runFolders } from '../../../tests/support/run-folders';

const WORKSPACE = resolve(__dirname, '../../..');
const CLI = join(WORKSPACE, 'packages/invoker/bin/pipeline.js');

let server: FakePerspective;
beforeAll(async () => {
  server = await startFakePerspective();
});
afterAll(async () => {
  await server.stop();
});

const uris = (rows: { items: Record<string, unknown>[] }[]) => rows.flatMap((r) => r.items.map((i) => String(i.uri)));

describe('crash safety', () => {
  it('a run killed with SIGKILL mid-way loses no post: after a re-run each is labelled exactly once', async () => {
    const home = tempQueueDir();
    const env = {
      PATH: process.env.PATH!,
      PIPELINE_HOME: home,
      PERSPECTIVE_API_KEY: 'crash-test-key',
      PERSPECTIVE_API_URL: server.baseUrl,
      PERSPECTIVE_QPS: '300',
      LOG_LEVEL: 'warn',
      ...runFolders(), // the test run's temp and code cache folders, not the user's
    };
    const config = { queueDir: join(home, 'data', 'queue') };
    const posts = Array.from({ length: 1500 }, (_, i) => post(`a post that must survive a crash ${i}`));
    enqueue(
      config,
      Array.from({ length: 30 }, (_, r) => posts.slice(r * 50, r * 50 + 50)),
    );
    const files = queueFiles(config);

    const child = spawn(
      process.execPath,
      [CLI, 'invoke', 'ml_inference_perspective_api', '--payload', '{"run_type":"prod"}'],
      {
        cwd: WORKSPACE,
        env,
        stdio: 'ignore',
      },
    );
    // Kill it once some labels are committed, while more are in flight.
    await new Promise<void>((done) => {
      const poll = setInterval(() => {
        if (existsSync(files.output) && readQueue(files.output).length >= 3) {
          clearInterval(poll);
          child.kill('SIGKILL');
          done();
        }
      }, 20);
    });
    await new Promise((done) => child.on('exit', done));
    const afterCrash = uris(readQueue(files.output));
    expect(afterCrash.length).toBeGreaterThan(0);
    expect(afterCrash.length).toBeLessThan(posts.length);
    expect(new Set([...afterCrash, ...uris(readQueue(files.input))]).size).toBe(posts.length);

    const rerun = spawn(
      process.execPath,
      [CLI, 'invoke', 'ml_inference_perspective_api', '--payload', '{"run_type":"prod"}', '--json'],
      {
        cwd: WORKSPACE,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    rerun.stdout.on('data', (d) => (stdout += d));
    expect(await new Promise((done) => rerun.on('exit', done))).toBe(0);
    expect(JSON.parse(stdout).status).toBe('SUCCEEDED');
    const labelled = uris(readQueue(files.output));
    expect(labelled.sort()).toEqual(posts.map((p) => p.uri).sort());
    expect(readQueue(files.input)).toEqual([]);
  }, 60_000);

  it('finishes a commit interrupted between the output and the input write', () => {
    const queueDir = tempQueueDir();
    const files = queueFiles({ queueDir });
    const [rowId] = enqueue({ queueDir }, [[post('half committed post'), post('[400] failed post')]]);
    const input = new SqliteQueue(files.input);
    const output = new SqliteQueue(files.output);
    const log = new CommitLog(input, output);
    // Step 1 only, as if the process died right after the output transaction.
    output.db.transaction(() => {
      output.add([{ uri: 'labelled' }], { batch_size: 90, actual_batch_size: 1 });
      output.db
        .prepare('INSERT INTO pipeline_commits (input_row_ids, requeue) VALUES (?, ?)')
        .run(
          JSON.stringify([rowId]),
          JSON.stringify([{ posts: [{ uri: 'failed' }], metadata: { reason: 'failed_label_perspective_api' } }]),
        );
    })();
    expect(log.recover()).toBe(1);
    expect(log.recover()).toBe(0);
    input.close();
    output.close();
    expect(readQueue(files.input).map((r) => r.items)).toEqual([[{ uri: 'failed' }]]);
    expect(readQueue(files.output).map((r) => r.items)).toEqual([[{ uri: 'labelled' }]]);
  });
});

describe('queue connections', () => {
  it('keep a 2 MB SQLite page cache, for the queue and its temporary URI table, not the 16 MB better-sqlite3 builds in', () => {
    const queue = new SqliteQueue(queueFiles({ queueDir: tempQueueDir() }).input);
    try {
      new UriSet(queue);
      expect(QUEUE_CACHE_SIZE).toBe(-2000);
      expect(queue.db.pragma('main.cache_size', { simple: true })).toBe(-2000);
      expect(queue.db.pragma('temp.cache_size', { simple: true })).toBe(-2000);
    } finally {
      queue.close();
    }
  });
});

describe('queue files written and read by Python sqlite3', () => {
  it('labels a queue Python created (original schema, WAL) into an output Python can read', async () => {
    const queueDir = tempQueueDir();
    const files = queueFiles({ queueDir });
    const python = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("""CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT,
    metadata TEXT,
    created_at TIMESTAMP,
    status TEXT DEFAULT 'pending'
)""")
posts = [{"uri": "at://py/%d" % i, "text": "a post queued by python %d" % i, "preprocessing_timestamp": "2026-11-20-09:00:00"} for i in range(3)]
conn.execute("INSERT INTO queue (payload, metadata, created_at) VALUES (?, ?, ?)", (json.dumps(posts), json.dumps({"source": "python"}), "2026-11-21-09:00:00"))
conn.commit()
conn.close()
`;
    execPython(python, files.input);
    const config: PerspectiveConfig = {
      apiKey: 'k',
      baseUrl: server.baseUrl,
      qps: 1000,
      requestTimeoutMs: 2000,
      maxAttempts: 2,
      retryBaseMs: 5,
      queueDir,
    };
    const { invoker } = createTestInvoker({
      plugins: [plugin],
      register: (c) => c.register(PERSPECTIVE_CONFIG, { useValue: config }),
    });
    const record = await invoker.invokePipelineHandler('ml_inference_perspective_api', { run_type: 'prod' });
    expect(JSON.parse(record.metadata).total_classified_posts).toBe(3);

    const read = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute("SELECT payload, metadata, status FROM queue ORDER BY id").fetchall()
print(json.dumps([{"labels": json.loads(p), "metadata": json.loads(m), "status": s} for p, m, s in rows]))
`;
    const rows = JSON.parse(execPython(read, files.output));
    expect(rows).toHaveLength(1);
    expect(rows[0].metadata).toEqual({ batch_size: 90, actual_batch_size: 3 });
    expect(rows[0].status).toBe('pending');
    expect(rows[0].labels.map((l: { uri: string }) => l.uri)).toEqual(['at://py/0', 'at://py/1', 'at://py/2']);
    expect(JSON.parse(execPython(read, files.input))).toEqual([]);
  });
});

function execPython(code: string, arg: string): string {
  try {
    return execFileSync('python3', ['-c', code, arg], { encoding: 'utf8' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('this test needs python3 (its sqlite3 module writes the queue files): apt-get install python3', {
        cause: error,
      });
    }
    throw error;
  }
}
