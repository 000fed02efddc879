import { join } from 'node:path';
import { PipelineHandlerRegistry, type HandlerResult } from '@pipeline-invocation/core';
import { defaultInvoker, invokePipelineHandler, routeAndRunIntegrationRequest } from '../src';
import { tempDir } from '../../../tests/support/temp-dir';

// The top-level functions as the seed library's users call them, with handlers registered
// through the static facade. The default invoker reads its store from the environment.
process.env.PIPELINE_STORE = 'memory';
process.env.PIPELINE_HOME = tempDir('seed-facade-');
process.env.LOG_LEVEL = 'error';

class WordCount {
  handle(event: { text?: string }): HandlerResult {
    return { statusCode: 200, body: String((event.text ?? '').split(/\s+/).filter(Boolean).length) };
  }
}

PipelineHandlerRegistry.register('seed_word_count', () => new WordCount());

/** The seed's decorator form, on a static method that builds the handler. */
class Factories {
  static built = 0;
  @PipelineHandlerRegistry.register('seed_decorated')
  static decorated() {
    Factories.built += 1;
    return new WordCount();
  }
}

// ...and on a plain function.
PipelineHandlerRegistry.register('seed_function')(() => new WordCount());

afterAll(() => defaultInvoker().close());

describe('the static facade and the top-level functions', () => {
  it('a service registered with PipelineHandlerRegistry.register runs through invokePipelineHandler', async () => {
    const record = await invokePipelineHandler('seed_word_count', { text: 'one two three' });
    expect(record).toMatchObject({ service: 'seed_word_count', status: 'SUCCEEDED', body: '3' });
  });

  it('and through routeAndRunIntegrationRequest (200, not 404)', async () => {
    const response = await routeAndRunIntegrationRequest({
      service: 'seed_word_count',
      payload: { text: 'a b' },
      metadata: {},
    });
    expect(response).toMatchObject({ service: 'seed_word_count', status_code: 200, body: '2' });
  });

  it('the decorator form registers a lazy factory, run on each invocation', async () => {
    expect(Factories.built).toBe(0); // lazy: nothing built at registration
    expect((await invokePipelineHandler('seed_decorated', { text: 'x y' })).body).toBe('2');
    expect((await invokePipelineHandler('seed_function', { text: 'x' })).body).toBe('1');
    expect(Factories.built).toBe(1);
  });

  it('lists the facade services with the installed plugins', () => {
    const services = defaultInvoker().listServices();
    expect(services).toEqual(expect.arrayContaining(['seed_decorated', 'seed_function', 'seed_word_count']));
    const unknown = routeAndRunIntegrationRequest({ service: 'nope', payload: {}, metadata: {} });
    return expect(unknown).resolves.toMatchObject({
      status_code: 404,
      body: expect.stringContaining('seed_word_count'),
    });
  });
});
