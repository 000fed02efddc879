import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { createLambdaHandler } from '../src/lambda';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import { createLogger } from '@pipeline-invocation/observability';
import { Capture } from '../../observability/tests/helpers/capture';
import { startFakeWandb } from '../../observability/tests/helpers/wandb-server';
import { fakeTime, track } from '../../invoker/tests/helpers/fake-time';

@pipelineHandler('lambda_service')
class LambdaHandler implements PipelineHandler<{ wait?: boolean }> {
  handle(event: { wait?: boolean }) {
    if (event.wait) return new Promise<never>(() => {});
    return { statusCode: 200, body: 'from lambda' };
  }
}

afterEach(() => jest.useRealTimers());

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
    fakeTime();
    const { invoker, store } = createTestInvoker({ handlers: [LambdaHandler], config: { cancelGraceMs: 100 } });
    const handler = createLambdaHandler({ invoker, safetyMarginMs: 200 });
    const startedMs = Date.now();
    const answer = track(handler({ service: 'lambda_service', payload: { wait: true }, metadata: {} }, context(500)));
    // timed out at 500 - 200 ms; the handler ignores its signal: recorded after its 100 ms grace
    await jest.advanceTimersByTimeAsync(399);
    expect(answer.done).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(answer.value?.status_code).toBe(504);
    expect(store.all()[0]).toMatchObject({ status: 'TIMED_OUT', handler_settled: false });
    expect(Date.parse(store.all()[0]!.ended_at!) - startedMs).toBe(400);
  });

  it('keeps back enough time for a slow store and the cancel grace: the TIMED_OUT record lands before the deadline', async () => {
    fakeTime();
    // The store fails its first two final writes (throttled), so the record needs both retry delays;
    // the handler ignores its signal, so it is given the whole cancel grace (10 s by default) first.
    const store = new MemoryRunStore();
    const putRun = store.putRun.bind(store);
    let failures = 2;
    store.putRun = async (record, when) => {
      if (record.status !== 'RUNNING' && failures-- > 0)
        throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      return putRun(record, when);
    };
    const { invoker } = createTestInvoker({
      store,
      handlers: [LambdaHandler],
      config: { storeRetryDelaysMs: [300, 600] },
    });
    expect(invoker.finalWriteBudgetMs()).toBe(300 + 600 + 3 * 500);
    const deadlineMs = 30_000;
    const startedMs = Date.now();
    const answer = track(
      createLambdaHandler({ invoker })(
        { service: 'lambda_service', payload: { wait: true }, metadata: {} },
        context(deadlineMs),
      ),
    );
    await jest.advanceTimersByTimeAsync(deadlineMs - 1);
    expect(answer.done).toBe(true);
    expect(answer.value?.status_code).toBe(504);
    const [record] = store.all();
    expect(record).toMatchObject({ status: 'TIMED_OUT', handler_settled: false });
    // the record is complete (ended) with time to spare for the write attempts before the freeze
    expect(Date.parse(record!.ended_at!) - startedMs).toBeLessThanOrEqual(deadlineMs - invoker.finalWriteBudgetMs());
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
    // the write budget (3000 + 3 x 500) and the default cancel grace (10 000)
    expect(warnings[0]).toMatchObject({ remaining_ms: 6000, margin_ms: 4500 + 10_000 });
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
