import { join } from 'node:path';
import fc from 'fast-check';
import { RunLifecycle, retryPolicyFromDelays, scopedKey, type RunExecutionMetadata } from '@pipeline-invocation/core';
import { ManualClock } from '../../packages/storage/tests/helpers/manual-clock';
import { finished, runningRecord } from '../../packages/storage/tests/helpers/records';
import { startDynalite, type LocalDynamo } from '../../packages/storage/tests/helpers/dynalite';
import {
  ModelFigures,
  STALE_AFTER_MS,
  endOfSequence,
  lifecycleCommands,
  scenario,
  takeBackScenario,
  setup,
} from './helpers/lifecycle-model';
import { openStoreUnderTest, type StoreKind } from './helpers/lifecycle-system';
import { SOAK, tallyModel } from './helpers/tally';
import { tempDir } from '../support/temp-dir';

/**
 * Model-based tests of the run lifecycle (see helpers/lifecycle-model.ts): random sequences of
 * invocations, races, finishes, timeouts, cancels, heartbeats, time passing, process deaths,
 * re-attempts by a second worker, lost answers, store outages and outbox replays, over 3
 * services and 2 keys (and none), against the memory store, SQLite and DynamoDB (dynalite).
 *
 * Replay a failure: LIFECYCLE_MODEL_SEED=<seed> LIFECYCLE_MODEL_PATH=<path> (both printed).
 */
// Sequences and their longest length per store: DynamoDB (dynalite over loopback TCP, ~10 requests
// a command) is the slow one; the default profile keeps the three under ~40 s on a loaded 2-core machine.
const RUNS: Record<StoreKind, number> = SOAK
  ? { memory: 2000, sqlite: 600, dynamodb: 120 }
  : { memory: 150, sqlite: 60, dynamodb: 12 };
const MAX_COMMANDS: Record<StoreKind, number> = SOAK
  ? { memory: 60, sqlite: 60, dynamodb: 50 }
  : { memory: 40, sqlite: 40, dynamodb: 25 };

const dir = tempDir('lifecycle-model-');
let dynamo: LocalDynamo | undefined;
let outboxes = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

async function runModel(kind: StoreKind): Promise<void> {
  const figures = new ModelFigures();
  const seed = process.env.LIFECYCLE_MODEL_SEED ? Number(process.env.LIFECYCLE_MODEL_SEED) : undefined;
  const path = process.env.LIFECYCLE_MODEL_PATH;
  const property = fc.asyncProperty(
    fc.commands(lifecycleCommands(), { maxCommands: MAX_COMMANDS[kind], size: 'max' }),
    async (commands) => {
      figures.sequences += 1;
      const sut = await openStoreUnderTest(kind, { dir, dynamo });
      const { model, real } = setup(sut, join(dir, `outbox-${++outboxes}.jsonl`), figures);
      try {
        await fc.asyncModelRun(() => ({ model, real }), commands);
        await endOfSequence(model, real);
      } finally {
        figures.seen.answersLost += sut.answersLost;
        await sut.close();
      }
    },
  );
  let details: Awaited<ReturnType<typeof fc.check<[Iterable<unknown>]>>> | undefined;
  try {
    details = await fc.check(property as fc.IAsyncProperty<[Iterable<unknown>]>, {
      numRuns: RUNS[kind],
      // the fixed scenarios first (unless replaying a seed), then random sequences
      ...(seed !== undefined ? { seed, path } : { examples: [[scenario()], [takeBackScenario()]] }),
    });
  } finally {
    tallyModel(`lifecycle model: ${kind}`, {
      cases: figures.checks,
      sequences: figures.sequences,
      commands: figures.commands,
      violations: figures.violations,
    });
  }
  process.stdout.write(
    `lifecycle model (${kind}): ${figures.sequences} sequences, ${figures.commands} commands, ${figures.checks} checks, ` +
      `${figures.violations} violations; seen ${JSON.stringify(figures.seen)}\n`,
  );
  if (!details || details.failed) {
    const cause =
      details?.errorInstance instanceof Error ? details.errorInstance.message : String(details?.errorInstance);
    const message = `${(details && fc.defaultReportMessage(details)) ?? 'failed'}\nGot: ${cause}`;
    throw new Error(
      `The lifecycle model failed on ${kind} (seed ${details?.seed}, path "${details?.counterexamplePath}").\n` +
        `Replay: LIFECYCLE_MODEL_SEED=${details?.seed} LIFECYCLE_MODEL_PATH="${details?.counterexamplePath}" npx jest tests/reliability/lifecycle-model.test.ts -t ${kind}\n\n${message}`,
    );
  }
  // every behaviour the model is about was exercised (the fixed scenarios guarantee each at least once)
  for (const seen of [
    'answersLost',
    'outages',
    'replays',
    'takeovers',
    'supersedes',
    'replayed',
    'conflicts',
    'keysTakenBackBySuccess',
  ] as const) {
    expect([seen, figures.seen[seen] > 0]).toEqual([seen, true]);
  }
  expect(figures.violations).toBe(0);
}

