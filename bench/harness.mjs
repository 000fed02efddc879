// A tiny benchmark harness: each case runs many times after a warm-up; we print the median
// per-operation time and its ratio to a baseline measured in the same run, so the figures
// compare like with like on whatever machine runs them.
import { performance } from 'node:perf_hooks';

/**
 * Median time per operation of `fn` (ms), over `samples` samples of `batch` calls each.
 * `fn` may be async.
 */
export async function measure(fn, { warmup = 200, samples = 30, batch = 100 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const perOp = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    perOp.push((performance.now() - start) / batch);
  }
  return median(perOp);
}

/** Median of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Format a duration in ms with a sensible unit. */
export function formatMs(ms) {
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${(ms * 1e3).toFixed(2)} µs`;
  return `${ms.toFixed(2)} ms`;
}

/**
 * Print one bench's figures: `rows` is [{ name, ms }], the first row being the baseline.
 * `target` (optional) is the highest acceptable ratio for the last row.
 */
export function report(title, rows, { target } = {}) {
  const [baseline] = rows;
  console.log(`\n${title}`);
  for (const row of rows) {
    const ratio = row.ms / baseline.ms;
    console.log(`  ${row.name.padEnd(48)} ${formatMs(row.ms).padStart(12)}   ${ratio.toFixed(2)}x`);
  }
  if (target !== undefined) {
    const ratio = rows.at(-1).ms / baseline.ms;
    const verdict = ratio <= target ? 'meets' : 'MISSES';
    console.log(`  -> ${ratio.toFixed(2)}x, ${verdict} the target of at most ${target}x`);
    return ratio <= target;
  }
  return true;
}

/**
 * Measure several cases fairly: after a shared warm-up, the cases take turns for `rounds`
 * rounds (so drift, GC and JIT state hit each alike) and each gets the median of its rounds.
 * `cases` is [{ name, fn }]; returns [{ name, ms }] in the same order.
 */
export async function compare(cases, { rounds = 9, warmup = 500, samples = 5, batch = 200 } = {}) {
  for (const c of cases) for (let i = 0; i < warmup; i++) await c.fn();
  const perCase = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) perCase[i].push(await measure(c.fn, { warmup: 0, samples, batch }));
  }
  return cases.map((c, i) => ({ name: c.name, ms: median(perCase[i]) }));
}
