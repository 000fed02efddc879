import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryRunStore, SqliteRunStore } from '@pipeline-invocation/storage';
import { pipelineHandler, type RunExecutionMetadata } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { ManualClock } from '../../packages/storage/tests/helpers/manual-clock';
import { LostAnswerStore } from './helpers/lifecycle-system';
import { SOAK, tallyModel } from './helpers/tally';
import { tempDir } from '../support/temp-dir';

/**
 * The public API against the model: random sequences of `invokePipelineHandler(service, payload,
 * { request_id })` over 3 services sharing request ids (the default idempotency key), handlers
 * that succeed or fail as the sequence says, and lost write answers, through the real invoker and
 * executor. Each call is compared with the model: the handler runs exactly when the service's own
 * key allows it, a replay is that service's own SUCCEEDED record and runs nothing, another
 * payload under a SUCCEEDED key is refused. This is issue 24's first finding at the API: a key
 * never replays another service's run.
 */
const SERVICES = ['svc_a', 'svc_b', 'svc_c'] as const;
const RUNS = { memory: SOAK ? 1000 : 100, sqlite: SOAK ? 300 : 30 };

/** What the handlers did, in order, and what the next one is to do. */
const ran: { service: string; variant: string }[] = [];
let nextFails = false;

function handlerFor(service: string) {
  @pipelineHandler(service)
  class Scripted {
    handle(event: { variant: string }) {
      ran.push({ service, variant: event.variant });
      return nextFails ? { statusCode: 500, body: `${service} failed` } : { statusCode: 200, body: `${service} ok` };
    }
  }
  return Scripted;
}
const HANDLERS = SERVICES.map(handlerFor);

interface Model {
  /** `<service>#<key>` -> the last run's status and payload variant. */
  keys: Map<string, { status: 'SUCCEEDED' | 'FAILED'; variant: string; record: RunExecutionMetadata }>;
}
interface Real {
  invoke: (service: string, payload: { variant: string }, key?: string) => Promise<RunExecutionMetadata>;
  wrapper: LostAnswerStore;
  figures: { sequences: number; commands: number; checks: number; violations: number };
}

function check(real: Real, ok: boolean, what: () => string): void {
  real.figures.checks += 1;
  if (!ok) {
    real.figures.violations += 1;
    throw new Error(`invariant violated: ${what()}`);
  }
}

class Invoke implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly service: string,
    readonly key: string | undefined,
    readonly variant: 'A' | 'B',
    readonly fails: boolean,
  ) {}
  check = () => true;
  async run(m: Model, real: Real): Promise<void> {
    real.figures.commands += 1;
    const label = this.toString();
    const before = ran.length;
    nextFails = this.fails;
    const result = await real.invoke(this.service, { variant: this.variant }, this.key).then(
      (record) => ({ record }),
      (error: Error) => ({ error }),
    );
    const handlerRuns = ran.slice(before);
    const last = this.key ? m.keys.get(`${this.service}#${this.key}`) : undefined;
    if (last?.status === 'SUCCEEDED') {
      // nothing runs: the same payload replays this service's own record, another is refused
      check(real, handlerRuns.length === 0, () => `${label}: a handler ran although the key's run SUCCEEDED`);
      if (last.variant === this.variant) {
        const record = 'record' in result ? result.record : undefined;
        check(
          real,
          record?.replayed === true && record.service === this.service && record.run_id === last.record.run_id,
          () =>
            `${label}: got ${JSON.stringify(record ?? ('error' in result ? result.error.name : ''))}, want a replay of ${last.record.run_id}`,
        );
      } else {
        check(
          real,
          'error' in result && result.error.name === 'IdempotencyKeyMismatchError',
          () => `${label}: another payload under a SUCCEEDED key was not refused`,
        );
      }
      return;
    }
    const record = 'record' in result ? result.record : undefined;
    check(
      real,
      handlerRuns.length === 1 && handlerRuns[0]!.service === this.service && handlerRuns[0]!.variant === this.variant,
      () =>
        `${label}: handlers ran ${JSON.stringify(handlerRuns)} (error: ${'error' in result ? result.error.message : '-'})`,
    );
    const status = this.fails ? 'FAILED' : 'SUCCEEDED';
    check(
      real,
      record?.status === status &&
        record.service === this.service &&
        !record.replayed &&
        record.body === `${this.service} ${this.fails ? 'failed' : 'ok'}`,
      () => `${label}: got ${JSON.stringify(record)}, want a ${status} record of ${this.service}`,
    );
    if (this.key && record) m.keys.set(`${this.service}#${this.key}`, { status, variant: this.variant, record });
  }
  toString() {
    return `invoke(${this.service}, {variant: ${this.variant}}, {request_id: ${this.key ?? '-'}}) handler ${this.fails ? 'fails' : 'succeeds'}`;
  }
}

