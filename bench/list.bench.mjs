// Wall time of `pipeline list` in a project with 50 installed plugin packages, as a ratio to
// `node -e 0` measured in the same run (target at most 1.5x).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, report } from './harness.mjs';

const workspace = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(workspace, 'packages/invoker/bin/pipeline.js');
const root = mkdtempSync(join(tmpdir(), 'bench-list-'));
const deps = {};
for (let i = 0; i < 50; i++) {
  const name = `bench-plugin-${i}`;
  const dir = join(root, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '1.0.0',
      main: 'index.js',
      pipelineInvocation: { contract: '^1.0.0', services: [`service_${i}`] },
    }),
  );
  writeFileSync(join(dir, 'index.js'), 'throw new Error("plugin code must not load on pipeline list")');
  deps[name] = '1.0.0';
}
mkdirSync(join(root, 'node_modules/@pipeline-invocation'), { recursive: true });
symlinkSync(join(workspace, 'packages/invoker'), join(root, 'node_modules/@pipeline-invocation/invoker'), 'dir');
writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'bench-host', dependencies: deps }));

function time(args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

const listed = time([cli, 'list']).stdout.trim().split('\n').length - 1;
if (listed !== 50) throw new Error(`pipeline list showed ${listed} services, expected 50`);
const runs = 25;
const nodeTimes = [];
const listTimes = [];
for (let i = 0; i < runs + 3; i++) {
  // Interleave the two so machine noise hits both alike; the first 3 rounds warm the file cache.
  const n = time(['-e', '0']).ms;
  const l = time([cli, 'list']).ms;
  if (i >= 3) {
    nodeTimes.push(n);
    listTimes.push(l);
  }
}
rmSync(root, { recursive: true, force: true });
const ok = report(
  `pipeline list with 50 installed plugins (median of ${runs} runs)`,
  [
    { name: 'node -e 0', ms: median(nodeTimes) },
    { name: 'pipeline list', ms: median(listTimes) },
  ],
  { target: 1.5 },
);
process.exit(ok ? 0 : 1);
