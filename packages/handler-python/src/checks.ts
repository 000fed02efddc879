import type { Env } from '@pipeline-invocation/core';
import { DEFAULT_KILL_AFTER_MS, interpreterFrom, killAfterMsFrom, type ResolvedPythonConfig } from './config';
import { RUNNER_PATH, pythonPathFor, runPythonProcess } from './process';
import { silentLogger } from './silent-logger';
import { importFix } from './import-fix';

/** The outcome of checking one configured service (or the interpreter). */
export interface PythonServiceCheck {
  /** `python services` for the interpreter itself, else the service name. */
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Options of {@link checkPythonServices}. */
export interface PythonCheckOptions {
  /**
   * `locate` (default, what `pipeline doctor` does): find each entry point's module with
   * `importlib.util.find_spec`, which runs no handler and does not execute the module itself.
   * `import`: import each module and check the function is callable (the conformance kit).
   */
  mode?: 'locate' | 'import';
  /** Give up after this long (ms; default 20 000). */
  timeoutMs?: number;
}

const LOCATE = `
import importlib.util, json, sys
ok = sys.version_info >= (3, 9)
print(json.dumps({"python": sys.version.split()[0], "ok": ok}))
for entry in sys.argv[1:]:
    module = entry.split(":")[0]
    try:
        spec = importlib.util.find_spec(module)
        report = {"entry": entry, "importable": spec is not None, "origin": spec and spec.origin}
        if spec is None:
            report["error"] = "ModuleNotFoundError: No module named %r" % module
    except BaseException as error:
        report = {"entry": entry, "importable": False, "error": "%s: %s" % (type(error).__name__, error)}
    print(json.dumps(report))
`;

/**
 * Check the configured Python services without running any handler: the interpreter starts and
 * is 3.9 or later, and each entry point's module is found (or, with `mode: 'import'`, imports
 * and its function is callable). Each failure names the service, its entry point and the fix.
 */
export async function checkPythonServices(
  config: ResolvedPythonConfig,
  env: Env = process.env,
  options: PythonCheckOptions = {},
): Promise<PythonServiceCheck[]> {
  const escalation = escalationProblem(config, env);
  if (escalation) return [{ name: 'python services', ok: false, detail: escalation }];
  const interpreter = interpreterFrom(env, config.interpreter);
  const entries = config.services.map((s) => s.entry);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 20_000);
  const outcome = await runPythonProcess({
    interpreter,
    args: options.mode === 'import' ? ['-u', RUNNER_PATH, '--check', ...entries] : ['-c', LOCATE, ...entries],
    cwd: config.cwd,
    env: {
      ...process.env,
      ...env,
      PYTHONPATH: pythonPathFor(config.pythonPath, config.cwd, env.PYTHONPATH ?? process.env.PYTHONPATH),
    },
    killAfterMs: 0,
    signal: controller.signal,
    logger: silentLogger,
    captureStdout: true,
  }).finally(() => clearTimeout(timer));
  const head = 'python services';
  if (outcome.spawnError)
    return [
      {
        name: head,
        ok: false,
        detail:
          outcome.spawnError.code === 'ENOENT'
            ? `the interpreter "${interpreter}" was not found (services ${config.services.map((s) => s.service).join(', ')} cannot run): install Python 3.9 or later, or set PIPELINE_PYTHON (or "pipelineInvocation.python.interpreter") to its path`
            : `the interpreter "${interpreter}" could not start: ${outcome.spawnError.message}`,
      },
    ];
  const lines = outcome.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const checks: PythonServiceCheck[] = [];
  if (options.mode !== 'import') {
    const version = lines.shift();
    if (!version)
      return [
        {
          name: head,
          ok: false,
          detail:
            `"${interpreter}" did not answer as Python does (exit code ${String(outcome.exitCode)}): ` +
            'set PIPELINE_PYTHON (or "pipelineInvocation.python.interpreter") to a Python 3.9 or later interpreter',
        },
      ];
    checks.push({
      name: head,
      ok: version.ok === true,
      detail:
        version.ok === true
          ? `${interpreter} (Python ${String(version.python)}), working folder ${config.cwd}`
          : `${interpreter} is Python ${String(version.python)}; 3.9 or later is needed: set PIPELINE_PYTHON to a newer one`,
    });
  }
  config.services.forEach((spec, i) => {
    const report = lines[i];
    const error = String(report?.error ?? '');
    const [type = '', message = ''] = error.split(/: (.*)/s);
    const fix = importFix(
      spec.entry,
      type,
      message,
      `${interpreter} from ${[...config.pythonPath, config.cwd].join(', ')}`,
    );
    if (!report)
      checks.push({ name: spec.service, ok: false, detail: `${spec.entry}: not checked (the check did not finish)` });
    else if (report.importable !== true)
      checks.push({ name: spec.service, ok: false, detail: `${spec.entry}: ${error}: ${fix}` });
    else if (options.mode === 'import' && report.callable !== true)
      checks.push({
        name: spec.service,
        ok: false,
        detail: `${spec.entry}: found, but it is not callable: point it at a function handler(event, context)`,
      });
    else
      checks.push({
        name: spec.service,
        ok: true,
        detail: `${spec.entry} ${options.mode === 'import' ? 'imports and is callable' : `found (${String(report.origin)})`}`,
      });
  });
  return checks;
}

/** The executor's default cancel grace (ms), as `PIPELINE_CANCEL_GRACE_MS` documents it. */
const DEFAULT_CANCEL_GRACE_MS = 10_000;

/**
 * What is wrong with the time from a cancellation to SIGKILL, if anything: an invalid
 * `PIPELINE_PYTHON_KILL_AFTER_MS` (which would fail every run), or a time the executor's cancel
 * grace does not wait for (the run would be recorded before its process ended, without saying how).
 */
function escalationProblem(config: ResolvedPythonConfig, env: Env): string | undefined {
  let killAfterMs: number;
  try {
    killAfterMs = killAfterMsFrom(env, config.killAfterMs);
  } catch (error) {
    return `${(error as Error).message} (every run of these services would fail)`;
  }
  const rawGrace = Number(env.PIPELINE_CANCEL_GRACE_MS);
  const graceMs = Number.isInteger(rawGrace) && rawGrace > 0 ? rawGrace : DEFAULT_CANCEL_GRACE_MS;
  if (killAfterMs < graceMs) return undefined;
  const from = env.PIPELINE_PYTHON_KILL_AFTER_MS
    ? 'PIPELINE_PYTHON_KILL_AFTER_MS'
    : config.killAfterMs !== undefined
      ? '"pipelineInvocation.python.killAfterMs"'
      : `the default ${DEFAULT_KILL_AFTER_MS} ms`;
  return (
    `a cancelled or timed-out process is killed ${killAfterMs} ms after the abort (${from}), but the run is recorded ` +
    `after the cancel grace of ${graceMs} ms (PIPELINE_CANCEL_GRACE_MS): its record would not say how the process ended. ` +
    'Make killAfterMs smaller than PIPELINE_CANCEL_GRACE_MS'
  );
}
