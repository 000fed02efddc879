import { ConfigError } from '@pipeline-invocation/core/errors';
import { join } from 'node:path';
import { pipelineHome } from '@pipeline-invocation/core/env';

/** How runs are tracked. */
export type TrackingMode = 'off' | 'disabled' | 'offline' | 'online';

/** Tracking configuration; see {@link trackingConfigFromEnv}. */
export interface TrackingConfig {
  /** `off`: no API key; `disabled`: WANDB_MODE=disabled; `offline`: JSON files; `online`: W&B. */
  readonly mode: TrackingMode;
  /** W&B project; when unset, each service logs to a project named after it. */
  readonly project: string | undefined;
  readonly entity: string | undefined;
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  /** Folder of offline run files. */
  readonly offlineDir: string;
  /** Time limits of the W&B calls (ms). */
  readonly initTimeoutMs: number;
  readonly finishTimeoutMs: number;
}

/**
 * Read the tracking configuration: `WANDB_API_KEY` (none: tracking off), `WANDB_MODE`
 * (`disabled`, `offline`, else online: applied by us, since the SDK ignores it),
 * `WANDB_PROJECT`, `WANDB_ENTITY`, `WANDB_BASE_URL`, `PIPELINE_WANDB_TIMEOUT_MS` (default 10 000)
 * and `PIPELINE_HOME` (offline files go to `$PIPELINE_HOME/wandb/`).
 *
 * @throws ConfigError naming the variable, its value and what is allowed (CLI exit code 2).
 */
export function trackingConfigFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): TrackingConfig {
  const mode = (env.WANDB_MODE ?? '').toLowerCase();
  if (mode && !['online', 'offline', 'disabled', 'run', 'dryrun'].includes(mode)) {
    throw new ConfigError('WANDB_MODE', env.WANDB_MODE, 'expected online, offline or disabled');
  }
  const timeout = env.PIPELINE_WANDB_TIMEOUT_MS ? Number(env.PIPELINE_WANDB_TIMEOUT_MS) : 10_000;
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new ConfigError(
      'PIPELINE_WANDB_TIMEOUT_MS',
      env.PIPELINE_WANDB_TIMEOUT_MS,
      'expected a positive whole number of milliseconds, e.g. 10000',
    );
  }
  const baseUrl = env.WANDB_BASE_URL || 'https://api.wandb.ai';
  if (!/^https?:\/\/[^\s]+$/.test(baseUrl)) {
    throw new ConfigError('WANDB_BASE_URL', baseUrl, 'expected an http(s) URL, e.g. https://api.wandb.ai');
  }
  const apiKey = env.WANDB_API_KEY || undefined;
  const resolved: TrackingMode =
    mode === 'disabled' ? 'disabled' : mode === 'offline' || mode === 'dryrun' ? 'offline' : apiKey ? 'online' : 'off';
  return {
    mode: resolved,
    project: env.WANDB_PROJECT || undefined,
    entity: env.WANDB_ENTITY || undefined,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    apiKey,
    offlineDir: join(pipelineHome(env, cwd), 'wandb'),
    initTimeoutMs: timeout,
    finishTimeoutMs: timeout,
  };
}
