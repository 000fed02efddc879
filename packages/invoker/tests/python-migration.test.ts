// A team moving from the Python library, calling this one the way it called the original:
// the original's override names, a custom writer, where records say they are, closing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLOCK,
  LOGGER,
  MetadataWriteError,
  PipelineHandlerRegistry,
  RUN_CONTEXT,
  definePlugin,
  inject,
  pipelineHandler,
  type Clock,
  type HandlerResult,
  type Logger,
  type LogFields,
  type PipelineHandler,
  type RunContext,
  type RunExecutionMetadata,
} from '@pipeline-invocation/core';
import { MemoryRunStore, Outbox, SqliteRunStore } from '@pipeline-invocation/storage';
import { RecordingTracker, silentLogger } from '@pipeline-invocation/observability';
import { createInvoker, type InvokerConfig } from '../src';
import { createTestInvoker } from '../src/testing';
import { recordLocationOf } from '../src/record-location';
import { createHostProject, type FixturePlugin } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

const home = tempDir('python-migration-');

@pipelineHandler('classify')
class Classify implements PipelineHandler {
  handle(_event: unknown, context: RunContext): HandlerResult {
    return { statusCode: 200, body: 'done', metadata: { previous: context.previousRun?.run_id ?? null } };
  }
}

const request = { service: 'classify', payload: { run_type: 'backfill' }, metadata: {} };

function invoker(config: InvokerConfig = {}) {
  return createInvoker({
    discover: false,
    handlers: [Classify],
    store: new MemoryRunStore(),
    tracker: false,
    outbox: false,
    logger: silentLogger,
    env: { PIPELINE_HOME: home },
    storeRetryDelaysMs: [5, 5],
    ...config,
  });
}

