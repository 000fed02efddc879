import { isAbsolute, resolve } from 'node:path';
import { ConfigError, isPlainRecord, type JsonObject, type z } from '@pipeline-invocation/core';
import { ENTRY_POINT, SERVICE_NAME } from './config-names';
import type * as schema from './config-schema';
import { payloadSchemaFromJsonSchema } from './json-schema';

/** The `pipelineInvocation.python` section as written. */
export type PythonConfig = z.input<typeof schema.PythonConfigSchema>;

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
  // a configuration of the ordinary shape is checked by hand (zod loads only for another one)
  const valid = validPythonConfig(input);
  const parsed = valid ? { success: true as const, data: valid } : configSchema().PythonConfigSchema.safeParse(input);
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

/** The zod schemas, loaded for an unusual configuration only. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loading on first use is the point
const configSchema = (): typeof schema => require('./config-schema');

const CONFIG_KEYS = ['services', 'interpreter', 'cwd', 'pythonPath', 'killAfterMs'];
const SERVICE_KEYS = ['entry', 'payloadSchema', 'examples'];

const onlyKeys = (value: Record<string, unknown>, allowed: readonly string[]) =>
  Object.keys(value).every((k) => allowed.includes(k));
const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const entryPoint = (value: unknown): value is string => typeof value === 'string' && ENTRY_POINT.test(value);

/**
 * PythonConfigSchema's output for `input` when it is a configuration of the ordinary shape;
 * undefined for anything else, which the schema then decides (tests/hand-checks.test.ts
 * compares the two on random configurations).
 */
export function validPythonConfig(input: unknown): z.output<typeof schema.PythonConfigSchema> | undefined {
  if (!isPlainRecord(input) || !onlyKeys(input, CONFIG_KEYS)) return undefined;
  const { services, interpreter, cwd, pythonPath, killAfterMs } = input;
  if (!isPlainRecord(services) || Object.keys(services).length === 0) return undefined;
  for (const [name, spec] of Object.entries(services)) {
    if (!SERVICE_NAME.test(name)) return undefined;
    if (typeof spec === 'string') {
      if (!entryPoint(spec)) return undefined;
      continue;
    }
    if (!isPlainRecord(spec) || !onlyKeys(spec, SERVICE_KEYS) || !entryPoint(spec.entry)) return undefined;
    if (spec.payloadSchema !== undefined && !isPlainRecord(spec.payloadSchema)) return undefined;
    if (spec.examples !== undefined && !(Array.isArray(spec.examples) && spec.examples.every(isPlainRecord)))
      return undefined;
  }
  if (interpreter !== undefined && !nonEmptyString(interpreter)) return undefined;
  if (cwd !== undefined && !nonEmptyString(cwd)) return undefined;
  if (pythonPath !== undefined && !(Array.isArray(pythonPath) && pythonPath.every(nonEmptyString))) return undefined;
  if (
    killAfterMs !== undefined &&
    !(typeof killAfterMs === 'number' && Number.isInteger(killAfterMs) && killAfterMs >= 0 && killAfterMs <= 600_000)
  )
    return undefined;
  return input as z.output<typeof schema.PythonConfigSchema>;
}
