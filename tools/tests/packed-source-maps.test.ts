import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../../tests/support/temp-dir';

// scripts/check-packed-maps.mjs: every source map a package publishes names only files its
// tarball holds (npm pack --dry-run lists them).

const WORKSPACE = resolve(__dirname, '../..');
const script = join(WORKSPACE, 'scripts/check-packed-maps.mjs');

function check(...dirs: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [script, ...dirs], { encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A package whose dist has a map naming ../src/index.ts, publishing `files`. */
function fixture(files: string[]): string {
  const dir = tempDir('packed-maps-');
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture-pkg', version: '1.0.0', files }));
  writeFileSync(join(dir, 'src/index.ts'), 'export const x = 1;\n');
  writeFileSync(join(dir, 'dist/index.js'), 'exports.x = 1;\n//# sourceMappingURL=index.js.map\n');
  writeFileSync(
    join(dir, 'dist/index.js.map'),
    JSON.stringify({
      version: 3,
      file: 'index.js',
      sources: ['../src/index.ts'],
      sourcesContent: ['export const x = 1;\n'],
      mappings: 'AAAa',
    }),
  );
  return dir;
}

describe('check-packed-maps', () => {
  it("every public package of this repository: each map's sources are in its tarball", () => {
    const result = check();
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(
      /^\d+ package\(s\), \d+ source map\(s\): every file they name is in the tarball\.\n$/,
    );
  }, 120_000);

  it('refuses a map naming a source the tarball lacks, even with its content inlined, and a comment naming a missing map', () => {
    const lacking = fixture(['dist']);
    const noMaps = fixture(['dist/index.js']);
    const whole = fixture(['dist', 'src']);
    const result = check(lacking, noMaps);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'fixture-pkg: dist/index.js.map names ../src/index.ts (src/index.ts), which is not in the tarball',
    );
    expect(result.stderr).toContain('fixture-pkg: dist/index.js points at index.js.map, which is not in the tarball');
    expect(check(whole).code).toBe(0);
  });
});
