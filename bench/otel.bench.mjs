// OpenTelemetry's cost on an in-process invocation of a no-op handler (in-memory store, no
// tracker): with the API present and no SDK registered (the default: every span a no-op), as a
// ratio to the same invoker with telemetry off (`telemetry: false`, no span code at all); target
// at most 1.05x. Then, reported only: with the Node SDK exporting to a loopback OTLP receiver
// (batch span processor, http/protobuf). Each case is measured alone in fresh processes, taking
// turns; the verdict is the median of the per-turn ratios.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { answerCaseWhenAsked, compareInProcesses, measure, median, report, verdictPerTurn } from './harness.mjs';

const OFF = 'invocation, telemetry off';
const API = 'invocation, OpenTelemetry API, no SDK';
const SDK = 'invocation, SDK exporting to a loopback receiver';

await answerCaseWhenAsked(measureCase);

const [off, api, sdk] = compareInProcesses(fileURLToPath(import.meta.url), [OFF, API, SDK], { turns: 9 });
report(`OpenTelemetry on a no-op invocation, median of ${off.all.length} processes each`, [off, api]);
const ok = verdictPerTurn(off, api, 1.05);
const sdkRatio = median(sdk.all.map((ms, turn) => ms / off.all[turn]));
report('with the SDK recording every run and exporting it (reported, no target)', [off, sdk]);
console.log(`  -> ${sdkRatio.toFixed(2)}x (median per turn)`);
process.exit(ok ? 0 : 1);

/** Time per operation (ms) of one case, measured alone in this process. */
async function measureCase(name) {
  const require = createRequire(import.meta.url);
  const { pipelineHandler } = require('@pipeline-invocation/core');
  const { createInvoker, startTelemetry } = require('@pipeline-invocation/invoker');
  const { MemoryRunStore } = require('@pipeline-invocation/storage');
  const { silentLogger } = require('@pipeline-invocation/observability');
  class Noop {
    handle() {
      return { statusCode: 200, body: 'ok' };
    }
  }
  pipelineHandler('noop')(Noop);
  const base = { discover: false, outbox: false, env: {}, logger: silentLogger, handlers: [Noop], tracker: false };
  let telemetry;
  let stopReceiver = async () => {};
  if (name === SDK) {
    const http = require('node:http');
    const server = http.createServer((req, res) => req.resume().on('end', () => res.end()));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    stopReceiver = () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve)));
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.address().port}`,
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    };
    Object.assign(process.env, env);
    telemetry = await startTelemetry(process.env, { logger: silentLogger });
  }
  const invoker = createInvoker({ ...base, store: new MemoryRunStore(), telemetry: name !== OFF });
  const ms = await measure(() => invoker.invokePipelineHandler('noop', { run_type: 'prod' }), {
    warmup: 2000,
    samples: 40,
    batch: 100,
  });
  await telemetry?.shutdown();
  await stopReceiver();
  return ms;
}
