import type { z } from 'zod';
import { ConfigError, describe, type EnvVariable } from '@pipeline-invocation/core';
import { projectFolder, storageConfigFromEnv, type StorageConfig } from '@pipeline-invocation/storage';
import {
  parseLogLevel,
  trackingConfigFromEnv,
  type LogLevel,
  type TrackingConfig,
} from '@pipeline-invocation/observability';
import { LIFECYCLE_DEFAULTS } from './executor';

/** Built on first use: reading a configuration without lifecycle variables does not load zod. */
let milliseconds: z.ZodCoercedNumber | undefined;
const millisecondsSchema = () =>
  (milliseconds ??= (require('zod') as typeof import('zod')).z.coerce // eslint-disable-line @typescript-eslint/no-require-imports
    .number()
    .int('a whole number of milliseconds')
    .positive('a positive whole number of milliseconds'));

/**
 * The run lifecycle's environment variables, each a positive whole number of milliseconds:
 * - `PIPELINE_TIMEOUT_MS`: default handler timeout (none when unset);
 * - `PIPELINE_HEARTBEAT_MS`: how often a RUNNING record's heartbeat is renewed (default 10 000);
 * - `PIPELINE_STALE_AFTER_MS`: when a RUNNING record without a fresh heartbeat counts as crashed
 *   (default 60 000; at least twice the heartbeat);
 * - `PIPELINE_CANCEL_GRACE_MS`: how long a cancelled handler may take to settle (default 10 000).
 */
export const LIFECYCLE_VARIABLES = {
  PIPELINE_TIMEOUT_MS: 'timeoutMs',
  PIPELINE_HEARTBEAT_MS: 'heartbeatMs',
  PIPELINE_STALE_AFTER_MS: 'staleAfterMs',
  PIPELINE_CANCEL_GRACE_MS: 'cancelGraceMs',
} as const;

/** The lifecycle settings in effect. */
export interface LifecycleConfig {
  timeoutMs?: number;
  heartbeatMs: number;
  staleAfterMs: number;
  cancelGraceMs: number;
}

/**
 * Read the lifecycle settings: explicit `overrides` first, then `env`, then the defaults.
 *
 * @throws ConfigError naming the variable, its value and what is allowed.
 */
export function lifecycleConfig(env: NodeJS.ProcessEnv, overrides: Partial<LifecycleConfig> = {}): LifecycleConfig {
  const read = (variable: keyof typeof LIFECYCLE_VARIABLES): number | undefined => {
    const override = overrides[LIFECYCLE_VARIABLES[variable]];
    const raw = override ?? env[variable];
    if (raw === undefined || raw === '') return undefined;
    const parsed = millisecondsSchema().safeParse(raw);
    if (!parsed.success || (typeof raw === 'string' && !/^\s*\d+\s*$/.test(raw))) {
      const name = override === undefined ? variable : LIFECYCLE_VARIABLES[variable];
      throw new ConfigError(name, raw, 'expected a positive whole number of milliseconds, e.g. 10000');
    }
    return parsed.data;
  };
  const config: LifecycleConfig = {
    timeoutMs: read('PIPELINE_TIMEOUT_MS'),
    heartbeatMs: read('PIPELINE_HEARTBEAT_MS') ?? LIFECYCLE_DEFAULTS.heartbeatMs,
    staleAfterMs: read('PIPELINE_STALE_AFTER_MS') ?? LIFECYCLE_DEFAULTS.staleAfterMs,
    cancelGraceMs: read('PIPELINE_CANCEL_GRACE_MS') ?? LIFECYCLE_DEFAULTS.cancelGraceMs,
  };
  if (config.staleAfterMs < 2 * config.heartbeatMs) {
    // A run whose heartbeat is merely late must never be taken for dead.
    throw new ConfigError(
      'PIPELINE_STALE_AFTER_MS',
      config.staleAfterMs,
      `expected at least twice PIPELINE_HEARTBEAT_MS (${config.heartbeatMs}), e.g. ${6 * config.heartbeatMs}`,
    );
  }
  return config;
}

/**
 * The variables pipeline-invocation itself reads (storage, tracking, the run lifecycle, logging,
 * AWS). Plugins and the worker declare their own in their package.json; `pipeline doctor` lists
 * both.
 */
