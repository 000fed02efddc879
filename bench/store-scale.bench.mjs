// The SQLite run store at scale: latest(service), the first page of list (all runs, by service,
// by status) and begin+finish, with 1,000,000 runs already in the store, each as a ratio to the
// same with 1,000 runs, measured in the same run, their batches taking turns (target at most 1.5x
// each).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { beside, formatMs, measurePair } from './harness.mjs';
import { fillSqlite, record } from './runs.mjs';

const { RunLifecycle } = createRequire(import.meta.url)('@pipeline-invocation/core');
const dir = mkdtempSync(join(tmpdir(), 'bench-store-scale-'));

/** A store holding `count` finished runs over 10 services, spread over the last 90 days. */
async function filled(count) {
  const file = join(dir, `runs-${count}.db`);
  return { file, store: await fillSqlite(file, count, { spanMs: 90 * 86_400_000, failEvery: 50 }) };
}

const cases = {
  'latest(service)': (store) => () => store.latest('svc_3'),
  'list: first page of all runs': (store) => () => store.list({ limit: 20 }),
  'list: first page of a service': (store) => () => store.list({ service: 'svc_3', limit: 20 }),
  'list: first page of FAILED runs': (store) => () => store.list({ status: 'FAILED', limit: 20 }),
  'list: first page of SUCCEEDED runs': (store) => () => store.list({ status: 'SUCCEEDED', limit: 20 }),
  'begin + finish of a new run': (store) => {
    const lifecycle = new RunLifecycle(store);
    return async () => {
      const run = record({ service: 'svc_3', status: 'RUNNING' });
      await lifecycle.begin(run);
      await lifecycle.finish(record({ service: 'svc_3', runId: run.run_id, durationMs: 1 }));
    };
  },
};

const fillStarted = performance.now();
const small = await filled(1000);
const large = await filled(1_000_000);
console.log(
  `\nSQLite run store at scale (filled in ${((performance.now() - fillStarted) / 1000).toFixed(0)} s; ` +
    `1,000,000 runs: ${(statSync(large.file).size / 1024 / 1024).toFixed(0)} MB)`,
);
let ok = true;
for (const [name, make] of Object.entries(cases)) {
  const options = { warmup: 200, samples: 25, batch: 40 };
  // batches of the two stores take turns: a burst of other work on the machine falls on both
  const [few, many] = await measurePair(make(small.store), make(large.store), options);
  const ratio = many / few;
  const passed = ratio <= 1.5;
  ok &&= passed;
  console.log(
    `  ${name.padEnd(36)} ${formatMs(few).padStart(10)} (1k)  ${formatMs(many).padStart(10)} (1M)   ${beside(ratio, 1.5)}x  ${passed ? 'meets' : 'MISSES'} <= 1.5x`,
  );
}
await small.store.close();
await large.store.close();
rmSync(dir, { recursive: true, force: true });
console.log(`  -> ${ok ? 'meets' : 'MISSES'} the target (each at most 1.5x)`);
process.exit(ok ? 0 : 1);
