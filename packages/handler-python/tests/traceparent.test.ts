import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { fixtureServices, pythonInvoker } from './helpers';

describe('TRACEPARENT', () => {
  it("the Python process gets the handler span's W3C traceparent, so its spans join the run's trace", async () => {
    const spans = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
    try {
      const { invoker } = pythonInvoker({ services: fixtureServices('original_dict') });
      const record = await invoker.invokePipelineHandler('original_dict', { run_type: 'prod' });
      expect(record.status).toBe('SUCCEEDED');
      const handler = spans.getFinishedSpans().find((s) => s.name === 'pipeline.handler original_dict')!;
      const { traceId, spanId } = handler.spanContext();
      expect(JSON.parse(record.metadata).traceparent).toBe(`00-${traceId}-${spanId}-01`);
      expect(record.trace_id).toBe(traceId);
    } finally {
      trace.disable();
      context.disable();
      await tracerProvider.shutdown();
    }
  });
});
