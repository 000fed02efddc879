// Python services (@pipeline-invocation/handler-python). (1) `pipeline invoke` of a no-op Python
// handler as a whole process, against what it cannot do without: starting Python
// (`python3 -c pass`) plus `pipeline invoke` of a no-op TypeScript handler, all measured in the
// same run, interleaved (target: at most 1.2x that sum). (2) In-process invocations per second
// of the no-op Python handler (memory store, no tracker, silent logs) at concurrency 1 and 8:
// reported. Processes get only PATH, PIPELINE_HOME and PIPELINE_CACHE_DIR (the bench's own folders).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, report } from './harness.mjs';
import { cli, noopHostProject, workspace } from './host.mjs';

const require = createRequire(import.meta.url);
const root = noopHostProject('bench-python-');
symlinkSync(
  join(workspace, 'packages/handler-python'),
  join(root, 'node_modules/@pipeline-invocation/handler-python'),
  'dir',
);
mkdirSync(join(root, 'pipelines'));
writeFileSync(join(root, 'pipelines/__init__.py'), '');
writeFileSync(
  join(root, 'pipelines/noop.py'),
  'def lambda_handler(event, context):\n    return {"status_code": 200, "body": "ok"}\n',
);
writeFileSync(
  join(root, 'package.json'),
  JSON.stringify({
    name: 'bench-host',
    dependencies: { 'noop-plugin': '1.0.0', '@pipeline-invocation/handler-python': '0.1.0' },
    pipelineInvocation: { python: { services: { py_noop: 'pipelines.noop:lambda_handler' } } },
  }),
);
const env = {
  PATH: process.env.PATH,
  PIPELINE_HOME: join(root, '.pipeline'),
  PIPELINE_CACHE_DIR: join(root, '.cache'),
  LOG_LEVEL: 'warn',
};

function time(command, args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

const invokePy = [cli, 'invoke', 'py_noop', '--json'];
const invokeTs = [cli, 'invoke', 'noop', '--json'];
for (const args of [invokePy, invokeTs]) {
  const record = JSON.parse(time(process.execPath, args).stdout);
  if (record.status !== 'SUCCEEDED') throw new Error(`${args.join(' ')} ended ${record.status}: ${record.body}`);
}

const rounds = 11;
const times = { pass: [], ts: [], py: [] };
for (let i = 0; i < rounds + 2; i++) {
  // interleaved so machine noise hits all alike; the first 2 rounds warm the file cache
  const p = time('python3', ['-c', 'pass']).ms;
  const t = time(process.execPath, invokeTs).ms;
  const y = time(process.execPath, invokePy).ms;
  if (i >= 2) {
    times.pass.push(p);
    times.ts.push(t);
    times.py.push(y);
  }
}
const sum = median(times.pass) + median(times.ts);
console.log(
  `\n  python3 -c pass ${median(times.pass).toFixed(1)} ms, pipeline invoke noop (TypeScript) ${median(times.ts).toFixed(1)} ms`,
);
const perRound = times.py.map((py, i) => py / (times.pass[i] + times.ts[i])).sort((a, b) => a - b);
console.log(`  per round: ${perRound.map((r) => `${r.toFixed(2)}x`).join(' ')}`);
const coldOk = report(
  `pipeline invoke of a no-op Python handler as a process (median of ${rounds})`,
  [
    { name: 'python3 -c pass + pipeline invoke noop (TS)', ms: sum },
    { name: 'pipeline invoke py_noop', ms: median(times.py) },
  ],
  { target: 1.2 },
);

// (2) in process
const { createInvoker } = require(join(workspace, 'packages/invoker'));
const { MemoryRunStore } = require(join(workspace, 'packages/storage'));
const { silentLogger } = require(join(workspace, 'packages/observability'));
const { pythonPlugin } = require(join(workspace, 'packages/handler-python'));
const invoker = createInvoker({
  discover: false,
  outbox: false,
  tracker: false,
  logger: silentLogger,
  env: {},
  store: new MemoryRunStore(),
  plugins: [pythonPlugin({ services: { py_noop: 'pipelines.noop:lambda_handler' } }, { dir: root })],
});
async function perSecond(concurrency, runs) {
  let next = 0;
  const worker = async () => {
    while (next++ < runs) {
      const record = await invoker.invokePipelineHandler('py_noop', {});
      if (record.status !== 'SUCCEEDED') throw new Error(`py_noop ended ${record.status}: ${record.body}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker)); // warm-up pass
  next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (runs / (performance.now() - start)) * 1000;
}
console.log('\nin-process invocations of a no-op Python handler (memory store, no tracker)');
for (const [concurrency, runs] of [
  [1, 20],
  [8, 48],
]) {
  const rate = await perSecond(concurrency, runs);
  console.log(
    `  concurrency ${concurrency}: ${rate.toFixed(1)} invocations/s (${(1000 / rate).toFixed(1)} ms each, ${runs} runs)`,
  );
}
await invoker.close();
rmSync(root, { recursive: true, force: true });
process.exit(coldOk ? 0 : 1);
