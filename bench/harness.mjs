// A tiny benchmark harness: each case runs many times after a warm-up; we print the median
// per-operation time and its ratio to a baseline measured in the same run, so the figures
// compare like with like on whatever machine runs them.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * Median time per operation of `fn` (ms), over `samples` samples of `batch` calls each.
 * `fn` may be async.
 */
export async function measure(fn, options) {
  const [ms] = await measureTurns([fn], options);
  return ms;
}

/**
 * {@link measure} of two functions at once, their batches taking turns (a, b, a, b, ...), so a
 * burst of load from other work falls on both rather than on whichever ran at the time: the
 * median time per call of each, in ms.
 */
export function measurePair(a, b, options) {
  return measureTurns([a, b], options);
}

/** The median time per call (ms) of each of `fns`, their warm-up calls and timed batches taking turns. */
async function measureTurns(fns, { warmup = 200, samples = 30, batch = 100 } = {}) {
  for (let i = 0; i < warmup; i++) for (const fn of fns) await fn();
  const perOp = fns.map(() => []);
  for (let s = 0; s < samples; s++) {
    for (const [k, fn] of fns.entries()) {
      const start = performance.now();
      for (let i = 0; i < batch; i++) await fn();
      perOp[k].push((performance.now() - start) / batch);
    }
  }
  return perOp.map(median);
}

/**
 * `value` with `digits` decimals, or more where those would print the target itself (a verdict of
 * "1.05x MISSES the target of at most 1.05x" reads as a contradiction; "1.052x" does not).
 */
export function beside(value, target, digits = 2) {
  let shown = value.toFixed(digits);
  while (shown === target.toFixed(digits) && value !== target && digits < 6) shown = value.toFixed(++digits);
  return shown;
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
 * `target` (optional) is the highest acceptable ratio for row `judged` (default the last row;
 * rows after it are reported only).
 */
export function report(title, rows, { target, judged = rows.length - 1 } = {}) {
  const [baseline] = rows;
  console.log(`\n${title}`);
  for (const row of rows) {
    const ratio = row.ms / baseline.ms;
    console.log(`  ${row.name.padEnd(48)} ${formatMs(row.ms).padStart(12)}   ${ratio.toFixed(2)}x`);
  }
  if (target !== undefined) {
    const ratio = rows[judged].ms / baseline.ms;
    const verdict = ratio <= target ? 'meets' : 'MISSES';
    console.log(`  -> ${beside(ratio, target)}x, ${verdict} the target of at most ${target}x`);
    return ratio <= target;
  }
  return true;
}

/** The argument that starts a script of {@link compareInProcesses} as one case's process. */
const CASE_FLAG = '--case';

/**
 * The case side of {@link compareInProcesses}: in a process started as `node script --case <name>`,
 * measure that case with `measureCase(name)`, print its figure as JSON and exit. Elsewhere it
 * returns at once, and the script goes on to compare its cases.
 */
export async function answerCaseWhenAsked(measureCase) {
  const at = process.argv.indexOf(CASE_FLAG);
  if (at <= 0) return;
  process.stdout.write(JSON.stringify(await measureCase(process.argv[at + 1])));
  process.exit(0);
}

/**
 * Measure cases that run the same code in fresh processes, one case per process, so that
 * one case's JIT and inline-cache state cannot tilt another's (in one process two invocations a
 * few per cent apart measured anywhere from 0.82x to 1.48x of each other). `script` run as
 * `node script --case <name>` must measure that case alone and print its time per operation
 * (ms) as JSON: {@link answerCaseWhenAsked} does that part. The cases take turns, one process each, for `turns` turns; each case gets the
 * median of its turns, and `all` holds every turn's figure.
 * Returns [{ name, ms, all }] in the order of `names`.
 */
export function compareInProcesses(script, names, { turns = 7 } = {}) {
  const all = names.map(() => []);
  for (let turn = 0; turn < turns; turn++) {
    for (const [i, name] of names.entries()) {
      const child = spawnSync(process.execPath, [script, CASE_FLAG, name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (child.status !== 0) throw new Error(`${script} ${CASE_FLAG} ${name} exited ${child.status}`);
      all[i].push(JSON.parse(child.stdout));
    }
  }
  return names.map((name, i) => ({ name, ms: median(all[i]), all: all[i] }));
}

/**
 * The verdict of two cases measured with {@link compareInProcesses}: the ratio of `other` to
 * `base` in each turn (their processes ran one after the other, so a slow spell of the machine
 * hits both), and the median of those ratios against `target` (at most). Prints both; returns
 * whether the target is met.
 */
export function verdictPerTurn(base, other, target) {
  const ratios = other.all.map((ms, turn) => ms / base.all[turn]).sort((a, b) => a - b);
  const ratio = median(ratios);
  const ok = ratio <= target;
  console.log(`  per turn: ${ratios.map((r) => `${r.toFixed(2)}x`).join(' ')}`);
  console.log(
    `  -> ${beside(ratio, target)}x (median per turn), ${ok ? 'meets' : 'MISSES'} the target of at most ${target}x`,
  );
  return ok;
}
