import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  RunLifecycle,
  isTerminal,
  newRunId,
  retryPolicyFromDelays,
  scopedKey,
  type BeginOutcome,
  type RunExecutionMetadata,
  type RunStatus,
} from '@pipeline-invocation/core';
import { Outbox } from '@pipeline-invocation/storage';
import { ManualClock } from '../../../packages/storage/tests/helpers/manual-clock';
import type { StoreUnderTest } from './lifecycle-system';

/**
 * A model-based test of core's RunLifecycle: a small reference model of the lifecycle, and the
 * real lifecycle over a real store driven by the same random command sequences (fast-check's
 * `fc.commands` / `fc.asyncModelRun`). Each command compares what the lifecycle did with what
 * the model predicts, then checks the invariants against the store itself:
 * - exactly one terminal record per run, never overwritten except a CRASHED presumption
 *   superseded by the run's own final record;
 * - no run of one service answered (replayed, conflicted, keyed) by another service's run;
 * - no handler started for a (service, key) whose key names a SUCCEEDED run;
 * - no RUNNING record with a fresh heartbeat marked CRASHED;
 * - a conflict names the run that holds the key, never the refused one;
 * - a TIMED_OUT record whose handler had not stopped says so (`handler_settled: false`).
 */

export const STALE_AFTER_MS = 60_000;
export const SERVICES = ['svc_a', 'svc_b', 'svc_c'] as const;
export const KEYS = ['k1', 'k2'] as const;
const HASH = { A: 'hash-A', B: 'hash-B' } as const;
type Payload = keyof typeof HASH;

/** Counts of one suite, from what ran. */
export class ModelFigures {
  sequences = 0;
  commands = 0;
  /** Invariant and prediction checks made. */
  checks = 0;
  violations = 0;
  /** Ambiguous writes whose answer was actually lost, outages, outbox replays, takeovers, supersedes. */
  readonly seen = {
    answersLost: 0,
    outages: 0,
    replays: 0,
    takeovers: 0,
    supersedes: 0,
    replayed: 0,
    conflicts: 0,
    /**
     * Successes that superseded a CRASHED presumption after their key was taken over, and took
     * the key back from a holder that had not succeeded (so the key replays the success).
     */
    keysTakenBackBySuccess: 0,
  };
}

/** One run as the model knows it. */
interface MRun {
  readonly id: string;
  readonly service: string;
  readonly key?: string;
  readonly payload: Payload;
  /** Its status in the store. */
  status: RunStatus;
  /** Its last heartbeat that reached the store (ms). */
  beatMs: number;
  cancelAtMs?: number;
  /** Its executor is alive (it heartbeats and will write a final record). */
  alive: boolean;
  /** Its handler is still running (a timeout that did not settle). */
  handlerRunning: boolean;
  /** The final record its executor produced (stored, or waiting in the outbox). */
  final?: RunExecutionMetadata;
  readonly record: RunExecutionMetadata;
}

export interface Model {
  down: boolean;
  runs: MRun[];
  /** Scoped key -> the run that holds it. */
  keys: Map<string, string>;
  /** Run ids whose final record waits in the outbox. */
  outbox: string[];
}

export interface Real {
  sut: StoreUnderTest;
  clock: ManualClock;
  lifecycle: RunLifecycle;
  outbox: Outbox;
  figures: ModelFigures;
  /** What each run's stored record looked like after the last command that touched it. */
  seen: Map<string, RunExecutionMetadata | undefined>;
}

/** A violation: counted, then thrown so fast-check shrinks the sequence and prints its seed and path. */
function violated(real: Real, what: string): never {
  real.figures.violations += 1;
  throw new Error(`lifecycle invariant violated: ${what}`);
}

function expectThat(real: Real, ok: boolean, what: () => string): void {
  real.figures.checks += 1;
  if (!ok) violated(real, what());
}

