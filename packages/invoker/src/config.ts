import { z } from 'zod';
import { ConfigError } from '@pipeline-invocation/core';
import { LIFECYCLE_DEFAULTS } from './executor';

const milliseconds = z.coerce
  .number()
  .int('a whole number of milliseconds')
  .positive('a positive whole number of milliseconds');

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
    const parsed = milliseconds.safeParse(raw);
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
