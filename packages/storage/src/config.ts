import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { DEFAULT_METADATA_TABLE_NAME, parseWith, pipelineHome } from '@pipeline-invocation/core';
import type { StorageConfigSchema } from './config-schema';

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
  const config = {
    kind: env.PIPELINE_STORE || 'sqlite',
    home,
    outbox: env.PIPELINE_OUTBOX ? resolve(project, env.PIPELINE_OUTBOX) : join(home, 'outbox.jsonl'),
    sqliteBusyTimeoutMs: env.PIPELINE_SQLITE_BUSY_MS ? Number(env.PIPELINE_SQLITE_BUSY_MS) : 250,
    dynamodbTable: env.PIPELINE_DYNAMODB_TABLE || DEFAULT_METADATA_TABLE_NAME,
    retentionDays: env.PIPELINE_RETENTION_DAYS ? Number(env.PIPELINE_RETENTION_DAYS) : undefined,
  };
  // A valid configuration (the common case) is checked here, without loading zod; a refused one
  // goes through the schema for its message (both accept the same values: tests/config.test.ts).
  if (isValidStorageConfig(config)) return config;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- zod loads only to explain a refusal
  const schema = (require('./config-schema') as typeof import('./config-schema')).StorageConfigSchema;
  return parseWith(schema, config, 'Invalid storage configuration');
}

const positiveWhole = (value: unknown) => Number.isSafeInteger(value) && (value as number) > 0;

/** Whether StorageConfigSchema accepts `config` as it is (it then returns it unchanged). */
function isValidStorageConfig(config: {
  kind: string;
  home: string;
  outbox: string;
  sqliteBusyTimeoutMs: number;
  dynamodbTable: string;
  retentionDays?: number;
}): config is StorageConfig {
  return (
    ['sqlite', 'dynamodb', 'memory'].includes(config.kind) &&
    config.home.length > 0 &&
    config.outbox.length > 0 &&
    positiveWhole(config.sqliteBusyTimeoutMs) &&
    /^[A-Za-z0-9_.-]{3,255}$/.test(config.dynamodbTable) &&
    (config.retentionDays === undefined || positiveWhole(config.retentionDays))
  );
}

/** Where the SQLite run store lives. */
export const sqliteFile = (config: Pick<StorageConfig, 'home'>) => join(config.home, 'runs.db');
/** Where records that could not be written wait. */
export const outboxFile = (config: Pick<StorageConfig, 'outbox'>) => config.outbox;