const runOf = (m: Model, id: string) => m.runs.find((r) => r.id === id)!;
const ageMs = (real: Real, run: MRun) => real.clock.now() - run.beatMs;
const isStaleRun = (real: Real, run: MRun) => run.status === 'RUNNING' && ageMs(real, run) >= STALE_AFTER_MS;
const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Read back the runs a command touched and check every invariant on them. */
async function checkRuns(m: Model, real: Real, ids: Iterable<string>, commandAtMs: number): Promise<void> {
  for (const id of new Set(ids)) {
    const run = runOf(m, id);
    const stored = await real.sut.raw.readRun(run.record);
    const before = real.seen.get(id);
    real.seen.set(id, stored);
    expectThat(real, stored !== undefined, () => `run ${id} has no record`);
    const s = stored!;
    expectThat(
      real,
      s.service === run.service && s.run_id === id,
      () => `run ${id} of ${run.service} stored as ${s.service}/${s.run_id}`,
    );
    expectThat(
      real,
      s.status === run.status,
      () => `run ${id} is ${s.status} in the store, the model says ${run.status}`,
    );
    if (before && isTerminal(before.status) && (before.status !== s.status || before.ended_at !== s.ended_at)) {
      // the one replacement allowed: the run's own final record over a CRASHED presumption
      expectThat(
        real,
        before.status === 'CRASHED' &&
          run.final !== undefined &&
          s.status === run.final.status &&
          s.ended_at === run.final.ended_at,
        () => `run ${id}'s terminal record ${before.status} was replaced by ${s.status}`,
      );
    }
    if (before?.status === 'RUNNING' && s.status === 'CRASHED') {
      const beat = Date.parse(before.heartbeat_at ?? before.started_at);
      expectThat(
        real,
        commandAtMs - beat >= STALE_AFTER_MS,
        () => `run ${id} was marked CRASHED with a fresh heartbeat (${commandAtMs - beat} ms old)`,
      );
    }
    if (s.status === 'TIMED_OUT' && run.handlerRunning) {
      expectThat(
        real,
        s.handler_settled === false,
        () => `run ${id} is TIMED_OUT while its handler runs, without saying so`,
      );
    }
    if (run.final && s.status === run.final.status && s.status !== 'CRASHED') {
      expectThat(real, isDeepStrictEqual(s, run.final), () => `run ${id}'s final record differs from the one written`);
    }
  }
}

/** Check the key items of `keys` (scoped) against the model: scoped by service, held by the model's holder. */
async function checkKeys(m: Model, real: Real, keys: Iterable<string>): Promise<void> {
  for (const key of new Set(keys)) {
    const holder = m.keys.get(key);
    const item = await real.sut.raw.readKey(key);
    expectThat(
      real,
      (item?.run_id ?? undefined) === holder,
      () => `key ${key} is held by ${item?.run_id}, the model says ${holder}`,
    );
    if (item) {
      const run = m.runs.find((r) => r.id === item.run_id);
      if (!run) violated(real, `key ${key} names run ${item.run_id}, which never started`);
      expectThat(
        real,
        item.service === run.service && key === scopedKey(run.service, run.key!),
        () => `key ${key} (of ${item.service}) names run ${run.id} of ${run.service}`,
      );
      expectThat(real, item.status === run.status, () => `key ${key} says ${item.status}, its run is ${run.status}`);
    }
  }
}

/** Every run and key, and the listings (end of a sequence). */
export async function checkEverything(m: Model, real: Real): Promise<void> {
  await checkRuns(
    m,
    real,
    m.runs.map((r) => r.id),
    real.clock.now(),
  );
  await checkKeys(m, real, m.keys.keys());
  const stats = await real.sut.raw.serviceStats?.(real.clock.now());
  for (const service of SERVICES) {
    const records = (await real.sut.raw.list({ service, limit: 1000 })).items;
    const listed = records.map((r) => r.run_id);
    const expected = m.runs.filter((r) => r.service === service).map((r) => r.id);
    expectThat(
      real,
      listed.length === new Set(listed).size && [...listed].sort().join() === [...expected].sort().join(),
      () => `${service} lists ${listed.length} runs, the model has ${expected.length}`,
    );
    if (stats) {
      // the dashboard's counts (a store's rollups, kept as runs end) against a recount of its runs
      const hourNow = Math.floor(real.clock.now() / 3_600_000);
      const recount = (hours: number) => {
        const ended = records.filter((r) => {
          const hour = Math.floor(Date.parse(r.started_at!) / 3_600_000);
          return r.status !== 'RUNNING' && hour > hourNow - hours && hour <= hourNow;
        });
        return { finished: ended.length, succeeded: ended.filter((r) => r.status === 'SUCCEEDED').length };
      };
      const kept = stats.find((s) => s.service === service);
      const want = { last24h: recount(24), last7d: recount(7 * 24) };
      const got = { last24h: kept?.last24h ?? recount(0), last7d: kept?.last7d ?? recount(0) };
      expectThat(
        real,
        JSON.stringify(got) === JSON.stringify(want),
        () =>
          `${service}'s dashboard counts are ${JSON.stringify(got)}, a recount of its runs gives ${JSON.stringify(want)}`,
      );
    }
  }
}

