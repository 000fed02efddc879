import { pipelineHandler } from '@pipeline-invocation/core';
import { MemoryRunStore } from '@pipeline-invocation/storage';
import { createInvoker } from '../src';

@pipelineHandler('echo_meta')
class EchoMeta {
  async handle() {
    return { statusCode: 200, body: 'ok' };
  }
}

describe('createInvoker options', () => {
  it.each([['stores'], ['writeMetadata'], ['wandb_logger'], ['timeout']])(
    'refuses an unknown option "%s", naming it and the accepted ones',
    (key) => {
      expect(() => createInvoker({ discover: false, [key]: 1 } as never)).toThrow(
        expect.objectContaining({ name: 'InvalidRequestError', message: expect.stringContaining(`"${key}"`) }),
      );
      expect(() => createInvoker({ discover: false, [key]: 1 } as never)).toThrow(/Accepted: .*storeRetryDelaysMs/);
    },
  );

  it('takes null request metadata as none, as the original took None', async () => {
    const invoker = createInvoker({
      discover: false,
      handlers: [EchoMeta],
      store: new MemoryRunStore(),
      outbox: false,
      tracker: false,
    });
    const record = await invoker.invokePipelineHandler('echo_meta', {}, null);
    expect(record).toMatchObject({ status: 'SUCCEEDED', request_metadata: {} });
    await invoker.close();
  });
});
