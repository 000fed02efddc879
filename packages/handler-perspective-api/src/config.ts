import { join, resolve } from 'node:path';
import { parseWith, pipelineHome, z, type Env } from '@pipeline-invocation/core';

/** The default Perspective endpoint (Google ends the API on 31 Dec 2026: point PERSPECTIVE_API_URL at a compatible service). */
export const DEFAULT_PERSPECTIVE_API_URL = 'https://commentanalyzer.googleapis.com';

/** Configuration of the handler; see {@link perspectiveConfigFromEnv}. */
export const PerspectiveConfigSchema = z.object({
  apiKey: z.string().min(1).optional(),
  baseUrl: z.url({ protocol: /^https?$/, error: 'PERSPECTIVE_API_URL must be an http(s) URL' }),
  qps: z.number({ error: 'PERSPECTIVE_QPS must be a number' }).positive({ error: 'PERSPECTIVE_QPS must be positive' }),
  requestTimeoutMs: z.number().int().positive({ error: 'PERSPECTIVE_TIMEOUT_MS must be a positive whole number' }),
  maxAttempts: z.number().int().min(1, { error: 'PERSPECTIVE_MAX_ATTEMPTS must be at least 1' }),
  retryBaseMs: z.number().nonnegative({ error: 'PERSPECTIVE_RETRY_BASE_MS must not be negative' }),
  /** Requests in flight at once, at most (when absent, the engine's default: a second's worth at the rate, 8 to 64). */
  maxInFlight: z
    .number({ error: 'PERSPECTIVE_MAX_IN_FLIGHT must be a number' })
    .int({ error: 'PERSPECTIVE_MAX_IN_FLIGHT must be a whole number' })
    .min(1, { error: 'PERSPECTIVE_MAX_IN_FLIGHT must be at least 1' })
    .optional(),
  queueDir: z.string().min(1),
  /** How long a queue write waits for another process's lock before failing (ms). */
  queueBusyTimeoutMs: z
    .number()
    .int()
    .positive({ error: 'PERSPECTIVE_QUEUE_BUSY_MS must be a positive whole number of milliseconds' })
    .default(10_000),
});

/** See {@link PerspectiveConfigSchema}. */
export type PerspectiveConfig = z.input<typeof PerspectiveConfigSchema>;

/**
 * Read the configuration from the environment:
 * `PERSPECTIVE_API_KEY` (else `GOOGLE_API_KEY`), `PERSPECTIVE_API_URL`, `PERSPECTIVE_QPS`
 * (default 1, Google's default quota), `PERSPECTIVE_TIMEOUT_MS` (30 000),
 * `PERSPECTIVE_MAX_ATTEMPTS` (4), `PERSPECTIVE_RETRY_BASE_MS` (1000), `PERSPECTIVE_MAX_IN_FLIGHT`
 * (requests in flight at once; the engine's default: a second's worth at the rate, 8 to 64), `PERSPECTIVE_QUEUE_BUSY_MS`
 * (10 000: how long a queue write waits for another process's lock), and the queue folder
 * `$BSKY_DATA_DIR/queue` (default `$PIPELINE_HOME/data/queue`, `PIPELINE_HOME` being `.pipeline`).
 */
export function perspectiveConfigFromEnv(
  env: Env = process.env,
  cwd = process.cwd(),
): z.output<typeof PerspectiveConfigSchema> {
  const number = (name: string, fallback: number) =>
    env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  const optionalNumber = (name: string) =>
    env[name] === undefined || env[name] === '' ? undefined : Number(env[name]);
  const dataDir = env.BSKY_DATA_DIR ? resolve(cwd, env.BSKY_DATA_DIR) : join(pipelineHome(env, cwd), 'data');
  return parseWith(
    PerspectiveConfigSchema,
    {
      apiKey: env.PERSPECTIVE_API_KEY || env.GOOGLE_API_KEY || undefined,
      baseUrl: env.PERSPECTIVE_API_URL || DEFAULT_PERSPECTIVE_API_URL,
      qps: number('PERSPECTIVE_QPS', 1),
      requestTimeoutMs: number('PERSPECTIVE_TIMEOUT_MS', 30_000),
      maxAttempts: number('PERSPECTIVE_MAX_ATTEMPTS', 4),
      retryBaseMs: number('PERSPECTIVE_RETRY_BASE_MS', 1000),
      maxInFlight: optionalNumber('PERSPECTIVE_MAX_IN_FLIGHT'),
      queueDir: join(dataDir, 'queue'),
      queueBusyTimeoutMs: number('PERSPECTIVE_QUEUE_BUSY_MS', 10_000),
    },
    'Invalid Perspective handler configuration',
  );
}

/** The two queue files of the service, named as the original named them. */
export function queueFiles(config: Pick<PerspectiveConfig, 'queueDir'>) {
  return {
    input: join(config.queueDir, 'input_ml_inference_perspective_api.db'),
    output: join(config.queueDir, 'output_ml_inference_perspective_api.db'),
  };
}
