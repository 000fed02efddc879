import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { EXIT } from '../src/cli/exit-codes';

// The entry point's backstop, in real Node processes: a command whose promise never settles
// while nothing is left to run must not end as a silent success.
const guard = join(__dirname, '..', 'bin', 'answer-guard.js');

function node(script: string) {
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
}

describe('a command that ends without an answer', () => {
  it('fails with exit code 70, says so on stderr, and as JSON on stdout with --json', () => {
    const result = node(
      `require(${JSON.stringify(guard)}).guardAnswer(['schedule', 'list', '--json']); new Promise(() => {});`,
    );
    expect(result.status).toBe(EXIT.NO_ANSWER);
    expect(result.stderr).toContain('pipeline schedule: the command stopped without an answer');
    expect(JSON.parse(result.stdout)).toEqual({
      error: { name: 'NoAnswer', message: expect.stringContaining('please report it'), exit_code: 70 },
    });
  });

  it('prints no JSON without --json', () => {
    const result = node(`require(${JSON.stringify(guard)}).guardAnswer(['runs']); new Promise(() => {});`);
    expect(result.status).toBe(70);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('pipeline runs: the command stopped without an answer');
  });

  it('leaves a command that answered alone: its own exit code stands, nothing more is printed', () => {
    const result = node(
      `const answered = require(${JSON.stringify(guard)}).guardAnswer(['list', '--json']);
       setTimeout(() => { process.stdout.write('[]'); process.exitCode = 3; answered(); }, 10);`,
    );
    expect(result.status).toBe(3);
    expect(result.stdout).toBe('[]');
    expect(result.stderr).toBe('');
  });

  it('is listed by `pipeline --help` with the other exit codes', () => {
    const entry = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'pipeline.js'), '--help'], {
      encoding: 'utf8',
    });
    expect(entry.status).toBe(0);
    expect(entry.stdout).toMatch(/ 70 {2}stopped without an answer/);
  });
});
