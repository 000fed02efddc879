import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { CLI, cjsPlugin, createHostProject } from '../../invoker/tests/helpers/host-project';
import { startOtlpReceiver } from '../../invoker/tests/helpers/otlp-receiver';
import { InvocationQueue, redisConnection } from '../src';
import { startRedis } from './helpers/redis';
import { tempDir } from '../../../tests/support/temp-dir';

const root = createHostProject([cjsPlugin('traced-plugin', ['traced_service'])]);

describe('trace context through the queue', () => {
  it("a job queued inside a span runs in a worker process whose run span is that span's child", async () => {
    // the producer: a context manager and the W3C propagator, as an SDK would register them
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const redis = await startRedis();
    const receiver = await startOtlpReceiver();
    const queue = new InvocationQueue(redisConnection(redis.url));
    const producer = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
    };
    const worker = spawn(process.execPath, [CLI, 'worker'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PIPELINE_HOME: tempDir('otel-worker-'),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    worker.stderr!.on('data', (d) => (stderr += d));
    try {
      const job = await context.with(trace.setSpanContext(context.active(), producer), () =>
        queue.enqueue({ service: 'traced_service', payload: {}, metadata: {} }),
      );
      const record = await queue.waitForRun(job, { timeoutMs: 20_000 });
      expect(record.status).toBe('SUCCEEDED');
      worker.kill('SIGTERM'); // shutting down flushes the spans
      expect(await new Promise((resolve) => worker.on('exit', resolve))).toBe(0);
      const run = receiver.spans.find((s) => s.name === 'pipeline.invoke traced_service');
      expect(run).toMatchObject({ kind: 5, traceId: producer.traceId, parentSpanId: producer.spanId });
      expect(record.trace_id).toBe(producer.traceId);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nworker stderr:\n${stderr}`, { cause: error });
    } finally {
      worker.kill('SIGKILL');
      await queue.close();
      await receiver.stop();
      await redis.stop();
      context.disable();
      propagation.disable();
    }
  }, 40_000);
});