type Predicted =
  | { kind: 'started'; tookOverFrom?: string }
  | { kind: 'replayed'; from: string }
  | { kind: 'conflict'; holder: string }
  | { kind: 'mismatch'; holder: string }
  | { kind: 'error' };

function predictBegin(m: Model, real: Real, service: string, key: string | undefined, payload: Payload): Predicted {
  if (m.down) return { kind: 'error' };
  if (!key) return { kind: 'started' };
  const holderId = m.keys.get(scopedKey(service, key));
  if (!holderId) return { kind: 'started' };
  const holder = runOf(m, holderId);
  const mismatch = holder.payload !== payload;
  if (holder.status === 'SUCCEEDED')
    return mismatch ? { kind: 'mismatch', holder: holderId } : { kind: 'replayed', from: holderId };
  if (holder.status === 'RUNNING') {
    if (isStaleRun(real, holder)) return { kind: 'started', tookOverFrom: holderId };
    return mismatch ? { kind: 'mismatch', holder: holderId } : { kind: 'conflict', holder: holderId };
  }
  return { kind: 'started' };
}

function newRun(real: Real, service: string, key: string | undefined, payload: Payload): MRun {
  const at = real.clock.iso();
  const record: RunExecutionMetadata = {
    service,
    timestamp: at,
    status_code: 0,
    body: '',
    metadata_table_name: 'integration_run_metadata',
    metadata: '{}',
    run_id: newRunId(),
    status: 'RUNNING',
    started_at: at,
    heartbeat_at: at,
    handler_package: 'model',
    handler_version: '1.0.0',
    request_metadata: { request_id: key ?? 'none' },
    payload_hash: HASH[payload],
    ...(key ? { idempotency_key: key } : {}),
  };
  return {
    id: record.run_id,
    service,
    ...(key ? { key } : {}),
    payload,
    status: 'RUNNING',
    beatMs: real.clock.now(),
    alive: true,
    handlerRunning: true,
    record,
  };
}