/** A logger that keeps its lines, to assert on what an operator would read. */
function recordingLogger(lines: string[] = []): Logger & { lines: string[] } {
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void =>
      void lines.push(`${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), lines };
  return { ...logger, child: () => logger as unknown as Logger };
}

describe("runIntegrationRequest takes the original's override names", () => {
  it('wandbLogger (the original wandb_logger) is called once with the service and the final record', async () => {
    const calls: [string, RunExecutionMetadata][] = [];
    const record = await invoker().runIntegrationRequest(request, {
      wandbLogger: (service, finished) => void calls.push([service, finished]),
    });
    expect(calls).toEqual([['classify', record]]);
    expect(record.status).toBe('SUCCEEDED');
  });

  it('trackRun stays as another name of it; both together are refused', async () => {
    const calls: string[] = [];
    await invoker().runIntegrationRequest(request, { trackRun: (service) => void calls.push(service) });
    expect(calls).toEqual(['classify']);
    await expect(
      invoker().runIntegrationRequest(request, { trackRun: () => {}, wandbLogger: () => {} }),
    ).rejects.toMatchObject({ name: 'InvalidRequestError', message: expect.stringContaining('not both') });
  });

  it('an unknown override key is an InvalidRequestError naming it and listing the accepted ones', async () => {
    const calls: string[] = [];
    const snake = { wandb_logger: () => void calls.push('logged') } as never;
    const error = await invoker()
      .runIntegrationRequest(request, snake)
      .catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InvalidRequestError' });
    expect((error as Error).message).toContain('unknown option "wandb_logger"');
    expect((error as Error).message).toContain('"wandb_logger" is spelt "wandbLogger" here');
    for (const accepted of ['loadMetadata', 'timeoutMs', 'trackRun', 'wandbLogger', 'writeMetadata'])
      expect((error as Error).message).toContain(accepted);
    expect(calls).toEqual([]);
    await expect(invoker().invokePipelineHandler('classify', {}, {}, { timeout: 5 } as never)).rejects.toMatchObject({
      name: 'InvalidRequestError',
      message: expect.stringContaining('unknown option "timeout"'),
    });
  });

  it("loadMetadata's record is the handler's previous run; {} (what the original's loader returned) is none", async () => {
    const previous = await invoker().invokePipelineHandler('classify', {});
    const seen = await invoker().runIntegrationRequest(request, { loadMetadata: () => previous });
    expect(JSON.parse(seen.metadata)).toEqual({ previous: previous.run_id });
    const none = await invoker().runIntegrationRequest(request, { loadMetadata: () => ({}) });
    expect(JSON.parse(none.metadata)).toEqual({ previous: null });
  });
});

describe('a custom writeMetadata', () => {
  it('is called once per run, with the final record', async () => {
    const written: RunExecutionMetadata[] = [];
    const record = await invoker().runIntegrationRequest(request, { writeMetadata: (r) => void written.push(r) });
    expect(written).toEqual([record]);
    expect(record).toMatchObject({ status: 'SUCCEEDED', metadata_table_name: 'writeMetadata()' });
    expect(existsSync(join(home, 'unwritten-records', `${record.run_id}.json`))).toBe(false);
  });

  it('that throws is called once; one MetadataWriteError names the service once, with the cause; the record is in the outbox', async () => {
    const outboxFile = join(home, 'outbox-a.jsonl');
    const outbox = new Outbox(outboxFile);
    let calls = 0;
    const cause = new Error('DB Write Failed.');
    const error = await invoker({ outbox })
      .runIntegrationRequest(request, {
        writeMetadata: () => {
          calls += 1;
          throw cause;
        },
      })
      .catch((e: MetadataWriteError) => e);
    expect(calls).toBe(1);
    expect(error).toMatchObject({ name: 'MetadataWriteError', service: 'classify', cause });
    const message = (error as Error).message;
    expect(message.match(/classify/g)).toHaveLength(1);
    expect(message).toMatch(
      /^Could not write the run record of "classify": DB Write Failed\. The record of run \w+ was kept in /,
    );
    expect(message).toContain(outboxFile);
    expect(outbox.pending().map((r) => r.run_id)).toEqual([(error as MetadataWriteError).record!.run_id]);
  });

  it("that throws a MetadataWriteError itself (as the original's tests did) is not repeated", async () => {
    const error = await invoker({ outbox: new Outbox(join(home, 'outbox-b.jsonl')) })
      .runIntegrationRequest(request, {
        writeMetadata: () => {
          throw new MetadataWriteError('classify', new Error('DB Write Failed.'));
        },
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    if (!error) throw new Error('the write failure did not reach the caller');
    expect(error.message.match(/Could not write the run record/g)).toHaveLength(1);
    expect(error.message).toContain('"classify": DB Write Failed. The record of run');
    expect((error.cause as Error).message).toBe('DB Write Failed.');
  });

  it('is retried only for an error marked retryable: true', async () => {
    let calls = 0;
    const written: RunExecutionMetadata[] = [];
    const record = await invoker().runIntegrationRequest(request, {
      writeMetadata: (r) => {
        calls += 1;
        if (calls < 3) throw Object.assign(new Error('throttled'), { retryable: true });
        written.push(r);
      },
    });
    expect([calls, written]).toEqual([3, [record]]);
  });

  it('with the outbox off, the record is saved in a file under PIPELINE_HOME that the error names', async () => {
    const error = await invoker({ outbox: false })
      .runIntegrationRequest(request, {
        writeMetadata: () => {
          throw new Error('table is read-only');
        },
      })
      .catch((e: MetadataWriteError) => e);
    const record = (error as MetadataWriteError).record!;
    const file = join(home, 'unwritten-records', `${record.run_id}.json`);
    expect((error as Error).message).toContain(`saved in ${file}`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(record);
    expect((error as Error).message.match(/classify/g)).toHaveLength(1);
  });
});

describe('metadata_table_name names the store the record was written to', () => {
  it('a SQLite store passed in config: its file; the memory store: memory', async () => {
    const file = join(home, 'passed.db');
    const store = new SqliteRunStore(file);
    try {
      expect((await invoker({ store }).invokePipelineHandler('classify', {})).metadata_table_name).toBe(file);
    } finally {
      await store.close();
    }
    expect((await invoker().invokePipelineHandler('classify', {})).metadata_table_name).toBe('memory');
  });

  it("a DynamoDB store: its table (read from the store's description)", () => {
    expect(recordLocationOf({ description: 'dynamodb:team_runs' })).toBe('team_runs');
    expect(recordLocationOf({ description: 'sqlite:/srv/runs.db' })).toBe('/srv/runs.db');
  });
});

describe('close()', () => {
  it('leaves a store and tracker the caller passed open, and is harmless twice', async () => {
    const store = new SqliteRunStore(join(home, 'mine.db'));
    const tracker = new RecordingTracker();
    let trackerClosed = false;
    tracker.close = async () => void (trackerClosed = true);
    const mine = invoker({ store, tracker });
    const record = await mine.invokePipelineHandler('classify', {});
    await mine.close();
    await mine.close();
    expect((await store.latest('classify'))?.run_id).toBe(record.run_id); // still usable
    expect(trackerClosed).toBe(false);
    await store.close();
  });

  it('closes the store it opened itself', async () => {
    const own = createInvoker({
      discover: false,
      handlers: [Classify],
      tracker: false,
      outbox: false,
      logger: silentLogger,
      env: { PIPELINE_HOME: join(home, 'own'), PIPELINE_STORE: 'sqlite' },
    });
    await own.invokePipelineHandler('classify', {});
    const store = await own.store();
    await own.close();
    await expect(store.latest('classify')).rejects.toThrow();
  });

  it('a closed invoker refuses further calls with InvokerClosedError, and does not reopen', async () => {
    const store = new MemoryRunStore();
    const closed = invoker({ store });
    await closed.invokePipelineHandler('classify', {});
    await closed.close();
    await expect(closed.invokePipelineHandler('classify', {})).rejects.toMatchObject({
      name: 'InvokerClosedError',
      message: expect.stringContaining('invokePipelineHandler("classify")'),
    });
    await expect(closed.runIntegrationRequest(request)).rejects.toMatchObject({ name: 'InvokerClosedError' });
    await expect(closed.store()).rejects.toMatchObject({ name: 'InvokerClosedError' });
    expect(await closed.routeAndRunIntegrationRequest(request)).toMatchObject({ status_code: 503 });
    expect(store.all()).toHaveLength(1);
  });
});

// --- plugin containers and the composition order ---------------------------------------------

const SETTING = Symbol.for('test.migration.Setting');
const fakeClock: Clock = { now: () => 0 } as Clock;

@pipelineHandler('reads_clock')
class ReadsClock implements PipelineHandler {
  constructor(
    @inject(CLOCK) private readonly clock: Clock,
    @inject(SETTING) private readonly setting: string,
    @inject(RUN_CONTEXT) private readonly context: RunContext,
  ) {}
  handle(_event: unknown, context: RunContext): HandlerResult {
    return {
      statusCode: 200,
      body: this.setting,
      metadata: { fake_clock: this.clock === fakeClock, own_context: this.context === context },
    };
  }
}

@pipelineHandler('rebinds')
class Rebinds implements PipelineHandler {
  constructor(@inject(LOGGER) private readonly logger: Logger) {}
  handle(): HandlerResult {
    this.logger.info('rebinds ran');
    return { statusCode: 200, body: 'ok' };
  }
}

/** Rebinds CLOCK and SETTING in its register: it must not change what other plugins get. */
const rebinding = definePlugin({
  handlers: [Rebinds],
  register: (container) => {
    container.register(CLOCK, { useValue: fakeClock });
    container.register(SETTING, { useValue: 'the other plugin rebound it' });
  },
});
const reading = definePlugin({
  handlers: [ReadsClock],
  register: (container) => container.register(SETTING, { useValue: 'plugin default' }),
});

const discovered: FixturePlugin = {
  name: 'setting-plugin',
  manifest: { contract: '^1.0.0', services: ['reads_setting'] },
  files: {
    'index.js': `
        const { definePlugin, pipelineHandler, inject } = require('@pipeline-invocation/core');
        const SETTING = Symbol.for('test.migration.Setting');
        class ReadsSetting {
          constructor(setting) { this.setting = setting; }
          handle() { return { statusCode: 200, body: this.setting }; }
        }
        inject(SETTING)(ReadsSetting, undefined, 0);
        pipelineHandler('reads_setting')(ReadsSetting);
        module.exports = { __esModule: true, default: definePlugin({
          handlers: [ReadsSetting],
          register: (c) => {
            c.register(SETTING, { useValue: 'plugin default' });
            c.register(Symbol.for('pipeline-invocation.Clock'), { useValue: { now: () => 0 } });
          },
        }) };
      `,
  },
  packageJson: { main: 'index.js' },
};
const discoveredRoot = createHostProject([discovered]);

describe("each plugin's register gets a container of its own", () => {
  it("one plugin's rebinding of CLOCK or a shared token does not reach another plugin's handler", async () => {
    const record = await invoker({ plugins: [reading, rebinding] }).invokePipelineHandler('reads_clock', {});
    expect(record).toMatchObject({ status: 'SUCCEEDED', body: 'plugin default' });
    // the run's own context (registered per run) still reaches the plugin's handler
    expect(JSON.parse(record.metadata)).toEqual({ fake_clock: false, own_context: true });
  });

  it("in createTestInvoker too, the test's register wins over the plugin's own", async () => {
    const { invoker: testInvoker } = createTestInvoker({
      plugins: [reading],
      register: (c) => c.register(SETTING, { useValue: 'test double' }),
    });
    expect((await testInvoker.invokePipelineHandler('reads_clock', {})).body).toBe('test double');
  });

  it("the host's register comes last and wins over a plugin passed in plugins", async () => {
    const record = await invoker({
      plugins: [reading],
      register: (c) => c.register(SETTING, { useValue: 'host override' }),
    }).invokePipelineHandler('reads_clock', {});
    expect(record.body).toBe('host override');
  });

  it('...and over a plugin discovered from package.json (installed on first use), the same', async () => {
    const host = (register?: InvokerConfig['register']) =>
      invoker({ discover: true, root: discoveredRoot, handlers: [], register }).invokePipelineHandler(
        'reads_setting',
        {},
      );
    expect((await host()).body).toBe('plugin default');
    expect((await host((c) => c.register(SETTING, { useValue: 'host override' }))).body).toBe('host override');
  });

  it("a discovered plugin's rebinding of CLOCK, installed on first use, does not reach the host's handlers", async () => {
    const host = invoker({ discover: true, root: discoveredRoot, plugins: [reading], handlers: [] });
    await host.invokePipelineHandler('reads_setting', {}); // imports and installs the discovered plugin
    const record = await host.invokePipelineHandler('reads_clock', {});
    expect(JSON.parse(record.metadata)).toMatchObject({ fake_clock: false });
  });
});

describe('the static facade for a service an installed plugin provides', () => {
  const pluginOf = definePlugin({ handlers: [Classify] });
  class Double {
    handle(): HandlerResult {
      return { statusCode: 200, body: 'test double' };
    }
  }

  it('registered with { override: true }: the test double wins, with a debug line', async () => {
    const facade = new PipelineHandlerRegistry();
    facade.register('classify', () => new Double(), { override: true });
    const logger = recordingLogger();
    const host = invoker({ plugins: [pluginOf], handlers: [], fallbackRegistry: facade, logger });
    expect((await host.invokePipelineHandler('classify', {})).body).toBe('test double');
    expect(logger.lines.filter((l) => l.startsWith('debug') && l.includes('test override'))).toHaveLength(1);
    // unregistered after the test: the plugin's handler serves it again
    facade.unregister('classify');
    expect((await host.invokePipelineHandler('classify', {})).body).toBe('done');
  });

  it('registered without override: a DuplicateServiceError, never silently ignored', async () => {
    const facade = new PipelineHandlerRegistry();
    facade.register('classify', () => new Double());
    const host = invoker({ plugins: [pluginOf], handlers: [], fallbackRegistry: facade });
    await expect(host.invokePipelineHandler('classify', {})).rejects.toMatchObject({
      name: 'DuplicateServiceError',
      message: expect.stringContaining('{ override: true }'),
    });
  });
});
