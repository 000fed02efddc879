import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../../tests/support/temp-dir';

/** How a script run as its own Node process ended. */
export interface ScriptResult {
  /** The exit code, or null when it was killed (it did not end by itself). */
  readonly code: number | null;
  /** True when the script was still running at `killAfterMs` and had to be killed. */
  readonly killed: boolean;
  /** Milliseconds from the script's `{"done":true}` line to its exit, as the parent saw them. */
  readonly msAfterDone: number | undefined;
  /** Every JSON line the script wrote on stdout. */
  readonly lines: Record<string, unknown>[];
  readonly stderr: string;
}

const REGISTER = require.resolve('@swc-node/register');
const FROM_SOURCE = join(__dirname, 'from-source.cjs');

/**
 * Run `source` (CommonJS) as a plain Node process, the way a user's script runs: workspace
 * packages resolve to their TypeScript sources (compiled by @swc-node/register), nothing else is
 * preloaded. The script says when its own work is over by printing `{"done":true}`; the result
 * says how long the process then took to exit. Asynchronous, so a loopback server in this
 * process keeps answering while the script runs.
 */
export function runScript(
  source: string,
  env: Record<string, string>,
  { killAfterMs = 40_000, project }: { killAfterMs?: number; project: string },
): Promise<ScriptResult> {
  const dir = tempDir('script-');
  const file = join(dir, 'script.cjs');
  writeFileSync(file, source);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REGISTER, '-r', FROM_SOURCE, file], {
      cwd: dir,
      // TMPDIR: the test run's own temp folder (scripts/test-tmpdir.cjs), where the script's temp files go too
      env: {
        PATH: process.env.PATH ?? '',
        TMPDIR: process.env.TMPDIR,
        SWC_NODE_PROJECT: project,
        PIPELINE_HOME: dir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let doneAtMs: number | undefined;
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (doneAtMs === undefined && stdout.includes('{"done":true}')) doneAtMs = performance.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const cap = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      const exitedAtMs = performance.now();
      clearTimeout(cap);
      resolve({
        code: killed ? null : code,
        killed,
        msAfterDone: doneAtMs === undefined ? undefined : exitedAtMs - doneAtMs,
        lines: stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>),
        stderr,
      });
    });
  });
}
