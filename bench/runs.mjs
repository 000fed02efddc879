// Run records for the store and dashboard benches: one builder, and a SQLite store filled fast.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const { SqliteRunStore } = require('@pipeline-invocation/storage');
const { newRunId } = require('@pipeline-invocation/core');

/** A run record started at `at` (ms), RUNNING or finished. */
export function record({ at = Date.now(), service = 'svc_0', status = 'SUCCEEDED', durationMs = 12, runId } = {}) {
  const iso = new Date(at).toISOString();
  return {
    service,
    timestamp: iso,
    status_code: status === 'SUCCEEDED' ? 200 : status === 'RUNNING' ? 0 : 500,
    body: status === 'RUNNING' ? '' : 'ok',
    metadata_table_name: 'integration_run_metadata',
    metadata: '{}',
    run_id: runId ?? newRunId(at),
    status,
    started_at: iso,
    ...(status === 'RUNNING' ? {} : { ended_at: iso, duration_ms: durationMs }),
    handler_package: 'bench',
    handler_version: '1.0.0',
    request_metadata: {},
  };
}

/**
 * A SQLite run store file holding `count` finished runs of 10 services over the last `spanMs`
 * (one in `failEvery` FAILED), written in one transaction through the store's own schema, with
 * the hourly rollups the store keeps as runs end counted from them (as migration 3 did).
 */
export async function fillSqlite(file, count, { spanMs, failEvery = 20, durationMs = () => 12 } = {}) {
  await new SqliteRunStore(file).close(); // the store's own schema and indexes
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const insert = db.prepare(
    'INSERT INTO runs (run_id, service, status, idempotency_key, record) VALUES (?, ?, ?, ?, ?)',
  );
  const start = Date.now() - spanMs;
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const r = record({
        at: start + (i * spanMs) / count,
        service: `svc_${i % 10}`,
        status: i % failEvery === 0 ? 'FAILED' : 'SUCCEEDED',
        durationMs: durationMs(i),
      });
      insert.run(r.run_id, r.service, r.status, null, JSON.stringify(r));
    }
    db.exec(`INSERT INTO run_counts (service, hour, status, n)
      SELECT service, CAST(unixepoch(json_extract(record, '$.started_at')) / 3600 AS INTEGER) AS hour, status, count(*)
      FROM runs WHERE status <> 'RUNNING' GROUP BY 1, 2, 3
      ON CONFLICT (service, hour, status) DO UPDATE SET n = n + excluded.n`);
  })();
  db.close();
  return new SqliteRunStore(file);
}
