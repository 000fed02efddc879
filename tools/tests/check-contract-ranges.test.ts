import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from '../../tests/support/temp-dir';

const WORKSPACE = resolve(__dirname, '../..');
const script = join(WORKSPACE, 'scripts/check-contract-ranges.mjs');

function workspace(handlerManifest: Record<string, unknown>): string {
  const dir = tempDir('ranges-');
  mkdirSync(join(dir, 'packages/core/src'), { recursive: true });
  cpSync(join(WORKSPACE, 'packages/core/src/version.ts'), join(dir, 'packages/core/src/version.ts'));
  cpSync(join(WORKSPACE, 'packages/core/package.json'), join(dir, 'packages/core/package.json'));
  mkdirSync(join(dir, 'packages/handler-x'));
  writeFileSync(
    join(dir, 'packages/handler-x/package.json'),
    JSON.stringify({ name: 'handler-x', ...handlerManifest }),
  );
  return dir;
}

function check(dir: string): { code: number; output: string } {
  try {
    return { code: 0, output: execFileSync(process.execPath, [script, dir], { encoding: 'utf8', stdio: 'pipe' }) };
  } catch (error) {
    const e = error as { status: number; stderr: string };
    return { code: e.status, output: e.stderr };
  }
}

describe('the release check of handler ranges', () => {
  it('passes the real workspace', () => {
    expect(check(WORKSPACE)).toEqual({
      code: 0,
      output: 'check-contract-ranges: every handler accepts the current core\n',
    });
  });

  it('names a handler whose contract range or peer range excludes the current core', () => {
    const dir = workspace({
      pipelineInvocation: { contract: '^2.0.0', services: ['x'] },
      peerDependencies: { '@pipeline-invocation/core': '^9.0.0' },
    });
    const { code, output } = check(dir);
    expect(code).toBe(1);
    expect(output).toContain('handler-x: its contract range "^2.0.0" does not accept core\'s CONTRACT_VERSION 1.0.0');
    expect(output).toContain(
      'handler-x: its peer range "^9.0.0" on @pipeline-invocation/core does not accept core\'s version 0.1.0',
    );
  });
});
