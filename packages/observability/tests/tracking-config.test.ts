import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { noopTracker } from '@pipeline-invocation/core';
import { OfflineTracker, Redactor, WandbTracker, createLogger, createTracker, trackingConfigFromEnv } from '../src';
import { Capture } from './helpers/capture';
import { record } from './helpers/records';
import { tempDir } from '../../../tests/support/temp-dir';

describe('trackingConfigFromEnv', () => {
  it('is off without an API key, and online with one', () => {
    expect(trackingConfigFromEnv({}).mode).toBe('off');
    const online = trackingConfigFromEnv({ WANDB_API_KEY: 'k', WANDB_BASE_URL: 'http://127.0.0.1:1/' });
    expect(online).toMatchObject({ mode: 'online', baseUrl: 'http://127.0.0.1:1', initTimeoutMs: 10_000 });
  });

  it('applies WANDB_MODE itself (the SDK ignores it)', () => {
    expect(trackingConfigFromEnv({ WANDB_API_KEY: 'k', WANDB_MODE: 'disabled' }).mode).toBe('disabled');
    expect(trackingConfigFromEnv({ WANDB_MODE: 'offline' }).mode).toBe('offline');
    expect(trackingConfigFromEnv({ WANDB_MODE: 'offline', PIPELINE_HOME: '/data/p' }, '/x').offlineDir).toBe(
      '/data/p/wandb',
    );
  });

  it('names the variable when a value is malformed', () => {
    expect(() => trackingConfigFromEnv({ WANDB_MODE: 'sometimes' })).toThrow(
      'WANDB_MODE="sometimes" is invalid: expected online, offline or disabled',
    );
    expect(() => trackingConfigFromEnv({ PIPELINE_WANDB_TIMEOUT_MS: '-5' })).toThrow('PIPELINE_WANDB_TIMEOUT_MS');
    expect(() => trackingConfigFromEnv({ WANDB_BASE_URL: 'ftp://x' })).toThrow('WANDB_BASE_URL');
  });
});

describe('createTracker', () => {
  const redactor = new Redactor({});
  it('says how to turn tracking on when there is no key: once per process, when a run starts', async () => {
    const logs = new Capture();
    const logger = createLogger({ destination: logs, format: 'json' });
    const first = createTracker(trackingConfigFromEnv({}), { logger, redactor });
    const second = createTracker(trackingConfigFromEnv({}), { logger, redactor });
    expect(logs.lines()).toEqual([]); // nothing before a run starts (an input error comes first)
    const run = { record: record(), payload: {} };
    await first.start(run);
    await first.start(run);
    await second.start(run); // another invoker in the same process
    expect(logs.lines()).toEqual([
      expect.objectContaining({ level: 30, msg: expect.stringContaining('set WANDB_API_KEY') }),
    ]);
    // its line said, it does nothing: the invoker's runs make no tracking calls
    expect(first.idle).toBe(true);
    expect(second.idle).toBe(true);
    // otherwise it does nothing
    first.log('r', { x: 1 }, 0);
    expect(first.finish(record())).toBeUndefined(); // nothing to wait for: a run waits no turn for it
    await expect(first.close()).resolves.toBeUndefined();
  });

  it('picks the offline and online trackers', () => {
    const logger = createLogger({ destination: new Capture() });
    expect(createTracker(trackingConfigFromEnv({ WANDB_MODE: 'offline' }), { logger, redactor })).toBeInstanceOf(
      OfflineTracker,
    );
    expect(createTracker(trackingConfigFromEnv({ WANDB_API_KEY: 'k' }), { logger, redactor })).toBeInstanceOf(
      WandbTracker,
    );
  });
});

describe('OfflineTracker', () => {
  it('writes everything that would have been sent as JSON lines, one file per run, secrets redacted', async () => {
    const dir = tempDir('wandb-offline-');
    const redactor = new Redactor({ WANDB_API_KEY: 'offline-secret-123' });
    const tracker = new OfflineTracker(dir, { project: undefined, entity: 'team', redactor });
    const rec = record({ status: 'FAILED', status_code: 500 });
    await tracker.start({ record: rec, payload: { run_type: 'prod', api_key: 'x', note: 'offline-secret-123' } });
    tracker.log(rec.run_id, { labelled: 3 }, 0);
    await tracker.finish(rec);
    expect(readdirSync(dir)).toEqual([`${rec.run_id}.jsonl`]);
    const text = readFileSync(join(dir, `${rec.run_id}.jsonl`), 'utf8');
    expect(text).not.toContain('offline-secret-123');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['init', 'log', 'finish']);
    expect(lines[0]).toMatchObject({
      project: 'svc_a',
      entity: 'team',
      name: rec.run_id,
      config: { api_key: '[REDACTED]' },
    });
    expect(lines[1]).toMatchObject({ step: 0, data: { labelled: 3 } });
    expect(lines[2]).toMatchObject({ exit_code: 1, summary: { status: 'FAILED', status_code: 500 } });
  });
});