/** Compare one begin's outcome with the prediction; apply it to the model. Returns the runs it touched. */
async function settleBegin(
  m: Model,
  real: Real,
  run: MRun,
  predicted: Predicted,
  outcome: { ok: true; value: BeginOutcome } | { ok: false; error: unknown },
  holderBefore: { runId?: string; status?: RunStatus },
): Promise<string[]> {
  const label = `begin ${run.service}/${run.key ?? '-'} (${run.payload})`;
  const touched: string[] = [];
  const got = outcome.ok
    ? outcome.value.started
      ? `started${outcome.value.tookOverFrom ? ` (took over ${outcome.value.tookOverFrom})` : ''}`
      : `replayed ${outcome.value.replayed.run_id}`
    : describeError(outcome.error);
  const want = JSON.stringify(predicted);
  if (outcome.ok && outcome.value.started) {
    // invariant: no handler starts while the key names a SUCCEEDED run
    expectThat(
      real,
      holderBefore.status !== 'SUCCEEDED',
      () => `${label} started a handler though key holder ${holderBefore.runId} SUCCEEDED`,
    );
    expectThat(real, predicted.kind === 'started', () => `${label}: ${got}, the model predicts ${want}`);
    const tookOver = outcome.value.tookOverFrom;
    expectThat(
      real,
      tookOver === (predicted.kind === 'started' ? predicted.tookOverFrom : undefined),
      () => `${label}: took over ${tookOver ?? 'nothing'}, the model predicts ${want}`,
    );
    // invariant: no handler starts for a (service, key) one of whose runs SUCCEEDED (even one
    // whose success superseded a CRASHED presumption after its key was taken over)
    const succeeded = run.key
      ? m.runs.find((r) => r.service === run.service && r.key === run.key && r.status === 'SUCCEEDED')
      : undefined;
    expectThat(
      real,
      succeeded === undefined,
      () => `${label} started a handler though run ${succeeded?.id} of that key SUCCEEDED`,
    );
    m.runs.push(run);
    if (run.key) m.keys.set(scopedKey(run.service, run.key), run.id);
    touched.push(run.id);
    if (tookOver) {
      real.figures.seen.takeovers += 1;
      const old = runOf(m, tookOver);
      old.status = 'CRASHED'; // its executor, if alive, learns it at its next heartbeat
      touched.push(old.id);
    }
  } else if (outcome.ok && !outcome.value.started) {
    const replayed = outcome.value.replayed;
    real.figures.seen.replayed += 1;
    expectThat(
      real,
      replayed.service === run.service,
      () => `${label} was answered by run ${replayed.run_id} of another service (${replayed.service})`,
    );
    expectThat(
      real,
      predicted.kind === 'replayed' && predicted.from === replayed.run_id && replayed.replayed === true,
      () => `${label}: ${got}, the model predicts ${want}`,
    );
  } else if (!outcome.ok) {
    const error = outcome.error as { name?: string; runId?: string; existingRunId?: string };
    if (error.name === 'RunConflictError') {
      real.figures.seen.conflicts += 1;
      expectThat(
        real,
        error.runId === holderBefore.runId && error.runId !== run.id,
        () =>
          `${label}: RunConflictError names ${error.runId}; the key's holder is ${holderBefore.runId}, the refused run ${run.id}`,
      );
      expectThat(real, predicted.kind === 'conflict', () => `${label}: ${got}, the model predicts ${want}`);
    } else if (error.name === 'IdempotencyKeyMismatchError') {
      expectThat(
        real,
        predicted.kind === 'mismatch' && error.existingRunId === predicted.holder,
        () => `${label}: ${got}, the model predicts ${want}`,
      );
    } else {
      expectThat(real, predicted.kind === 'error', () => `${label}: ${got}, the model predicts ${want}`);
    }
  }
  return touched;
}

async function holderOf(real: Real, service: string, key: string | undefined) {
  if (!key) return {};
  const item = await real.sut.raw.readKey(scopedKey(service, key));
  if (!item) return {};
  const record = await real.sut.raw.readRun({ service: item.service, run_id: item.run_id });
  return { runId: item.run_id, status: record?.status };
}

const settled = async <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** Write a run's final record as its executor does: through the lifecycle, else into the outbox. */
async function finishRun(
  m: Model,
  real: Real,
  run: MRun,
  status: RunStatus,
  extra: Partial<RunExecutionMetadata> = {},
) {
  const final: RunExecutionMetadata = {
    ...run.record,
    ...(run.cancelAtMs !== undefined ? { cancel_requested_at: new Date(run.cancelAtMs).toISOString() } : {}),
    heartbeat_at: new Date(run.beatMs).toISOString(),
    status,
    status_code: status === 'SUCCEEDED' ? 200 : 500,
    body: status === 'SUCCEEDED' ? 'done' : status.toLowerCase(),
    ended_at: real.clock.iso(),
    duration_ms: real.clock.now() - Date.parse(run.record.started_at),
    ...(status === 'SUCCEEDED' ? {} : { error: { name: 'Error', message: status } }),
    ...extra,
  };
  run.alive = false;
  run.final = final;
  const result = await settled(real.lifecycle.finish(final));
  if (m.down) {
    expectThat(real, !result.ok, () => `finish of ${run.id} succeeded during an outage`);
  }
  if (!result.ok) {
    expectThat(real, m.down, () => `finish of ${run.id} failed with the store up: ${describeError(result.error)}`);
    real.outbox.append(final);
    m.outbox.push(run.id);
    return;
  }
  const wasCrashed = run.status === 'CRASHED';
  expectThat(
    real,
    result.value.ok && (wasCrashed ? result.value.superseded?.status === 'CRASHED' : !result.value.superseded),
    () => `finish ${status} of ${run.id} (stored ${run.status}): ${JSON.stringify(result.value).slice(0, 300)}`,
  );
  if (wasCrashed) real.figures.seen.supersedes += 1;
  run.status = status;
  takeKeyBack(m, real, run);
}

