import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { createLambdaHandler } from '../src/lambda';

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

  it('never throws: a bad event is a 400 response', async () => {
    const { invoker } = createTestInvoker({ handlers: [LambdaHandler] });
    const response = await createLambdaHandler({ invoker })('not an object', context(10_000));
    expect(response.status_code).toBe(400);
  });
});
