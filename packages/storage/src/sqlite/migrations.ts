/**
 * Schema migrations of the SQLite run store, applied in order; `PRAGMA user_version` holds
 * the number applied. Never edit a released migration: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     run_id          TEXT PRIMARY KEY,
     service         TEXT NOT NULL,
     status          TEXT NOT NULL,
     idempotency_key TEXT,
     record          TEXT NOT NULL
   );
   CREATE INDEX runs_by_service ON runs (service, run_id DESC);
   CREATE INDEX runs_by_status ON runs (status, run_id DESC);
   CREATE INDEX runs_by_idempotency_key ON runs (idempotency_key, run_id DESC) WHERE idempotency_key IS NOT NULL;`,
  // 2: index by status only the runs that did not succeed. A full status index was written twice
  // per run (RUNNING, then the final status) and made begin + finish a quarter slower; successes,
  // most runs, are listed fast enough in run_id order, and the rarer statuses keep an index.
  `DROP INDEX runs_by_status;
   CREATE INDEX runs_by_unsettled_status ON runs (status, run_id DESC) WHERE status <> 'SUCCEEDED';`,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
