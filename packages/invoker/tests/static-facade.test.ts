// The original's static registry, as a Python team's tests use it: it sees the installed plugins,
// and a handler registered there for an installed service is the test override.
import { join } from 'node:path';
import { PipelineHandlerRegistry, type HandlerResult } from '@pipeline-invocation/core';
import { defaultInvoker, invokePipelineHandler } from '../src';
import { cjsPlugin, createHostProject } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

const root = createHostProject([cjsPlugin('installed-classifier', ['ml_inference_installed'])]);
process.env.PIPELINE_ROOT = root;
process.env.PIPELINE_STORE = 'memory';
process.env.PIPELINE_HOME = tempDir('static-facade-');
process.env.LOG_LEVEL = 'error';

afterAll(() => defaultInvoker().close());

class Double {
  handle(): HandlerResult {
    return { statusCode: 200, body: 'test double' };
  }
}

describe('PipelineHandlerRegistry (static) with installed plugins', () => {
  afterEach(() => PipelineHandlerRegistry.unregister('ml_inference_installed'));

  it("listServices() lists every installed plugin's services with the facade's own, sorted", () => {
    PipelineHandlerRegistry.register('facade_only', () => new Double());
    try {
      expect(PipelineHandlerRegistry.listServices()).toEqual(['facade_only', 'ml_inference_installed']);
    } finally {
      PipelineHandlerRegistry.unregister('facade_only');
    }
  });

  it("getHandler(service) returns the installed plugin's handler", async () => {
    const { handler, source } = await PipelineHandlerRegistry.getHandler('ml_inference_installed');
    expect(source.package).toBe('installed-classifier');
    const result = (await handler.handle({}, { progress: () => {} } as never)) as HandlerResult;
    expect(result.body).toBe('ml_inference_installed done');
  });

  it('a handler registered with { override: true } for an installed service wins (the inject_handler_for_testing pattern)', async () => {
    PipelineHandlerRegistry.register('ml_inference_installed', () => new Double(), { override: true });
    expect((await invokePipelineHandler('ml_inference_installed', {})).body).toBe('test double');
    expect((await PipelineHandlerRegistry.getHandler('ml_inference_installed')).source.package).toBe('(inline)');
    PipelineHandlerRegistry.unregister('ml_inference_installed'); // reset_test_handlers
    expect((await invokePipelineHandler('ml_inference_installed', {})).body).toBe('ml_inference_installed done');
  });

  it('without override it is a DuplicateServiceError naming both, not silently ignored', async () => {
    PipelineHandlerRegistry.register('ml_inference_installed', () => new Double());
    await expect(invokePipelineHandler('ml_inference_installed', {})).rejects.toMatchObject({
      name: 'DuplicateServiceError',
      message: expect.stringContaining('installed-classifier@1.0.0'),
    });
  });
});
