import { z } from 'zod';

/**
 * Storage configuration, read from the environment:
 * - `PIPELINE_STORE`: `sqlite` (default), `dynamodb` or `memory`.
 * - `PIPELINE_HOME`: folder for the SQLite file and the outbox (default `.pipeline` in the
 *   project's folder, see {@link projectFolder}; a relative value is relative to it too), so
 *   every command run from a subfolder of the project finds the same store.
 * - `PIPELINE_OUTBOX`: the outbox file (default `$PIPELINE_HOME/outbox.jsonl`).
 * - `PIPELINE_SQLITE_BUSY_MS`: how long one SQLite write waits for a lock before it fails as busy and is retried asynchronously by the retry policy (default 250; better-sqlite3 waits synchronously, blocking the event loop).
 * - `PIPELINE_DYNAMODB_TABLE`: table name (default `integration_run_metadata`).
 * - `PIPELINE_RETENTION_DAYS`: DynamoDB records get `expires_at` (epoch seconds) this many days
 *   after they end, for tables with TTL enabled on it (none when unset).
 * - AWS region, credentials and endpoint (`AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`)
 *   come from the standard AWS chain.
 */
export const StorageConfigSchema = z.object({
  kind: z.enum(['sqlite', 'dynamodb', 'memory'], {
    error: 'PIPELINE_STORE must be "sqlite", "dynamodb" or "memory"',
  }),
  home: z.string().min(1),
  /** Where records wait when the store cannot take them (`PIPELINE_OUTBOX`; put it on another disk than the store). */
  outbox: z.string().min(1),
  /** How long SQLite waits for another process's lock (`PIPELINE_SQLITE_BUSY_MS`). */
  sqliteBusyTimeoutMs: z.number({ error: 'PIPELINE_SQLITE_BUSY_MS must be a number of milliseconds' }).int().positive({
    error: 'PIPELINE_SQLITE_BUSY_MS must be a positive whole number of milliseconds',
  }),
  dynamodbTable: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, {
    error: 'PIPELINE_DYNAMODB_TABLE must be 3-255 characters of letters, digits, "_", "-" or "."',
  }),
  /** Days a finished run is kept in DynamoDB by TTL (`expires_at`); none when unset (`PIPELINE_RETENTION_DAYS`). */
  retentionDays: z
    .number({ error: 'PIPELINE_RETENTION_DAYS must be a number of days' })
    .int({ error: 'PIPELINE_RETENTION_DAYS must be a whole number of days' })
    .positive({ error: 'PIPELINE_RETENTION_DAYS must be a positive whole number of days' })
    .optional(),
});
