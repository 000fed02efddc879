// The testing-kit example of the invoker README, verbatim: if this test changes, change the README.
import { pipelineHandler, type PipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';

@pipelineHandler('word_count')
class WordCount implements PipelineHandler<{ text: string }> {
  handle(event: { text: string }) {
    return { statusCode: 200, body: String(event.text.split(/\s+/).length) };
  }
}

it('counts words', async () => {
  const { invoker, store, tracker } = createTestInvoker({ handlers: [WordCount] });
  const record = await invoker.invokePipelineHandler('word_count', { text: 'a b c' });
  expect(record.body).toBe('3');
  expect(store.all()).toEqual([record]);
  expect(tracker.finished).toEqual([record]);
});