/**
 * A run that SUCCEEDED over a CRASHED presumption takes its key back from a holder that has not
 * succeeded (the key replays the success from then on).
 */
function takeKeyBack(m: Model, real: Real, run: MRun): void {
  if (!run.key || run.status !== 'SUCCEEDED') return;
  const key = scopedKey(run.service, run.key);
  const holderId = m.keys.get(key);
  if (holderId === undefined || holderId === run.id || runOf(m, holderId).status === 'SUCCEEDED') return;
  m.keys.set(key, run.id);
  real.figures.seen.keysTakenBackBySuccess += 1;
}

type Cmd = fc.AsyncCommand<Model, Real>;

/** Base of the commands: counts and names them, and times the invariant checks. */
abstract class Base implements Cmd {
  abstract check(m: Readonly<Model>): boolean;
  abstract act(m: Model, real: Real): Promise<{ runs?: string[]; keys?: string[] }>;
  abstract toString(): string;
  async run(m: Model, real: Real): Promise<void> {
    real.figures.commands += 1;
    const at = real.clock.now();
    const touched = await this.act(m, real);
    await checkRuns(m, real, touched.runs ?? [], at);
    await checkKeys(m, real, touched.keys ?? []);
  }
}

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length ? list[n % list.length] : undefined);
const alive = (m: Readonly<Model>) => m.runs.filter((r) => r.alive);

class Begin extends Base {
  constructor(
    readonly service: string,
    readonly key: string | undefined,
    readonly payload: Payload,
  ) {
    super();
  }
  check = () => true;
  async act(m: Model, real: Real) {
    const run = newRun(real, this.service, this.key, this.payload);
    const predicted = predictBegin(m, real, this.service, this.key, this.payload);
    const holderBefore = await holderOf(real, this.service, this.key);
    const outcome = await settled(real.lifecycle.begin(run.record));
    const runs = await settleBegin(m, real, run, predicted, outcome, holderBefore);
    return { runs, keys: this.key ? [scopedKey(this.service, this.key)] : [] };
  }
  toString() {
    return `begin(${this.service}, ${this.key ?? '-'}, ${this.payload})`;
  }
}

/** Two hosts begin the same request at once: exactly one runs it. */
class RaceBegin extends Base {
  constructor(
    readonly service: string,
    readonly key: string,
    readonly payload: Payload,
  ) {
    super();
  }
  check = () => true;
  async act(m: Model, real: Real) {
    const predicted = predictBegin(m, real, this.service, this.key, this.payload);
    const holderBefore = await holderOf(real, this.service, this.key);
    const runs = [
      newRun(real, this.service, this.key, this.payload),
      newRun(real, this.service, this.key, this.payload),
    ];
    const outcomes = await Promise.all(runs.map((r) => settled(real.lifecycle.begin(r.record))));
    const started = outcomes.filter((o) => o.ok && o.value.started).length;
    const label = `race ${this.service}/${this.key}`;
    if (predicted.kind === 'started') {
      expectThat(real, started === 1, () => `${label}: ${started} of 2 begins started, exactly 1 must`);
      const winner = outcomes.findIndex((o) => o.ok && o.value.started);
      const loser = outcomes[1 - winner]!;
      const error = !loser.ok ? (loser.error as { name?: string; runId?: string }) : undefined;
      expectThat(
        real,
        error?.name === 'RunConflictError' && error.runId === runs[winner]!.id,
        () =>
          `${label}: the losing begin got ${loser.ok ? 'a result' : describeError(loser.error)}, not a conflict naming the winner ${runs[winner]!.id}`,
      );
      const touched = await settleBegin(m, real, runs[winner]!, predicted, outcomes[winner]!, holderBefore);
      return { runs: touched, keys: [scopedKey(this.service, this.key)] };
    }
    expectThat(
      real,
      started === 0,
      () => `${label}: ${started} begins started, the model predicts ${JSON.stringify(predicted)}`,
    );
    for (let i = 0; i < 2; i++) await settleBegin(m, real, runs[i]!, predicted, outcomes[i]!, holderBefore);
    return { keys: [scopedKey(this.service, this.key)] };
  }
  toString() {
    return `raceBegin(${this.service}, ${this.key}, ${this.payload})`;
  }
}

