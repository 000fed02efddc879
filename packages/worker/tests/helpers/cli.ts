import { startCli, type CliResult } from '../../../invoker/tests/helpers/host-project';

/** A finished `pipeline` process. */
export interface CliRun extends CliResult {
  /** Its stdout as JSON; when that is not JSON, an error saying how the process ended. */
  json(): unknown;
}

/** How a `pipeline` process ended: its command, exit code, signal, stdout and stderr. */
export function describeRun(args: string[], result: CliResult): string {
  return [
    `\`pipeline ${args.join(' ')}\` ended with exit code ${result.code}, signal ${result.signal ?? 'none'}`,
    `stdout: ${JSON.stringify(result.stdout)}`,
    `stderr: ${result.stderr ? result.stderr.trimEnd() : '(empty)'}`,
  ].join('\n');
}

/**
 * Run the built `pipeline` CLI in `cwd` and wait for it to end, at most `timeoutMs` (default 30 s,
 * within jest's 60 s): a process still running then is killed, and the call fails saying so, with
 * what the process printed until then.
 */
export async function runPipeline(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { child, result } = startCli(args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  try {
    const ended = await result;
    if (timedOut) throw new Error(`still running after ${timeoutMs} ms, so killed:\n${describeRun(args, ended)}`);
    return {
      ...ended,
      json() {
        try {
          return JSON.parse(ended.stdout);
        } catch (error) {
          throw new Error(`stdout is not JSON (${(error as Error).message}):\n${describeRun(args, ended)}`, {
            cause: error,
          });
        }
      },
    };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