export const HOST_VARIABLES: readonly EnvVariable[] = [
  { name: 'PIPELINE_STORE', description: 'run store: sqlite (default), dynamodb or memory' },
  {
    name: 'PIPELINE_HOME',
    description: 'folder of the SQLite store, the outbox and offline W&B runs (default .pipeline)',
  },
  { name: 'PIPELINE_ROOT', description: 'folder whose package.json lists the plugins (default: nearest package.json)' },
  { name: 'PIPELINE_DYNAMODB_TABLE', description: 'DynamoDB table (default integration_run_metadata)' },
  {
    name: 'PIPELINE_RETENTION_DAYS',
    description: 'DynamoDB: finished runs expire (TTL expires_at) this many days after they end',
  },
  { name: 'PIPELINE_OUTBOX', description: 'file where unwritten records wait (default $PIPELINE_HOME/outbox.jsonl)' },
  {
    name: 'PIPELINE_SQLITE_BUSY_MS',
    description: "how long one SQLite write waits for another process's lock before it is retried (default 250)",
  },
  { name: 'PIPELINE_TIMEOUT_MS', description: 'default handler timeout (none when unset)' },
  { name: 'PIPELINE_HEARTBEAT_MS', description: "how often a running run's heartbeat is renewed (default 10000)" },
  { name: 'PIPELINE_STALE_AFTER_MS', description: 'when a silent RUNNING run counts as crashed (default 60000)' },
  { name: 'PIPELINE_CANCEL_GRACE_MS', description: 'how long a cancelled handler may take to stop (default 10000)' },
  { name: 'PIPELINE_WANDB_TIMEOUT_MS', description: 'time limit of each W&B call (default 10000)' },
  { name: 'LOG_LEVEL', description: 'debug, info (default), warn or error' },
  { name: 'WANDB_API_KEY', description: 'W&B API key; unset: tracking off', secret: true },
  { name: 'WANDB_MODE', description: 'online, offline or disabled' },
  { name: 'WANDB_PROJECT', description: 'W&B project (default: the service name)' },
  { name: 'WANDB_ENTITY', description: 'W&B entity' },
  { name: 'WANDB_BASE_URL', description: 'W&B server (default https://api.wandb.ai)' },
  { name: 'AWS_REGION', description: 'AWS region of the DynamoDB table' },
  { name: 'AWS_PROFILE', description: 'AWS profile' },
  { name: 'AWS_ENDPOINT_URL', description: 'AWS endpoint (local testing)' },
  { name: 'AWS_ENDPOINT_URL_DYNAMODB', description: 'DynamoDB endpoint (local testing)' },
  { name: 'AWS_ACCESS_KEY_ID', description: 'AWS access key id' },
  { name: 'AWS_SECRET_ACCESS_KEY', description: 'AWS secret access key', secret: true },
  { name: 'AWS_SESSION_TOKEN', description: 'AWS session token', secret: true },
];

/** The host's whole configuration, read from one environment. */
export interface HostConfig {
  storage: StorageConfig;
  tracking: TrackingConfig;
  lifecycle: LifecycleConfig;
  logLevel: LogLevel;
}

/**
 * The parts of the host's configuration, each owned by its package: storage
 * (`@pipeline-invocation/storage`), tracking and logging (`@pipeline-invocation/observability`),
 * the run lifecycle (here). {@link readHostConfig} and {@link hostConfigProblems} read them all,
 * so the invoker and `pipeline doctor` check the same things.
 */
const PARTS = {
  storage: (env: NodeJS.ProcessEnv, cwd: string) => storageConfigFromEnv(env, cwd),
  // offline W&B runs live under PIPELINE_HOME, which starts at the project's folder as the store's does
  tracking: (env: NodeJS.ProcessEnv, cwd: string) => trackingConfigFromEnv(env, projectFolder(env, cwd)),
  'run lifecycle': (env: NodeJS.ProcessEnv) => lifecycleConfig(env),
  logging: (env: NodeJS.ProcessEnv) => parseLogLevel(env.LOG_LEVEL),
} as const;

/**
 * Read and check the whole configuration from `env` once (the invoker does, when it is created).
 *
 * @throws ConfigError (or InvalidRequestError for storage) naming the first invalid variable.
 */
export function readHostConfig(
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
  lifecycleOverrides: Partial<LifecycleConfig> = {},
): HostConfig {
  return {
    lifecycle: lifecycleConfig(env, lifecycleOverrides),
    storage: PARTS.storage(env, cwd),
    tracking: PARTS.tracking(env, cwd),
    logLevel: PARTS.logging(env),
  };
}

/** Every invalid value of the configuration, by part (`pipeline doctor` lists them all, not only the first). */
export function hostConfigProblems(
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): { part: string; detail: string }[] {
  return Object.entries(PARTS).flatMap(([part, read]) => {
    try {
      read(env, cwd);
      return [];
    } catch (error) {
      return [{ part, detail: describe(error) }];
    }
  });
}