/** A live run's handler returns (or throws): its executor writes the final record. */
class Finish extends Base {
  constructor(
    readonly n: number,
    readonly status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED',
  ) {
    super();
  }
  check = (m: Readonly<Model>) => alive(m).length > 0;
  async act(m: Model, real: Real) {
    const run = pick(alive(m), this.n)!;
    run.handlerRunning = false;
    await finishRun(m, real, run, this.status);
    return { runs: [run.id], keys: run.key ? [scopedKey(run.service, run.key)] : [] };
  }
  toString() {
    return `finish(#${this.n}, ${this.status})`;
  }
}

/** A live run's timeout: abort, grace, TIMED_OUT saying whether the handler stopped. */
class Timeout extends Base {
  constructor(
    readonly n: number,
    readonly handlerStops: boolean,
  ) {
    super();
  }
  check = (m: Readonly<Model>) => alive(m).length > 0;
  async act(m: Model, real: Real) {
    const run = pick(alive(m), this.n)!;
    run.handlerRunning = !this.handlerStops;
    await finishRun(m, real, run, 'TIMED_OUT', { handler_settled: this.handlerStops });
    return { runs: [run.id], keys: run.key ? [scopedKey(run.service, run.key)] : [] };
  }
  toString() {
    return `timeout(#${this.n}, ${this.handlerStops ? 'handler stops' : 'handler keeps running'})`;
  }
}

/** `pipeline cancel` of any run. */
class Cancel extends Base {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.runs.length > 0;
  async act(m: Model, real: Real) {
    const run = pick(m.runs, this.n)!;
    const result = await settled(real.lifecycle.requestCancel(run.id));
    const canRead = !m.down || real.sut.readsWorkWhenDown;
    const expectError = m.down && (!canRead || run.status === 'RUNNING');
    expectThat(
      real,
      result.ok === !expectError,
      () => `cancel of ${run.id} (${run.status}, down=${m.down}): ${result.ok ? 'ok' : describeError(result.error)}`,
    );
    if (result.ok) {
      if (run.status === 'RUNNING') run.cancelAtMs ??= real.clock.now();
      const want = run.status === 'RUNNING' ? new Date(run.cancelAtMs!).toISOString() : undefined;
      expectThat(
        real,
        result.value?.status === run.status && (want === undefined || result.value.cancel_requested_at === want),
        () =>
          `cancel of ${run.id}: got ${result.value?.status} ${result.value?.cancel_requested_at}, want ${run.status} ${want}`,
      );
    }
    return { runs: [run.id] };
  }
  toString() {
    return `cancel(#${this.n})`;
  }
}

/** A live run's heartbeat: renews it, and brings back a cancel request or a CRASHED presumption (the run then stops). */
class Heartbeat extends Base {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => alive(m).length > 0;
  async act(m: Model, real: Real) {
    const run = pick(alive(m), this.n)!;
    const result = await settled(real.lifecycle.heartbeat(run.record));
    expectThat(
      real,
      result.ok === !m.down,
      () => `heartbeat of ${run.id} (down=${m.down}): ${result.ok ? 'ok' : describeError(result.error)}`,
    );
    if (!result.ok) return { runs: [run.id] };
    const stored = result.value;
    expectThat(
      real,
      stored?.status === run.status,
      () => `heartbeat of ${run.id} read ${stored?.status}, the model says ${run.status}`,
    );
    if (run.status === 'RUNNING') run.beatMs = real.clock.now();
    if (run.status !== 'RUNNING' || stored?.cancel_requested_at) {
      // the executor aborts its handler, which stops; it writes CANCELLED (over a presumption: supersede)
      run.handlerRunning = false;
      await finishRun(m, real, run, 'CANCELLED');
    }
    return { runs: [run.id], keys: run.key ? [scopedKey(run.service, run.key)] : [] };
  }
  toString() {
    return `heartbeat(#${this.n})`;
  }
}

class Advance extends Base {
  constructor(readonly ms: number) {
    super();
  }
  check = () => true;
  async act(_m: Model, real: Real) {
    real.clock.advance(this.ms);
    return {};
  }
  toString() {
    return `advance(${this.ms} ms)`;
  }
}

