import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { createLambdaHandler } from '../src/lambda';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import { createLogger } from '@pipeline-invocation/observability';
import { Capture } from '../../observability/tests/helpers/capture';
import { startFakeWandb } from '../../observability/tests/helpers/wandb-server';

@pipelineHandler('lambda_service')
class LambdaHandler implements PipelineHandler<{ wait?: boolean }> {
  handle(event: { wait?: boolean }) {
    if (event.wait) return new Promise<never>(() => {});
    return { statusCode: 200, body: 'from lambda' };
  }
}

describe('createLambdaHandler', () => {
  const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs });

  it('answers an IntegrationRequest event with an IntegrationResponse', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [LambdaHandler] });
    const handler = createLambdaHandler({ invoker });
    const response = await handler({ service: 'lambda_service', payload: {}, metadata: {} }, context(60_000));
    expect(response).toEqual({
      service: 'lambda_service',
      timestamp: expect.any(String),
      status_code: 200,
      body: 'from lambda',
    });
    expect(store.all()).toHaveLength(1);
  });

  it('uses the remaining Lambda time, less a margin, as the run timeout', async () => {
    const { invoker, store } = createTestInvoker({ handlers: [LambdaHandler] });
    const handler = createLambdaHandler({ invoker, safetyMarginMs: 200 });
    const started = Date.now();
    const response = await handler({ service: 'lambda_service', payload: { wait: true }, metadata: {} }, context(500));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(response.status_code).toBe(504);
    expect(store.all()[0]).toMatchObject({ status: 'TIMED_OUT' });
  });

  it('keeps back enough time for a slow store: the TIMED_OUT record lands before the deadline', async () => {
    // The store fails its first two final writes (throttled), so the record needs both retry delays.
    const store = new MemoryRunStore();
    const finish = store.finish.bind(store);
    let failures = 2;
    store.finish = async (record) => {
      if (failures-- > 0) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      return finish(record);
    };
    const { invoker } = createTestInvoker({
      store,
      handlers: [LambdaHandler],
      config: { storeRetryDelaysMs: [300, 600] },
    });
    expect(invoker.finalWriteBudgetMs()).toBe(300 + 600 + 3 * 500);
    const deadlineMs = 4000;
    const started = Date.now();
    const response = await createLambdaHandler({ invoker })(
      { service: 'lambda_service', payload: { wait: true }, metadata: {} },
      context(deadlineMs),
    );
    expect(Date.now() - started).toBeLessThan(deadlineMs);
    expect(response.status_code).toBe(504);
    expect(store.all()).toEqual([expect.objectContaining({ status: 'TIMED_OUT' })]);
  });

  it('counts the W&B init and finish timeouts in the margin when W&B tracking is configured', async () => {
    const { createInvoker } = await import('@pipeline-invocation/invoker');
    const withWandb = createInvoker({
      discover: false,
      storeRetryDelaysMs: [1000, 2000],
      env: { WANDB_API_KEY: 'k'.repeat(40), PIPELINE_WANDB_TIMEOUT_MS: '4000' },
    });
    // a handler that ends before W&B answered its init waits for it, then for the finish
    expect(withWandb.finalWriteBudgetMs()).toBe(3000 + 3 * 500 + 4000 + 4000);
    const without = createInvoker({ discover: false, storeRetryDelaysMs: [1000, 2000], env: {} });
    expect(without.finalWriteBudgetMs()).toBe(3000 + 3 * 500);
  });

  it('returns only once W&B has the run complete (the process may be frozen after)', async () => {
    const { createInvoker } = await import('@pipeline-invocation/invoker');
    const wandb = await startFakeWandb();
    const invoker = createInvoker({
      discover: false,
      outbox: false,
      handlers: [LambdaHandler],
      store: new MemoryRunStore(),
      env: { WANDB_API_KEY: 'k'.repeat(40), WANDB_BASE_URL: wandb.baseUrl },
    });
    try {
      const response = await createLambdaHandler({ invoker })(
        { service: 'lambda_service', payload: {}, metadata: {} },
        context(60_000),
      );
      expect(response.status_code).toBe(200);
      expect([...wandb.runs.values()]).toEqual([expect.objectContaining({ complete: true, exitCode: 0 })]);
    } finally {
      await invoker.close();
      await wandb.stop();
    }
  });

  it('warns once, at cold start, when the function timeout leaves too little beyond the margin', async () => {
    const capture = new Capture();
    const { invoker } = createTestInvoker({
      handlers: [LambdaHandler],
      config: {
        storeRetryDelaysMs: [1000, 2000],
        logger: createLogger({ destination: capture, format: 'json', level: 'warn' }),
      },
    });
    const handler = createLambdaHandler({ invoker });
    await handler({ service: 'lambda_service', payload: {}, metadata: {} }, context(6000));
    await handler({ service: 'lambda_service', payload: {}, metadata: {} }, context(6000));
    const warnings = capture.lines().filter((l) => String(l.msg).includes('Lambda timeout leaves'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ remaining_ms: 6000, margin_ms: 4500 });
    // a roomy timeout says nothing
    const quiet = new Capture();
    const roomy = createTestInvoker({
      handlers: [LambdaHandler],
      config: { logger: createLogger({ destination: quiet, format: 'json', level: 'warn' }) },
    });
    await createLambdaHandler({ invoker: roomy.invoker })(
      { service: 'lambda_service', payload: {}, metadata: {} },
      context(900_000),
    );
    expect(quiet.lines()).toEqual([]);
  });

  it('never throws: a bad event is a 400 response', async () => {
    const { invoker } = createTestInvoker({ handlers: [LambdaHandler] });
    const response = await createLambdaHandler({ invoker })('not an object', context(10_000));
    expect(response.status_code).toBe(400);
  });
});
