// Cold start: wall time of `pipeline invoke` of a no-op handler (SQLite store, W&B off) as a whole
// process, as a ratio to `node -e 0` measured in the same run (target at most 2.5x); and the
// Lambda entry's cold import (`require('@pipeline-invocation/worker/lambda')`) the same way
// (target at most 2x). Both start from their one-file bundles (scripts/bundle-start.mjs).
// - `pipeline invoke` is judged with the code cache its earlier starts wrote (the first,
//   uncounted, rounds), as every start of a user's after the first; its first start after an
//   install, a build or a Node upgrade (an empty cache folder) is reported beside it.
// - The Lambda import is judged as a new Lambda execution environment makes it: the function's
//   packages installed as npm installs them (copies of what `npm pack` publishes: no build info,
//   as in a deployment package), Lambda's environment (AWS_LAMBDA_FUNCTION_NAME, ...: the loader
//   then keeps no code cache, which a new environment's empty /tmp never has), once. The same import
//   with a code cache (a machine that keeps the cache folder) is reported beside it.
// Each process also counts the modules it loaded from their own files (the bundle's are not),
// printed beside its time. Processes get only PATH, PIPELINE_HOME and PIPELINE_CACHE_DIR (a folder
// of the bench's own, which its first rounds fill; a fresh one for first starts), or Lambda's
// variables: no NODE_EXTRA_CA_CERTS, and nothing written to the user's ~/.cache.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, report } from './harness.mjs';
import { cli, noopHostProject } from './host.mjs';

const root = noopHostProject('bench-cold-');
/** The Lambda function's folder: the same project, its packages installed from their packed files. */
const lambdaRoot = noopHostProject('bench-cold-lambda-', { deployed: true });
// default logging (info, JSON lines on stderr): what a user's run does
const env = {
  PATH: process.env.PATH,
  PIPELINE_HOME: join(root, '.pipeline'),
  PIPELINE_CACHE_DIR: join(root, '.cache'),
};
/** What AWS Lambda sets (with PATH), as the Node.js 22 runtime does; no HOME, no cache folder. */
const lambdaEnv = {
  PATH: process.env.PATH,
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  LAMBDA_TASK_ROOT: lambdaRoot,
  PIPELINE_HOME: join(lambdaRoot, '.pipeline'),
};
// counts the CommonJS modules a process loaded, on stderr as it exits
const counter = join(root, 'count-modules.cjs');
writeFileSync(
  counter,
  "process.on('exit', () => process.stderr.write(`\\nmodules=${Object.keys(require.cache).length}\\n`));\n",
);

/** A fresh, empty cache folder: a first start. */
let firsts = 0;
const emptyCache = () => mkdtempSync(join(root, `cache-${firsts++}-`));

function time(args, { count = false, cacheDir, lambda = false } = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, count ? ['-r', counter, ...args] : args, {
    cwd: lambda ? lambdaRoot : root,
    env: lambda ? lambdaEnv : cacheDir ? { ...env, PIPELINE_CACHE_DIR: cacheDir } : env,
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const modules = /modules=(\d+)/.exec(result.stderr)?.[1];
  return { ms, stdout: result.stdout, modules: modules && Number(modules) };
}

const invoke = [cli, 'invoke', 'noop', '--json'];
const lambda = ['-e', "require('@pipeline-invocation/worker/lambda')"];
const record = JSON.parse(time(invoke).stdout);
if (record.status !== 'SUCCEEDED') throw new Error(`pipeline invoke ended ${record.status}`);
const modules = {
  invoke: time(invoke, { count: true }).modules,
  lambda: time(lambda, { count: true, lambda: true }).modules,
};
// the reported import with a code cache: the same installed files, outside Lambda's environment
const lambdaCache = { ...env, PIPELINE_CACHE_DIR: join(lambdaRoot, '.cache') };
const timeCachedLambda = () => {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, lambda, { cwd: lambdaRoot, env: lambdaCache, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the Lambda import exited ${result.status}: ${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
};

const rounds = 15;
const times = { node: [], invoke: [], lambda: [], invokeFirst: [], lambdaFirst: [] };
for (let i = 0; i < rounds + 2; i++) {
  // Interleaved so machine noise hits all alike; the first 2 rounds warm the file cache.
  const n = time(['-e', '0']).ms;
  const v = time(invoke).ms;
  const l = timeCachedLambda();
  const vFirst = time(invoke, { cacheDir: emptyCache() }).ms;
  const lFirst = time(lambda, { lambda: true }).ms;
  if (i >= 2) {
    times.node.push(n);
    times.invoke.push(v);
    times.lambda.push(l);
    times.invokeFirst.push(vFirst);
    times.lambdaFirst.push(lFirst);
  }
}
rmSync(root, { recursive: true, force: true });
rmSync(lambdaRoot, { recursive: true, force: true });
const node = { name: 'node -e 0', ms: median(times.node) };
const lambdaOk = report(
  `Lambda entry's cold import in a new Lambda environment (packages as installed, no code cache), ${modules.lambda} modules from files (median of ${rounds} processes)`,
  [
    node,
    { name: "require('@pipeline-invocation/worker/lambda')", ms: median(times.lambdaFirst) },
    { name: '  (reported) the same import with a code cache', ms: median(times.lambda) },
  ],
  { target: 2, judged: 1 },
);
const invokeOk = report(
  `cold start of pipeline invoke, no-op handler, SQLite store, W&B off, ${modules.invoke} modules from files (median of ${rounds})`,
  [
    node,
    { name: 'pipeline invoke noop', ms: median(times.invoke) },
    { name: '  (reported) its first start, empty cache folder', ms: median(times.invokeFirst) },
  ],
  { target: 2.5, judged: 1 },
);
process.exit(lambdaOk && invokeOk ? 0 : 1);