class LoseAnswer implements fc.AsyncCommand<Model, Real> {
  constructor(readonly skip: number) {}
  check = () => true;
  async run(_m: Model, real: Real): Promise<void> {
    real.figures.commands += 1;
    Object.assign(real.wrapper, { armed: true, skip: this.skip });
  }
  toString() {
    return `loseWriteAnswer(skip ${this.skip})`;
  }
}

const dir = tempDir('invoke-model-');
let files = 0;

describe('invokePipelineHandler against the model (fast-check commands)', () => {
  it.each(['memory', 'sqlite'] as const)(
    '%s: keys belong to their service; a SUCCEEDED key runs nothing again',
    async (kind) => {
      const figures = { sequences: 0, commands: 0, checks: 0, violations: 0 };
      const commands = fc.commands(
        [
          fc
            .tuple(
              fc.constantFrom(...SERVICES),
              fc.constantFrom('r1', 'r1', 'r2', undefined),
              fc.constantFrom<'A' | 'B'>('A', 'A', 'B'),
              fc.boolean(),
            )
            .map(([s, k, v, f]) => new Invoke(s, k, v, f)),
          fc.constantFrom(0, 1, 2, 3).map((skip) => new LoseAnswer(skip)),
        ],
        { maxCommands: 30, size: 'max' },
      );
      const property = fc.asyncProperty(commands, async (cmds) => {
        figures.sequences += 1;
        const inner = kind === 'memory' ? new MemoryRunStore() : new SqliteRunStore(join(dir, `invoke-${++files}.db`));
        const wrapper = new LostAnswerStore(inner);
        const { invoker } = createTestInvoker({
          handlers: HANDLERS,
          store: wrapper,
          // a lost answer is retried at once (the manual clock's sleep moves time, costs none)
          config: { clock: new ManualClock(Date.UTC(2026, 5, 1, 12)), storeRetryDelaysMs: [0, 0] },
        });
        const real: Real = {
          invoke: (service, payload, key) =>
            invoker.invokePipelineHandler(service, payload, key === undefined ? {} : { request_id: key }),
          wrapper,
          figures,
        };
        try {
          await fc.asyncModelRun(() => ({ model: { keys: new Map() }, real }), cmds);
        } finally {
          await invoker.close();
          await inner.close();
        }
      });
      let details: Awaited<ReturnType<typeof fc.check<[Iterable<unknown>]>>> | undefined;
      try {
        details = await fc.check(property as fc.IAsyncProperty<[Iterable<unknown>]>, { numRuns: RUNS[kind] });
      } finally {
        tallyModel(`invoke model: ${kind}`, { cases: figures.checks, ...figures });
      }
      process.stdout.write(
        `invoke model (${kind}): ${figures.sequences} sequences, ${figures.commands} commands, ${figures.checks} checks, ${figures.violations} violations\n`,
      );
      if (details.failed) {
        const cause =
          details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
        throw new Error(
          `The invoke model failed on ${kind} (seed ${details.seed}, path "${details.counterexamplePath}").\n${fc.defaultReportMessage(details)}\nGot: ${cause}`,
        );
      }
      expect(figures.violations).toBe(0);
      expect(figures.commands).toBeGreaterThan(RUNS[kind]);
    },
  );
});
