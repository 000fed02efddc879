import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Outbox, SCHEMA_VERSION, SqliteRunStore, createRunStore, sqliteFile, storageConfigFromEnv } from '../src';
import { MIGRATIONS } from '../src/sqlite/migrations';
import { runStoreContract } from './helpers/contract';
import { finished, runningRecord } from './helpers/records';
import { tempDir } from './helpers/temp';

const dir = tempDir();
let n = 0;
runStoreContract('sqlite', async () => new SqliteRunStore(join(dir, `contract-${++n}`, 'runs.db')));

describe('SqliteRunStore', () => {
  it('creates the folder and file on first use, in WAL mode, at the current schema version', async () => {
    const file = join(dir, 'fresh', 'nested', 'runs.db');
    const store = new SqliteRunStore(file);
    await store.begin(runningRecord());
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 1 });
    db.close();
  });

  it('keeps records across reopenings', async () => {
    const file = join(dir, 'reopen.db');
    const record = runningRecord();
    const first = new SqliteRunStore(file);
    await first.begin(record);
    await first.close();
    const second = new SqliteRunStore(file);
    expect(await second.get(record.run_id)).toEqual(record);
    await second.close();
  });

  it('keeps a record flushed into a closed store in the outbox (not quarantined) until an open store takes it', async () => {
    const file = join(dir, 'closed', 'runs.db');
    const outbox = new Outbox(join(dir, 'closed', 'outbox.jsonl'));
    const record = finished(runningRecord());
    outbox.append(record);
    const closed = new SqliteRunStore(file);
    await closed.close();
    const result = await outbox.flush(closed);
    expect(result).toMatchObject({ written: 0, remaining: 1, quarantined: 0 });
    expect(String(result.error)).toContain('the store was closed');
    expect(outbox.quarantined()).toEqual([]);
    const reopened = new SqliteRunStore(file);
    expect(await outbox.flush(reopened)).toMatchObject({ written: 1, remaining: 0, quarantined: 0 });
    expect(await reopened.get(record.run_id)).toEqual(record);
    await reopened.close();
  });

  it('refuses a file that is not a database, naming it, and leaves it untouched', () => {
    const file = join(dir, 'not-a-db.db');
    const content = 'these are my notes, not a database\n'.repeat(200);
    writeFileSync(file, content);
    expect(() => new SqliteRunStore(file)).toThrow(
      expect.objectContaining({ name: 'RunStoreError', message: expect.stringContaining(file) }),
    );
    expect(() => new SqliteRunStore(file)).toThrow('not a SQLite database');
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('refuses a schema newer than it understands', async () => {
    const file = join(dir, 'future.db');
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteRunStore(file)).toThrow(
      `the schema version is ${SCHEMA_VERSION + 1}, newer than this version of @pipeline-invocation/storage understands (${SCHEMA_VERSION})`,
    );
  });

  it('upgrades a file of schema version 1, keeping its runs, and lists them by status', async () => {
    const file = join(dir, 'version-1.db');
    const failed = { ...runningRecord({ service: 'svc' }), status: 'FAILED' as const, status_code: 500 };
    const succeeded = { ...runningRecord({ service: 'svc' }), status: 'SUCCEEDED' as const, status_code: 200 };
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    const insert = old.prepare(
      'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, NULL, ?)',
    );
    for (const r of [failed, succeeded]) insert.run(r.run_id, r.service, r.status, JSON.stringify(r));
    old.close();

    const store = new SqliteRunStore(file);
    expect(await store.list({ status: 'FAILED', limit: 10 })).toEqual({ items: [failed] });
    expect(await store.list({ status: 'SUCCEEDED', limit: 10 })).toEqual({ items: [succeeded] });
    expect(await store.list({ service: 'svc', status: 'FAILED', limit: 10 })).toEqual({ items: [failed] });
    // migration 3 filled the dashboard's rollups from the runs already there
    const [stats] = await store.serviceStats(Date.now());
    expect(stats).toMatchObject({ service: 'svc', last24h: { finished: 2, succeeded: 1 } });
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const indexes = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_by_%' ORDER BY name",
    );
    expect(indexes.all()).toEqual([
      { name: 'runs_by_idempotency_key' },
      { name: 'runs_by_service' },
      { name: 'runs_by_unsettled_status' },
    ]);
    db.close();
  });

  it('keeps rollups as runs finish: counts over 24 h and 7 days, and runs per day', async () => {
    const store = new SqliteRunStore(join(dir, 'stats.db'));
    const hour = 3_600_000;
    const finish = async (hoursAgo: number, status: 'SUCCEEDED' | 'FAILED', durationMs: number) => {
      const started = new Date(Date.now() - hoursAgo * hour).toISOString();
      const r = runningRecord({ service: 'svc_stats', started_at: started, timestamp: started });
      await store.begin(r);
      await store.finish({
        ...r,
        status,
        status_code: status === 'SUCCEEDED' ? 200 : 500,
        duration_ms: durationMs,
        ended_at: started,
      });
    };
    for (let i = 0; i < 18; i++) await finish(1, 'SUCCEEDED', 100); // within 24 h
    await finish(2, 'FAILED', 100);
    await finish(3, 'FAILED', 3000); // the slow tail: p95
    for (let i = 0; i < 10; i++) await finish(72, 'SUCCEEDED', 100); // three days ago
    await finish(24 * 10, 'SUCCEEDED', 100); // outside the week
    await store.begin(runningRecord({ service: 'svc_stats' })); // RUNNING: not counted
    const [stats] = await store.serviceStats(Date.now());
    expect(stats).toMatchObject({
      service: 'svc_stats',
      last24h: { finished: 20, succeeded: 18 },
      last7d: { finished: 30, succeeded: 28 },
    });
    expect(stats!.perDay.map((d) => d.runs).reduce((a, b) => a + b, 0)).toBe(30);
    expect(stats!.perDay).toHaveLength(7);
    await store.close();
  });

  it('records every run when 20 processes create and write one new file at once (unique run ids, none lost)', async () => {
    const file = join(dir, 'concurrent.db');
    const script = `
      const { SqliteRunStore } = require('@pipeline-invocation/storage');
      const { newRunId } = require('@pipeline-invocation/core');
      const store = new SqliteRunStore(process.argv[1]);
      (async () => {
        for (let i = 0; i < 5; i++) {
          const now = new Date().toISOString();
          const record = { service: 'svc', timestamp: now, status_code: 0, body: '', metadata_table_name: 't',
            metadata: '{}', run_id: newRunId(), status: 'RUNNING', started_at: now, handler_package: 'p',
            handler_version: '1', request_metadata: {} };
          await store.begin(record);
          await store.finish({ ...record, status: 'SUCCEEDED', status_code: 200 });
        }
        await store.close();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const exits = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'ignore', 'inherit'] });
            child.on('exit', resolve);
          }),
      ),
    );
    expect(exits).toEqual(Array(20).fill(0));
    const store = new SqliteRunStore(file);
    const page = await store.list({ limit: 1000 });
    expect(page.items).toHaveLength(100);
    expect(new Set(page.items.map((r) => r.run_id)).size).toBe(100);
    expect(page.items.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    await store.close();
  }, 60_000);
});

describe('storage configuration', () => {
  it('defaults to SQLite under .pipeline in the working directory', async () => {
    const config = storageConfigFromEnv({}, dir);
    expect(config).toEqual({
      kind: 'sqlite',
      home: join(dir, '.pipeline'),
      outbox: join(dir, '.pipeline', 'outbox.jsonl'),
      sqliteBusyTimeoutMs: 10_000,
      dynamodbTable: 'integration_run_metadata',
    });
    expect(
      storageConfigFromEnv({ PIPELINE_HOME: '/data/p', PIPELINE_OUTBOX: '/other-disk/outbox.jsonl' }, dir).outbox,
    ).toBe('/other-disk/outbox.jsonl');
    expect(storageConfigFromEnv({ PIPELINE_HOME: 'rel' }, dir).outbox).toBe(join(dir, 'rel', 'outbox.jsonl'));
    const store = await createRunStore(config);
    expect(store.description).toBe(`sqlite:${sqliteFile(config)}`);
    await store.close();
  });

  it('names the variable and the accepted values when PIPELINE_STORE is wrong', () => {
    expect(() => storageConfigFromEnv({ PIPELINE_STORE: 'postgres' }, dir)).toThrow(
      'PIPELINE_STORE must be "sqlite", "dynamodb" or "memory"',
    );
    expect(() => storageConfigFromEnv({ PIPELINE_DYNAMODB_TABLE: 'x' }, dir)).toThrow('PIPELINE_DYNAMODB_TABLE');
    expect(() => storageConfigFromEnv({ PIPELINE_SQLITE_BUSY_MS: 'soon' }, dir)).toThrow('PIPELINE_SQLITE_BUSY_MS');
  });

  it('makes an in-memory store when asked', async () => {
    const store = await createRunStore(storageConfigFromEnv({ PIPELINE_STORE: 'memory' }, dir));
    expect(store.description).toBe('memory');
  });
});
