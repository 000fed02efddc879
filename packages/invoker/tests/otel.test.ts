import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHostProject, runCli, type FixturePlugin } from './helpers/host-project';
import { startOtlpReceiver, type OtlpReceiver } from './helpers/otlp-receiver';
import { tempDir } from '../../../tests/support/temp-dir';

/** A plugin whose handler starts a span of its own, or fails. */
const otelPlugin: FixturePlugin = {
  name: 'otel-plugin',
  manifest: { contract: '^1.0.0', services: ['otel_service'] },
  files: {
    'index.js': `
      const { definePlugin, pipelineHandler } = require('@pipeline-invocation/core');
      const { trace } = require('@opentelemetry/api');
      class Handler {
        async handle(event) {
          await trace.getTracer('fixture').startActiveSpan('fixture.work', async (span) => { span.end(); });
          if (event.mode === 'fail') throw new Error('handler exploded');
          return { statusCode: 200, body: 'traced' };
        }
      }
      module.exports = { __esModule: true, default: definePlugin({ handlers: [pipelineHandler('otel_service')(Handler)] }) };
    `,
  },
  packageJson: { main: 'index.js' },
};

const root = createHostProject([otelPlugin]);
// the fixture requires @opentelemetry/api, as a real plugin would (its own dependency)
symlinkSync(
  resolve(__dirname, '../../../node_modules/@opentelemetry'),
  join(root, 'node_modules/@opentelemetry'),
  'dir',
);

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await receiver.stop();
});

const home = () => tempDir('otel-home-');
const invoke = (payload: Record<string, unknown>, env: Record<string, string>) =>
  runCli(['invoke', 'otel_service', '--payload', JSON.stringify({ run_type: 'prod', ...payload }), '--json'], {
    cwd: root,
    env: { PIPELINE_HOME: home(), LOG_LEVEL: 'warn', ...env },
  });

describe('OpenTelemetry export from the CLI', () => {
  it("exports the run span with its attributes and children (http/protobuf), the handler's own span under it, and the run metrics", async () => {
    const result = await invoke(
      {},
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: 'labelling-cron',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team-token=abc123',
      },
    );
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout);
    const run = receiver.spans.find((s) => s.name === 'pipeline.invoke otel_service')!;
    expect(run).toMatchObject({
      kind: 1,
      traceId: record.trace_id,
      parentSpanId: '',
      status: { code: 1 },
      attributes: {
        'pipeline.service': 'otel_service',
        'pipeline.run_id': record.run_id,
        'pipeline.run_type': 'prod',
        'pipeline.status': 'SUCCEEDED',
        'pipeline.status_code': 200,
        'pipeline.handler.package': 'otel-plugin',
        'pipeline.handler.version': '1.0.0',
        'pipeline.idempotency_key.present': false,
        'pipeline.replayed': false,
      },
      resource: expect.objectContaining({ 'service.name': 'labelling-cron', 'deployment.environment': 'test' }),
    });
    const children = receiver.spans.filter((s) => s.parentSpanId === run.spanId).map((s) => s.name);
    expect(children.sort()).toEqual(
      ['pipeline.handler otel_service', 'pipeline.plugin.load', 'pipeline.store.begin', 'pipeline.store.finish'].sort(),
    );
    const handlerSpan = receiver.spans.find((s) => s.name === 'pipeline.handler otel_service')!;
    expect(receiver.spans.find((s) => s.name === 'fixture.work')).toMatchObject({
      traceId: run.traceId,
      parentSpanId: handlerSpan.spanId,
    });
    expect(receiver.points).toEqual(
      expect.arrayContaining([
        {
          metric: 'pipeline.runs',
          attributes: { 'pipeline.service': 'otel_service', 'pipeline.status': 'SUCCEEDED' },
          value: 1,
        },
        {
          metric: 'pipeline.run.duration',
          attributes: { 'pipeline.service': 'otel_service', 'pipeline.status': 'SUCCEEDED' },
          value: 1,
        },
      ]),
    );
    expect(receiver.requests.every((r) => r.contentType === 'application/x-protobuf')).toBe(true);
    expect(receiver.requests[0]!.headers['x-team-token']).toBe('abc123');
  });

  it("marks a failed run's span with an error status and the exception (http/json honoured)", async () => {
    const result = await invoke(
      { mode: 'fail' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    );
    expect(result.code).toBe(1);
    const run = receiver.spans.find((s) => s.name === 'pipeline.invoke otel_service')!;
    expect(run.status.code).toBe(2);
    expect(run.attributes['pipeline.status']).toBe('FAILED');
    expect(run.events.some((e) => e.name === 'exception')).toBe(true);
    expect(receiver.spans.find((s) => s.name === 'pipeline.handler otel_service')!.status.code).toBe(2);
    expect(receiver.requests.every((r) => r.contentType.includes('json'))).toBe(true);
  });

  it('loads no SDK and exports nothing when no endpoint is set (or OTEL_SDK_DISABLED=true)', async () => {
    const probeDir = tempDir('otel-probe-');
    const probe = join(probeDir, 'probe.cjs');
    const out = join(probeDir, 'loaded.json');
    writeFileSync(
      probe,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('sdk-node')))));`,
    );
    const envs: Record<string, string>[] = [
      {},
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: 'true' },
    ];
    for (const env of envs) {
      const result = await invoke({}, { NODE_OPTIONS: `--require ${probe}`, ...env });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).trace_id).toBeUndefined();
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual([]);
    }
    expect(receiver.requests).toEqual([]);
  });

  it('a collector that is down or failing never fails a run, and costs at most the export timeout plus 1 s', async () => {
    const started = performance.now();
    expect((await invoke({}, {})).code).toBe(0);
    const baseline = performance.now() - started;
    receiver.failWith = 503;
    for (const endpoint of ['http://127.0.0.1:9', receiver.endpoint]) {
      const t0 = performance.now();
      const result = await invoke({}, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '1000' });
      const cost = performance.now() - t0 - baseline;
      expect([endpoint, result.code, JSON.parse(result.stdout).status]).toEqual([endpoint, 0, 'SUCCEEDED']);
      expect(cost).toBeLessThan(1000 + 1000 + 500); // the export timeout, 1 s, and a loaded machine's slack
      expect(result.stderr.match(/OpenTelemetry export failed/g)?.length ?? 0).toBeLessThanOrEqual(1);
    }
  }, 30_000);
});