/** The process of a live run dies: no more heartbeats, no final record. */
class Die extends Base {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => alive(m).length > 0;
  async act(m: Model) {
    const run = pick(alive(m), this.n)!;
    run.alive = false;
    run.handlerRunning = false;
    return {};
  }
  toString() {
    return `die(#${this.n})`;
  }
}

/** A second worker re-attempts a run's job: markCrashed, which must refuse a fresh run. */
class Reattempt extends Base {
  constructor(readonly n: number) {
    super();
  }
  check = (m: Readonly<Model>) => m.runs.length > 0;
  async act(m: Model, real: Real) {
    const run = pick(m.runs, this.n)!;
    const result = await settled(
      real.lifecycle.markCrashed(run.record, { name: 'WorkerCrashed', body: 'the worker that ran it is gone' }),
    );
    const want = isTerminal(run.status) ? 'ended' : isStaleRun(real, run) ? 'crashed' : 'fresh';
    const canRead = !m.down || real.sut.readsWorkWhenDown;
    const wantError = m.down && (!canRead || want === 'crashed');
    const got = !result.ok ? 'error' : result.value.crashed ? 'crashed' : result.value.reason;
    expectThat(
      real,
      got === (wantError ? 'error' : want),
      () => `markCrashed of ${run.id}: ${got}, the model predicts ${wantError ? 'error' : want}`,
    );
    if (got === 'crashed') run.status = 'CRASHED';
    return { runs: [run.id], keys: run.key ? [scopedKey(run.service, run.key)] : [] };
  }
  toString() {
    return `reattempt(#${this.n})`;
  }
}

/** The answer of the next write (or, with `skip`, of a later one) is lost: the write lands, the caller sees an error. */
class LoseNextAnswer extends Base {
  constructor(readonly skip: number) {
    super();
  }
  check = (m: Readonly<Model>) => !m.down;
  async act(_m: Model, real: Real) {
    real.sut.loseNextWriteAnswer(this.skip);
    return {};
  }
  toString() {
    return `loseWriteAnswer(skip ${this.skip})`;
  }
}

class Outage extends Base {
  constructor(readonly down: boolean) {
    super();
  }
  check = (m: Readonly<Model>) => m.down !== this.down;
  async act(m: Model, real: Real) {
    if (this.down) {
      real.sut.down();
      real.figures.seen.outages += 1;
    } else real.sut.up();
    m.down = this.down;
    return {};
  }
  toString() {
    return this.down ? 'storeDown()' : 'storeUp()';
  }
}

/** `pipeline outbox --flush` (or the next invocation): replays the outbox through the lifecycle. */
class Replay extends Base {
  check = () => true;
  async act(m: Model, real: Real) {
    const pending = [...m.outbox];
    const result = await real.outbox.flush(real.lifecycle);
    const want = m.down
      ? { written: 0, remaining: pending.length, quarantined: 0 }
      : { written: pending.length, remaining: 0, quarantined: 0 };
    expectThat(
      real,
      result.written === want.written && result.remaining === want.remaining && result.quarantined === want.quarantined,
      () =>
        `outbox flush: ${JSON.stringify({ ...result, error: result.error && describeError(result.error) })}, the model predicts ${JSON.stringify(want)} (a real outcome must never lose to a presumption)`,
    );
    if (!m.down && pending.length) {
      real.figures.seen.replays += 1;
      for (const id of pending) {
        const run = runOf(m, id);
        if (run.status === 'CRASHED') real.figures.seen.supersedes += 1;
        run.status = run.final!.status;
        takeKeyBack(m, real, run);
      }
      m.outbox = [];
    }
    const runs = pending.map((id) => runOf(m, id));
    return { runs: pending, keys: runs.filter((r) => r.key).map((r) => scopedKey(r.service, r.key!)) };
  }
  toString() {
    return 'replayOutbox()';
  }
}

