// The SQLite store loads better-sqlite3's native build by path (from better-sqlite3's own
// build/Release), so a cold start does not load `bindings` to look for it in a dozen places.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tempDir } from '../../../tests/support/temp-dir';

const dist = resolve(__dirname, '../dist/index.js');

describe('the SQLite store in a fresh process', () => {
  it("opens a store without loading bindings, with the native build from better-sqlite3's build/Release", () => {
    const file = join(tempDir('sqlite-native-'), 'runs.db');
    const script = `
      const { SqliteRunStore } = require(${JSON.stringify(dist)});
      new SqliteRunStore(${JSON.stringify(file)});
      const loaded = Object.keys(require.cache);
      process.stdout.write(JSON.stringify({
        bindings: loaded.filter((f) => /node_modules[\\\\/]bindings[\\\\/]/.test(f)),
        native: loaded.filter((f) => f.endsWith('better_sqlite3.node')),
      }));
    `;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const { bindings, native } = JSON.parse(result.stdout) as { bindings: string[]; native: string[] };
    expect(bindings).toEqual([]);
    expect(native).toEqual([
      join(resolve(require.resolve('better-sqlite3/package.json'), '..'), 'build', 'Release', 'better_sqlite3.node'),
    ]);
  });
});
