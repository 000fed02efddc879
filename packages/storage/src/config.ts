import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_METADATA_TABLE_NAME, parseWith, pipelineHome } from '@pipeline-invocation/core';

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

/** See {@link StorageConfigSchema}. */
export type StorageConfig = z.infer<typeof StorageConfigSchema>;

/**
 * The project's folder, where relative storage paths start: `PIPELINE_ROOT` when set, else the
 * nearest folder from `cwd` up that has a package.json (the host project whose dependencies
 * declare the plugins, as plugin discovery finds it), else `cwd`.
 *
 * @example
 * projectFolder({}, '/srv/app/scripts/nightly'); // '/srv/app' when /srv/app/package.json exists
 */
export function projectFolder(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.PIPELINE_ROOT) return resolve(cwd, env.PIPELINE_ROOT);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(cwd);
  }
}

/** Read and check the storage configuration from `env`; relative paths start at {@link projectFolder}. */
export function storageConfigFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): StorageConfig {
  const project = projectFolder(env, cwd);
  const home = pipelineHome(env, project);
  return parseWith(
    StorageConfigSchema,
    {
      kind: env.PIPELINE_STORE || 'sqlite',
      home,
      outbox: env.PIPELINE_OUTBOX ? resolve(project, env.PIPELINE_OUTBOX) : join(home, 'outbox.jsonl'),
      sqliteBusyTimeoutMs: env.PIPELINE_SQLITE_BUSY_MS ? Number(env.PIPELINE_SQLITE_BUSY_MS) : 250,
      dynamodbTable: env.PIPELINE_DYNAMODB_TABLE || DEFAULT_METADATA_TABLE_NAME,
      retentionDays: env.PIPELINE_RETENTION_DAYS ? Number(env.PIPELINE_RETENTION_DAYS) : undefined,
    },
    'Invalid storage configuration',
  );
}

/** Where the SQLite run store lives. */
export const sqliteFile = (config: Pick<StorageConfig, 'home'>) => join(config.home, 'runs.db');
/** Where records that could not be written wait. */
export const outboxFile = (config: Pick<StorageConfig, 'outbox'>) => config.outbox;
