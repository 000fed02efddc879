import { basename, isAbsolute, join, resolve } from 'node:path';
import { parseWith, pipelineHome, z, type Env } from '@pipeline-invocation/core';

/** OpenAI's API. */
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** The moderation model used unless `OPENAI_MODERATION_MODEL` names another. */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';
/** The input queue file this service reads unless told to read another (e.g. Perspective's). */
export const DEFAULT_INPUT_QUEUE = 'input_ml_inference_openai_moderation.db';
/** The output queue file. */
export const OUTPUT_QUEUE = 'output_ml_inference_openai_moderation.db';

/** Configuration of the handler; see {@link moderationConfigFromEnv}. */
export const ModerationConfigSchema = z.object({
  apiKey: z.string().min(1).optional(),
  /** Sent as `OpenAI-Organization` (`OPENAI_ORG_ID`, as OpenAI's own client reads it). */
  organization: z.string().min(1).optional(),
  /** Sent as `OpenAI-Project` (`OPENAI_PROJECT_ID`, as OpenAI's own client reads it). */
  project: z.string().min(1).optional(),
  baseUrl: z.url({ protocol: /^https?$/, error: 'OPENAI_BASE_URL must be an http(s) URL' }),
  model: z.string().min(1, { error: 'OPENAI_MODERATION_MODEL must not be empty' }),
  batchSize: z
    .number({ error: 'OPENAI_MODERATION_BATCH_SIZE must be a number' })
    .int({ error: 'OPENAI_MODERATION_BATCH_SIZE must be a whole number' })
    .min(1, { error: 'OPENAI_MODERATION_BATCH_SIZE must be at least 1' })
    .max(1000, { error: 'OPENAI_MODERATION_BATCH_SIZE must be at most 1000' }),
  requestsPerSecond: z
    .number({ error: 'OPENAI_MODERATION_RPS must be a number' })
    .positive({ error: 'OPENAI_MODERATION_RPS must be positive' }),
  requestTimeoutMs: z
    .number()
    .int()
    .positive({ error: 'OPENAI_MODERATION_TIMEOUT_MS must be a positive whole number' }),
  maxAttempts: z.number().int().min(1, { error: 'OPENAI_MODERATION_MAX_ATTEMPTS must be at least 1' }),
  retryBaseMs: z.number().nonnegative({ error: 'OPENAI_MODERATION_RETRY_BASE_MS must not be negative' }),
  /** Requests in flight at once, at most (when absent, the engine's default: a second's worth at the rate, 8 to 64). */
  maxInFlight: z
    .number({ error: 'OPENAI_MODERATION_MAX_IN_FLIGHT must be a number' })
    .int({ error: 'OPENAI_MODERATION_MAX_IN_FLIGHT must be a whole number' })
    .min(1, { error: 'OPENAI_MODERATION_MAX_IN_FLIGHT must be at least 1' })
    .optional(),
  /** Folder of the queue files. */
  queueDir: z.string().min(1),
  /** The input queue file (absolute). */
  inputQueue: z.string().min(1),
  queueBusyTimeoutMs: z
    .number()
    .int()
    .positive({ error: 'OPENAI_MODERATION_QUEUE_BUSY_MS must be a positive whole number of milliseconds' })
    .default(10_000),
});

/** See {@link ModerationConfigSchema}. */
export type ModerationConfig = z.input<typeof ModerationConfigSchema>;

/**
 * Read the configuration from `env` (the invoker's environment): `OPENAI_API_KEY`,
 * `OPENAI_ORG_ID` and `OPENAI_PROJECT_ID` (optional), `OPENAI_BASE_URL`,
 * `OPENAI_MODERATION_MODEL` (`omni-moderation-latest`), `OPENAI_MODERATION_BATCH_SIZE` (32), `OPENAI_MODERATION_RPS` (5), `OPENAI_MODERATION_TIMEOUT_MS`
 * (30 000), `OPENAI_MODERATION_MAX_ATTEMPTS` (4), `OPENAI_MODERATION_RETRY_BASE_MS` (1000),
 * `OPENAI_MODERATION_MAX_IN_FLIGHT` (requests in flight at once; the engine's default: a second's worth at the rate, 8 to 64),
 * `OPENAI_MODERATION_INPUT_QUEUE` (a file name in the queue folder, or a path), and the queue
 * folder `$BSKY_DATA_DIR/queue` (default `$PIPELINE_HOME/data/queue`).
 */
export function moderationConfigFromEnv(
  env: Env = process.env,
  cwd = process.cwd(),
): z.output<typeof ModerationConfigSchema> {
  const number = (name: string, fallback: number) =>
    env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  const optionalNumber = (name: string) =>
    env[name] === undefined || env[name] === '' ? undefined : Number(env[name]);
  const dataDir = env.BSKY_DATA_DIR ? resolve(cwd, env.BSKY_DATA_DIR) : join(pipelineHome(env, cwd), 'data');
  const queueDir = join(dataDir, 'queue');
  const input = env.OPENAI_MODERATION_INPUT_QUEUE || DEFAULT_INPUT_QUEUE;
  return parseWith(
    ModerationConfigSchema,
    {
      apiKey: env.OPENAI_API_KEY || undefined,
      organization: env.OPENAI_ORG_ID || undefined,
      project: env.OPENAI_PROJECT_ID || undefined,
      baseUrl: env.OPENAI_BASE_URL || DEFAULT_OPENAI_BASE_URL,
      model: env.OPENAI_MODERATION_MODEL ?? DEFAULT_MODERATION_MODEL,
      batchSize: number('OPENAI_MODERATION_BATCH_SIZE', 32),
      requestsPerSecond: number('OPENAI_MODERATION_RPS', 5),
      requestTimeoutMs: number('OPENAI_MODERATION_TIMEOUT_MS', 30_000),
      maxAttempts: number('OPENAI_MODERATION_MAX_ATTEMPTS', 4),
      retryBaseMs: number('OPENAI_MODERATION_RETRY_BASE_MS', 1000),
      maxInFlight: optionalNumber('OPENAI_MODERATION_MAX_IN_FLIGHT'),
      queueDir,
      // a bare name is a file of the queue folder; anything with a folder in it is a path
      inputQueue: basename(input) === input ? join(queueDir, input) : isAbsolute(input) ? input : resolve(cwd, input),
      queueBusyTimeoutMs: number('OPENAI_MODERATION_QUEUE_BUSY_MS', 10_000),
    },
    'Invalid OpenAI moderation handler configuration',
  );
}

/** The two queue files of the service. */
export function queueFiles(config: Pick<ModerationConfig, 'queueDir' | 'inputQueue'>) {
  return { input: config.inputQueue, output: join(config.queueDir, OUTPUT_QUEUE) };
}