/** The command generators: invoke/begin, races, finish, timeouts, cancel, heartbeat, time, deaths, re-attempts, lost answers, outages, replays. */
export function lifecycleCommands(): fc.Arbitrary<Cmd>[] {
  // weighted so that keys collide often (across services too) and the staleness limit is often crossed
  const service = fc.constantFrom<string>('svc_a', 'svc_a', 'svc_b', 'svc_b', 'svc_c');
  const key = fc.constantFrom<string | undefined>('k1', 'k1', 'k1', 'k2', undefined);
  const payload = fc.constantFrom<Payload>('A', 'A', 'A', 'B');
  const n = fc.nat({ max: 20 });
  const begin = fc.tuple(service, key, payload).map(([s, k, p]) => new Begin(s, k, p));
  const heartbeat = n.map((i) => new Heartbeat(i));
  // below, at and past the staleness limit
  const advance = fc
    .constantFrom(1000, 10_000, 30_000, STALE_AFTER_MS - 1, STALE_AFTER_MS, STALE_AFTER_MS + 1, 90_000)
    .map((ms) => new Advance(ms));
  return [
    begin,
    begin,
    begin,
    fc.tuple(service, fc.constantFrom(...KEYS), payload).map(([s, k, p]) => new RaceBegin(s, k, p)),
    fc
      .tuple(n, fc.constantFrom('SUCCEEDED', 'SUCCEEDED', 'FAILED', 'CANCELLED' as const))
      .map(([i, s]) => new Finish(i, s)),
    fc.tuple(n, fc.boolean()).map(([i, stops]) => new Timeout(i, stops)),
    n.map((i) => new Cancel(i)),
    heartbeat,
    heartbeat,
    advance,
    advance,
    n.map((i) => new Die(i)),
    n.map((i) => new Reattempt(i)),
    n.map((i) => new Reattempt(i)),
    fc.constantFrom(0, 0, 1, 2).map((skip) => new LoseNextAnswer(skip)),
    fc.boolean().map((down) => new Outage(down)),
    fc.constant(new Replay()),
  ];
}

/**
 * A fixed sequence run first on every store, so each behaviour is exercised whatever the seed:
 * a conflict, an outage with the final record in the outbox, a CRASHED presumption superseded
 * by the outbox replay, a replay, the same key in another service, a takeover whose write's
 * answer is lost, a timeout whose handler keeps running, a cancel seen at a heartbeat.
 */
export function scenario(): Cmd[] {
  return [
    new Begin('svc_a', 'k1', 'A'),
    new Heartbeat(0),
    new RaceBegin('svc_a', 'k1', 'A'),
    new Outage(true),
    new Finish(0, 'SUCCEEDED'),
    new Outage(false),
    new Advance(STALE_AFTER_MS),
    new Reattempt(0),
    new Replay(),
    new Begin('svc_a', 'k1', 'A'),
    new Begin('svc_b', 'k1', 'A'),
    new Die(0),
    new Advance(90_000),
    new LoseNextAnswer(1),
    new Begin('svc_b', 'k1', 'B'),
    new Timeout(0, false),
    new Begin('svc_b', 'k1', 'A'),
    new Cancel(3),
    new Heartbeat(0),
  ];
}

/**
 * A second fixed sequence: a run presumed crashed (its key taken over by a second run) succeeds
 * after all; its success takes the key back, so later begins with the key replay it, also after
 * the second run fails.
 */
export function takeBackScenario(): Cmd[] {
  return [
    new Begin('svc_a', 'k2', 'A'),
    new Advance(STALE_AFTER_MS),
    new Begin('svc_a', 'k2', 'A'),
    new Finish(0, 'SUCCEEDED'),
    new Begin('svc_a', 'k2', 'A'),
    new Finish(0, 'FAILED'),
    new Begin('svc_a', 'k2', 'A'),
  ];
}

/** A fresh model and real system over `sut`. */
export function setup(sut: StoreUnderTest, outboxFile: string, figures: ModelFigures): { model: Model; real: Real } {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  // two retries of each store call, with no delay: a lost answer is retried at once; an outage outlasts them
  const lifecycle = new RunLifecycle(sut.store, {
    clock,
    staleAfterMs: STALE_AFTER_MS,
    retry: retryPolicyFromDelays([0, 0]),
  });
  const outbox = new Outbox(outboxFile, { clock });
  return {
    model: { down: false, runs: [], keys: new Map(), outbox: [] },
    real: { sut, clock, lifecycle, outbox, figures, seen: new Map() },
  };
}

/** End of a sequence: bring the store back, replay the outbox, check everything. */
export async function endOfSequence(m: Model, real: Real): Promise<void> {
  if (m.down) await new Outage(false).run(m, real);
  if (m.outbox.length) await new Replay().run(m, real);
  await checkEverything(m, real);
}
