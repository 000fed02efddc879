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
  // 3: hourly counts of finished runs by service and status, kept by triggers (one upsert per
  // finished run), so the dashboard's overview reads at most a week of hourly rows per service
  // whatever the history. Filled from the runs already there.
  `CREATE TABLE run_counts (
     service TEXT NOT NULL,
     hour    INTEGER NOT NULL,
     status  TEXT NOT NULL,
     n       INTEGER NOT NULL,
     PRIMARY KEY (service, hour, status)
   ) WITHOUT ROWID;
   CREATE TRIGGER runs_count_on_finish AFTER UPDATE OF status ON runs
     WHEN OLD.status = 'RUNNING' AND NEW.status <> 'RUNNING'
   BEGIN
     INSERT INTO run_counts (service, hour, status, n) VALUES (NEW.service, CAST(unixepoch(json_extract(NEW.record, '$.started_at')) / 3600 AS INTEGER), NEW.status, 1)
       ON CONFLICT (service, hour, status) DO UPDATE SET n = n + 1;
   END;
   CREATE TRIGGER runs_count_on_insert AFTER INSERT ON runs
     WHEN NEW.status <> 'RUNNING'
   BEGIN
     INSERT INTO run_counts (service, hour, status, n) VALUES (NEW.service, CAST(unixepoch(json_extract(NEW.record, '$.started_at')) / 3600 AS INTEGER), NEW.status, 1)
       ON CONFLICT (service, hour, status) DO UPDATE SET n = n + 1;
   END;
   INSERT INTO run_counts (service, hour, status, n)
     SELECT service, CAST(unixepoch(json_extract(record, '$.started_at')) / 3600 AS INTEGER) AS hour, status, count(*)
     FROM runs WHERE status <> 'RUNNING' GROUP BY 1, 2, 3;`,
  // 4: idempotency keys are items of their own, scoped by service (`<service>#<key>`), holding the
  // run that owns the key, its status, payload hash and heartbeat: the lifecycle takes a key with
  // one conditional write. Each service's key goes to its newest run, so keys already in use keep
  // replaying. A run's own final record may replace a CRASHED presumption (supersede): the rollups
  // move its count from CRASHED to its real status.
  `CREATE TABLE run_keys (
     key  TEXT PRIMARY KEY,
     item TEXT NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO run_keys (key, item)
     SELECT service || '#' || idempotency_key,
            json_object('key', service || '#' || idempotency_key, 'service', service, 'run_id', run_id, 'status', status,
                        'payload_hash', json_extract(record, '$.payload_hash'),
                        'heartbeat_at', coalesce(json_extract(record, '$.heartbeat_at'), json_extract(record, '$.started_at')))
     FROM runs r
     WHERE idempotency_key IS NOT NULL
       AND run_id = (SELECT max(run_id) FROM runs n WHERE n.service = r.service AND n.idempotency_key = r.idempotency_key);
   DROP INDEX runs_by_idempotency_key;
   CREATE TRIGGER runs_count_on_supersede AFTER UPDATE OF status ON runs
     WHEN OLD.status <> 'RUNNING' AND NEW.status <> 'RUNNING' AND OLD.status <> NEW.status
   BEGIN
     UPDATE run_counts SET n = n - 1
       WHERE service = OLD.service AND status = OLD.status
         AND hour = CAST(unixepoch(json_extract(OLD.record, '$.started_at')) / 3600 AS INTEGER);
     INSERT INTO run_counts (service, hour, status, n) VALUES (NEW.service, CAST(unixepoch(json_extract(NEW.record, '$.started_at')) / 3600 AS INTEGER), NEW.status, 1)
       ON CONFLICT (service, hour, status) DO UPDATE SET n = n + 1;
   END;`,
  // 5: the rollups are kept by the store's code instead of triggers, in the same transaction as
  // the writes they count, one upsert per (service, hour, status) for a whole group commit. The
  // triggers cost ~6 µs a run (parsing the record's JSON for its start time, and running for
  // every RUNNING insert they then ignored), a fifth of what SQLite spent on a run. A process of
  // an older version that has the file open while it migrates writes its runs uncounted; one
  // started later refuses the file (its schema is newer), as after every migration.
  `DROP TRIGGER runs_count_on_finish;
   DROP TRIGGER runs_count_on_insert;
   DROP TRIGGER runs_count_on_supersede;`,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
