import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { Outbox } from '@pipeline-invocation/storage';
import { DynamoRunStore, createRunTable } from '@pipeline-invocation/storage/dynamodb';
import { silentLogger } from '@pipeline-invocation/observability';
import { startDynalite, type LocalDynamo } from '../../storage/tests/helpers/dynalite';
import { createInvoker } from '../src';
import { cjsPlugin, createHostProject, runCli } from './helpers/host-project';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

describe('the invoker on DynamoDB', () => {
  it('keeps the record in the outbox when DynamoDB stops mid-run, and writes it exactly once when it is back', async () => {
    const table = 'outbox_runs';
    await createRunTable(dynamo.client(), table);
    let stopDuringRun = true;
    @pipelineHandler('fragile')
    class Fragile implements PipelineHandler {
      async handle() {
        if (stopDuringRun) await dynamo.stop(); // the store goes away while the handler works
        return { statusCode: 200, body: 'work done' };
      }
    }
    const outbox = new Outbox(join(mkdtempSync(join(tmpdir(), 'dyn-outbox-')), 'outbox.jsonl'));
    const invoker = createInvoker({
      discover: false,
      env: {},
      logger: silentLogger,
      tracker: false,
      handlers: [Fragile],
      store: new DynamoRunStore(dynamo.client({ maxAttempts: 1 }), table),
      outbox,
      storeRetryDelaysMs: [10, 10],
    });

    const failed = invoker.invokePipelineHandler('fragile', {});
    await expect(failed).rejects.toMatchObject({ name: 'MetadataWriteError', service: 'fragile' });
    const [kept] = outbox.pending();
    expect(kept).toMatchObject({ service: 'fragile', status: 'SUCCEEDED', body: 'work done' });

    await dynamo.restart(); // dynalite keeps its data in memory: the table comes back empty
    await createRunTable(dynamo.client(), table);
    stopDuringRun = false;
    const next = await invoker.invokePipelineHandler('fragile', {}); // replays the outbox first
    expect(outbox.pending()).toEqual([]);
    const reader = new DynamoRunStore(dynamo.client(), table);
    expect((await reader.get(kept!.run_id))?.body).toBe('work done');
    expect((await reader.list({ limit: 10 })).items.map((r) => r.run_id).sort()).toEqual(
      [kept!.run_id, next.run_id].sort(),
    );
    expect(await outbox.flush(reader)).toEqual({ written: 0, remaining: 0, quarantined: 0 });
    expect((await reader.list({ limit: 10 })).items).toHaveLength(2);
    await reader.close();
    await invoker.close();
  });

  const root = createHostProject([cjsPlugin('dyn-plugin', ['dyn_service'])]);

  it('pipeline storage init, invoke, runs and show work against DynamoDB', async () => {
    const env = {
      PIPELINE_STORE: 'dynamodb',
      PIPELINE_DYNAMODB_TABLE: 'cli_runs',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test-secret-value',
      NODE_NO_WARNINGS: '1',
    };
    const cli = (args: string[]) => runCli(args, { cwd: root, env });

    const missing = await cli(['invoke', 'dyn_service']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('Create it with `pipeline storage init`');

    const init = await cli(['storage', 'init']);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Table cli_runs: created.');
    expect(init.stdout).toContain('AWS::DynamoDB::Table');
    expect((await cli(['storage', 'init'])).stdout).toContain('Table cli_runs: already exists.');

    const invoked = await cli(['invoke', 'dyn_service', '--json']);
    expect(invoked.code).toBe(0);
    const record = JSON.parse(invoked.stdout);
    expect(record.metadata_table_name).toBe('cli_runs');
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout);
    expect(runs.items.map((r: { run_id: string }) => r.run_id)).toEqual([record.run_id]);
    expect(JSON.parse((await cli(['show', record.run_id, '--json'])).stdout)).toEqual(record);
    const doctor = await cli(['doctor']);
    expect(doctor.stdout).toContain('[ok] run store: dynamodb:cli_runs reachable');
    expect(doctor.stdout).not.toContain('test-secret-value');
  }, 60_000);
});
