import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../tests/support/temp-dir';
import { EXIT } from '../src/cli/exit-codes';

// The entry point's backstop, in real `pipeline` processes. No command of ours stops without an
// answer (that would be a bug), so the bug is simulated: a preload puts a CLI whose main() never
// settles and holds nothing in the place of dist/cli/main.js (what `pipeline list` and `schedule`
// load), and the real bin/pipeline.js runs it.
const bin = join(__dirname, '..', 'bin', 'pipeline.js');
const mainFile = require.resolve('../dist/cli/main.js');

function pipeline(args: string[], main: string) {
  const preload = join(tempDir('answer-guard-'), 'main.cjs');
  writeFileSync(
    preload,
    `const m = new module.constructor(${JSON.stringify(mainFile)});
     m.filename = ${JSON.stringify(mainFile)}; m.loaded = true; m.exports = { main: ${main} };
     require.cache[${JSON.stringify(mainFile)}] = m;`,
  );
  return spawnSync(process.execPath, ['--require', preload, bin, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('a command that stops without an answer', () => {
  it('fails with exit code 70 and says so on stderr, and on stdout as JSON with --json', () => {
    const result = pipeline(['schedule', 'list', '--json'], '() => new Promise(() => {})');
    expect(result.status).toBe(EXIT.NO_ANSWER);
    expect(result.stderr).toContain('pipeline schedule: the command stopped without an answer');
    expect(JSON.parse(result.stdout)).toEqual({
      error: { name: 'NoAnswer', message: expect.stringContaining('please report it'), exit_code: 70 },
    });
  });

  it('prints no JSON without --json', () => {
    const result = pipeline(['list'], '() => new Promise(() => {})');
    expect(result.status).toBe(70);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('pipeline list: the command stopped without an answer');
  });

  it('leaves a command that answered alone: its exit code stands, nothing more is printed', () => {
    const result = pipeline(
      ['list', '--json'],
      `() => new Promise((done) => setTimeout(() => { process.stdout.write('[]'); done(3); }, 10))`,
    );
    expect(result.status).toBe(3);
    expect(result.stdout).toBe('[]');
    expect(result.stderr).toBe('');
  });

  it('is listed by `pipeline --help` with the other exit codes', () => {
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/ 70 {2}stopped without an answer/);
  });
});
