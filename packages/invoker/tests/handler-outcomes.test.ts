import { InvalidRequestError, pipelineHandler, type HandlerResult } from '@pipeline-invocation/core';
import { createTestInvoker } from '../src/testing';

/** What the handler does comes from its payload. */
@pipelineHandler('outcome')
class OutcomeHandler {
  async handle(event: { mode: string; code?: number }): Promise<HandlerResult> {
    if (event.mode === 'bad-request') throw new InvalidRequestError('the batch date is in the future');
    if (event.mode === 'original-dict')
      return { status_code: 200, body: 'ok', metadata: '{"n": 1}' } as unknown as HandlerResult;
    return { statusCode: event.code ?? 200, body: `answered ${event.code}` };
  }
}

const invoke = (payload: Record<string, unknown>) =>
  createTestInvoker({ handlers: [OutcomeHandler] }).invoker.invokePipelineHandler('outcome', payload);

describe('how a handler outcome is recorded', () => {
  it('a thrown InvalidRequestError keeps its own status (400), not 500', async () => {
    const record = await invoke({ mode: 'bad-request' });
    expect(record).toMatchObject({ status: 'FAILED', status_code: 400, error: { name: 'InvalidRequestError' } });
    expect(record.error?.retryable).toBeUndefined();
  });

  it.each([429, 503])('a %i result is retryable, like the same error thrown', async (code) => {
    const record = await invoke({ mode: 'code', code });
    expect(record).toMatchObject({
      status: 'FAILED',
      status_code: code,
      error: { name: 'HandlerError', retryable: true },
    });
  });

  it('a 500 or 404 result is not retryable', async () => {
    for (const code of [500, 404]) expect((await invoke({ mode: 'code', code })).error?.retryable).toBeUndefined();
  });

  it("the original's dict fails naming the field to rename", async () => {
    const record = await invoke({ mode: 'original-dict' });
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500, error: { name: 'InvalidHandlerResult' } });
    expect(record.body).toContain('"status_code" is spelt "statusCode" here');
  });
});
