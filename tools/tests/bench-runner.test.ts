import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const WORKSPACE = resolve(__dirname, '../..');
const runner = join(WORKSPACE, 'bench/run.mjs');
const benches = readdirSync(join(WORKSPACE, 'bench'))
  .filter((f) => f.endsWith('.bench.mjs'))
  .map((f) => f.slice(0, -'.bench.mjs'.length));

function run(...args: string[]) {
  // PIPELINE_BENCH_NODES names a version no machine has: were the runner to get as far as
  // switching Node, the run would fail loudly instead of fetching a Node build
  return spawnSync(process.execPath, [runner, ...args], {
    encoding: 'utf8',
    env: { ...process.env, PIPELINE_BENCH_NODES: '1' },
  });
}

describe('npm run bench (bench/run.mjs)', () => {
  it('--help prints its usage and every bench by name, and runs none', () => {
    const result = run('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: node bench/run.mjs [name ...]');
    expect(benches.length).toBeGreaterThan(5);
    for (const name of benches) expect(result.stdout).toContain(name);
    expect(result.stdout).not.toContain('======== Node');
  });

  it('refuses a name that matches no bench (a typo would otherwise run nothing and pass), naming it and the benches', () => {
    const result = run('cold-start', 'cold-strat');
    expect(result.status).toBe(2);
    expect(result.stdout).toContain('no bench is named like "cold-strat"');
    expect(result.stdout).not.toContain('"cold-start"');
    expect(result.stdout).toContain('cold-start, dashboard');
    expect(result.stdout).not.toContain('======== Node');
  });
});
