// The dashboard's overview (GET /api/overview: every service's last run, success rates over 24 h
// and 7 days, runs per day, p50/p95, recent durations) with 1,000,000 runs in the SQLite store,
// as a ratio to the same with 1,000 runs, their requests taking turns in batches (target at most 2x). The runs are spread over the last
// 7 days, so every one counts in the aggregates: they come from the store's hourly rollups.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beside, formatMs, measurePair } from './harness.mjs';
import { fillSqlite } from './runs.mjs';

const require = createRequire(import.meta.url);
const { startDashboard } = require('@pipeline-invocation/dashboard');

const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));

/** A store of `count` finished runs of 10 services over the last 7 days (its rollups counted from them). */
async function filled(count) {
  const store = await fillSqlite(join(dir, `runs-${count}.db`), count, {
    spanMs: 7 * 86_400_000 - 60_000,
    durationMs: (i) => 50 + (i % 400),
  });
  return { store, dashboard: await startDashboard({ store, port: 0 }) };
}

const fillStarted = performance.now();
const small = await filled(1000);
const large = await filled(1_000_000);
console.log(
  `\nDashboard overview (filled in ${((performance.now() - fillStarted) / 1000).toFixed(0)} s; 10 services, runs over 7 days)`,
);
const get = (d) => async () => {
  const res = await fetch(`${d.dashboard.url}/api/overview`);
  await res.json();
};
const options = { warmup: 50, samples: 40, batch: 5 };
// batches of the two take turns: a burst of other work on the machine falls on both
const [few, many] = await measurePair(get(small), get(large), options);
const ratio = many / few;
const ok = ratio <= 2;
console.log(`  GET /api/overview, 1,000 runs                     ${formatMs(few).padStart(10)}`);
console.log(
  `  GET /api/overview, 1,000,000 runs                 ${formatMs(many).padStart(10)}   ${ratio.toFixed(2)}x`,
);
console.log(`  -> ${beside(ratio, 2)}x, ${ok ? 'meets' : 'MISSES'} the target of at most 2x`);
for (const d of [small, large]) {
  await d.dashboard.close();
  await d.store.close();
}
rmSync(dir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
