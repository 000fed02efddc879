import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '../../invoker/tests/helpers/otlp-receiver';
import { runFolders } from '../../../tests/support/run-folders';

// A Lambda runs the handler in a plain Node process: so does this test (the built packages).
const LAMBDA = `
require('reflect-metadata');
const { pipelineHandler } = require('@pipeline-invocation/core');
const { createTestInvoker } = require('@pipeline-invocation/invoker/testing');
const { createLambdaHandler } = require('@pipeline-invocation/worker/lambda');
class Traced { handle() { return { statusCode: 200, body: 'traced' }; } }
pipelineHandler('traced_lambda')(Traced);
const { invoker, store } = createTestInvoker({ handlers: [Traced] });
createLambdaHandler({ invoker })({ service: 'traced_lambda', payload: {}, metadata: {} }).then((response) => {
  // what the collector has when the handler has returned: Lambda may freeze the process now
  process.stdout.write(JSON.stringify({ response, traceId: store.all()[0].trace_id }));
  process.exit(0);
});
`;

describe('the Lambda entry and OpenTelemetry', () => {
  it('exports the run span before the handler returns (Lambda may freeze the process after)', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', LAMBDA], {
        cwd: resolve(__dirname, '../../..'),
        env: {
          PATH: process.env.PATH,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_METRICS_EXPORTER: 'none',
          ...runFolders(), // the test run's temp and code cache folders, not the user's
        },
      });
      const { response, traceId } = JSON.parse(stdout);
      expect(response.status_code).toBe(200);
      // the process exited right after the handler returned: the span was exported before that
      const run = receiver.spans.find((s) => s.name === 'pipeline.invoke traced_lambda');
      expect(run?.traceId).toBe(traceId);
    } finally {
      await receiver.stop();
    }
  });
});
