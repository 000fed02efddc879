import { isAbsolute, resolve } from 'node:path';
import { ConfigError, z, type JsonObject } from '@pipeline-invocation/core';
import { payloadSchemaFromJsonSchema } from './json-schema';

/** `module.path:function`: a dotted module path, a colon, and a (dotted) attribute name. */
const ENTRY_POINT =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

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

/** The `pipelineInvocation.python` section as written. */
export type PythonConfig = z.input<typeof PythonConfigSchema>;

/** One service, resolved. */
export interface PythonService {
  readonly service: string;
  readonly entry: string;
  readonly payloadSchema: z.ZodType | undefined;
  readonly examples: readonly JsonObject[];
}

/** Everything needed to start a service's process. */
export interface ResolvedPythonConfig {
  readonly services: readonly PythonService[];
  /** The configured interpreter (before `PIPELINE_PYTHON`, which is read per run). */
  readonly interpreter: string;
  readonly cwd: string;
  readonly pythonPath: readonly string[];
  readonly killAfterMs: number | undefined;
}

/** Default time from a cancellation to SIGKILL (ms): well inside the executor's 10 s grace. */
export const DEFAULT_KILL_AFTER_MS = 6000;

/**
 * Check and resolve the Python services configuration.
 *
 * @param input - the `pipelineInvocation.python` section (or {@link pythonPlugin}'s options).
 * @param hostDir - the host's folder: the default `cwd` and the base of relative paths.
 * @param origin - where `input` came from (e.g. the host's package.json), named in errors.
 * @throws ConfigError naming the first invalid field (`pipelineInvocation.python.services.x`), its value and the fix.
 */
export function resolvePythonConfig(input: unknown, hostDir: string, origin?: string): ResolvedPythonConfig {
  const field = 'pipelineInvocation.python';
  const where = origin ? ` (in ${origin})` : '';
  const parsed = PythonConfigSchema.safeParse(input);
  if (!parsed.success) {
    const { path: issuePath, message } = explain(parsed.error.issues[0]!);
    const path = [field, ...issuePath.map(String)].join('.');
    const value = issuePath.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], input);
    throw new ConfigError(
      path,
      value,
      `${message}${where}. Example: "pipelineInvocation": { "python": { "services": { "my_service": "pipelines.my_service.handler:lambda_handler" } } }`,
    );
  }
  const config = parsed.data;
  const services = Object.entries(config.services).map(([service, value]): PythonService => {
    const spec = typeof value === 'string' ? { entry: value } : value;
    return {
      service,
      entry: spec.entry,
      payloadSchema: spec.payloadSchema
        ? payloadSchemaFromJsonSchema(spec.payloadSchema, `${field}.services.${service}.payloadSchema`)
        : undefined,
      examples: (spec.examples ?? []) as JsonObject[],
    };
  });
  const at = (p: string) => (isAbsolute(p) ? p : resolve(hostDir, p));
  return {
    services,
    interpreter: config.interpreter ?? 'python3',
    cwd: at(config.cwd ?? '.'),
    pythonPath: (config.pythonPath ?? []).map(at),
    killAfterMs: config.killAfterMs,
  };
}

/**
 * The time from cancellation to SIGKILL in effect: `PIPELINE_PYTHON_KILL_AFTER_MS`, else the
 * configured `killAfterMs`, else {@link DEFAULT_KILL_AFTER_MS}.
 *
 * @throws ConfigError when the variable is not a whole number of milliseconds.
 */
export function killAfterMsFrom(env: Readonly<Record<string, string | undefined>>, configured?: number): number {
  const raw = env.PIPELINE_PYTHON_KILL_AFTER_MS;
  if (raw === undefined || raw === '') return configured ?? DEFAULT_KILL_AFTER_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 600_000)
    throw new ConfigError('PIPELINE_PYTHON_KILL_AFTER_MS', raw, 'a whole number of milliseconds from 0 to 600000');
  return value;
}

/** The interpreter in effect: `PIPELINE_PYTHON`, else the configured one. */
export function interpreterFrom(env: Readonly<Record<string, string | undefined>>, configured: string): string {
  return env.PIPELINE_PYTHON || configured;
}

type Issue = z.core.$ZodIssue;

/**
 * The path and message of a configuration issue, said so the user can act: an unknown key is
 * named in the path with the keys accepted there; a service entry that fits neither form says
 * what is wrong in the form it was written in (an object: its field).
 */
function explain(issue: Issue): { path: readonly PropertyKey[]; message: string } {
  if (issue.code === 'unrecognized_keys') {
    const [key] = issue.keys;
    const accepted =
      issue.path.length === 0
        ? 'services, interpreter, cwd, pythonPath, killAfterMs'
        : 'entry, payloadSchema, examples';
    return { path: [...issue.path, key!], message: `is not an option here (accepted: ${accepted})` };
  }
  if (issue.code === 'invalid_union') {
    // the branch that got furthest (an object with a bad field) says more than "Invalid input"
    const deepest = issue.errors
      .map((branch) => branch[0])
      .filter((i): i is Issue => i !== undefined)
      .sort((a, b) => b.path.length - a.path.length)[0];
    if (deepest && deepest.path.length > 0) {
      const inner = explain(deepest);
      return { path: [...issue.path, ...inner.path], message: inner.message };
    }
    return {
      path: issue.path,
      message:
        'must be an entry point "module.path:function" or an object { "entry": "module.path:function", "payloadSchema"?: {...}, "examples"?: [{...}] }',
    };
  }
  return { path: issue.path, message: issue.message };
}