describe('the run lifecycle against a reference model (fast-check commands)', () => {
  it.each(['memory', 'sqlite', 'dynamodb'] as const)(
    '%s: every random sequence keeps the invariants',
    (kind) => runModel(kind),
    120_000,
  );
});

describe('findings of the lifecycle model, fixed', () => {
  // Found by the model (seed 1299098025, path "43:2:6:5:8:9:4:7"): raceBegin(svc_b, k2, A),
  // advance(90000 ms), loseNextWriteAnswer(), begin(svc_b, k2, A). The begin took the key over
  // from the stale holder with one write whose answer was lost; its retry found the key already
  // its own, never learned whom it took it from, and left the dead holder RUNNING for ever.
  it.each(['memory', 'sqlite', 'dynamodb'] as const)(
    "%s: a begin that takes over a stale holder marks it CRASHED even when a write's answer is lost",
    async (kind) => {
      for (const skip of [0, 1, 2, 3]) {
        const sut = await openStoreUnderTest(kind, { dir, dynamo });
        const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
        const lifecycle = new RunLifecycle(sut.store, {
          clock,
          staleAfterMs: STALE_AFTER_MS,
          retry: retryPolicyFromDelays([0, 0]),
        });
        const running = (): RunExecutionMetadata =>
          runningRecord({ idempotency_key: 'k', started_at: clock.iso(), heartbeat_at: clock.iso() });
        try {
          const holder = running();
          await lifecycle.begin(holder);
          clock.advance(90_000);
          sut.loseNextWriteAnswer(skip); // the answer of the begin's 1st, 2nd, 3rd or 4th write
          const next = running();
          const outcome = await lifecycle.begin(next);
          const found = [outcome, sut.answersLost, (await sut.raw.readRun(holder))?.status];
          expect([skip, ...found]).toEqual([skip, { started: true, tookOverFrom: holder.run_id }, 1, 'CRASHED']);
          expect(await sut.raw.readKey(scopedKey('svc_a', 'k'))).toMatchObject({
            run_id: next.run_id,
            status: 'RUNNING',
          });
        } finally {
          await sut.close();
        }
      }
    },
  );

  // Counted by the model until then (`rerunsBesideSupersededSuccess`): run A is presumed crashed,
  // B takes its key, A's own SUCCEEDED record supersedes the presumption, B fails: the key
  // followed B, so the next begin ran the handler again although A had succeeded.
  it.each(['memory', 'sqlite', 'dynamodb'] as const)(
    '%s: a success that supersedes a CRASHED presumption takes its key back; the key replays it',
    async (kind) => {
      const sut = await openStoreUnderTest(kind, { dir, dynamo });
      const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
      const lifecycle = new RunLifecycle(sut.store, { clock, staleAfterMs: STALE_AFTER_MS });
      const running = (): RunExecutionMetadata =>
        runningRecord({ idempotency_key: 'k', started_at: clock.iso(), heartbeat_at: clock.iso() });
      try {
        const a = running();
        await lifecycle.begin(a);
        clock.advance(STALE_AFTER_MS); // A's heartbeats do not reach the store
        const b = running();
        expect(await lifecycle.begin(b)).toEqual({ started: true, tookOverFrom: a.run_id });
        const aDone = await lifecycle.finish({ ...finished(a), ended_at: clock.iso() });
        expect(aDone).toMatchObject({ ok: true, superseded: { status: 'CRASHED' } });
        // while B still runs, and after it fails, the key answers with A's success
        const whileB = await lifecycle.begin(running());
        await lifecycle.finish({ ...finished(b, 'FAILED'), ended_at: clock.iso() });
        const afterB = await lifecycle.begin(running());
        expect([whileB, afterB].map((o) => (o.started ? 'started' : o.replayed.run_id))).toEqual([a.run_id, a.run_id]);
        expect(await sut.raw.readKey(scopedKey('svc_a', 'k'))).toMatchObject({ run_id: a.run_id, status: 'SUCCEEDED' });
        expect((await sut.raw.readRun(b))?.status).toBe('FAILED');
      } finally {
        await sut.close();
      }
    },
  );
});
