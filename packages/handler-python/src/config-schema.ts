import { z } from '@pipeline-invocation/core';
import { ENTRY_POINT, SERVICE_NAME } from './config-names';

const EntryPointSchema = z
  .string()
  .regex(ENTRY_POINT, 'must be "module.path:function", e.g. "pipelines.preprocess.handler:lambda_handler"');

/** One configured service: an entry point, or an object with its entry point and payload schema. */
export const PythonServiceSchema = z.union([
  EntryPointSchema,
  z.strictObject({
    entry: EntryPointSchema,
    /** A JSON Schema the payload must satisfy before Python starts (see the README for the subset). */
    payloadSchema: z.record(z.string(), z.unknown()).optional(),
    /** Example payloads: the conformance kit checks that each is accepted. */
    examples: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
]);

/**
 * The host's `pipelineInvocation.python` section (package.json), or the options of
 * {@link pythonPlugin}.
 */
export const PythonConfigSchema = z.strictObject({
  /** Service name to entry point (`"module.path:function"`) or `{ entry, payloadSchema?, examples? }`. */
  services: z
    .record(z.string().regex(SERVICE_NAME, 'a service name is letters, digits, "_", "-" and "."'), PythonServiceSchema)
    .refine((services) => Object.keys(services).length > 0, 'list at least one service'),
  /** Interpreter to run (default `python3`; the variable `PIPELINE_PYTHON` overrides it). */
  interpreter: z.string().min(1).optional(),
  /** Working folder of the Python process (default: the host's folder); relative to the host's folder. */
  cwd: z.string().min(1).optional(),
  /** Folders put first on `PYTHONPATH` (relative to the host's folder). */
  pythonPath: z.array(z.string().min(1)).optional(),
  /**
   * How long a cancelled or timed-out run's process gets before SIGKILL (ms, default 6000): it is
   * told at once (`ctx.cancelled`), gets SIGINT after a third of it, SIGTERM after two thirds.
   * The variable `PIPELINE_PYTHON_KILL_AFTER_MS` overrides it.
   */
  killAfterMs: z.number().int().min(0).max(600_000).optional(),
});
