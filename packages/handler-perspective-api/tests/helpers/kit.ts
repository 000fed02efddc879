import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import type { InvokeOptions } from '@pipeline-invocation/invoker';
import { createTestInvoker, type TestInvoker } from '@pipeline-invocation/invoker/testing';
import plugin, { PERSPECTIVE_CONFIG, queueFiles, type PerspectiveConfig } from '../../src';
import { tempQueueDir } from './queues';

/**
 * The plugin in a test invoker, talking to the loopback Perspective server at `baseUrl`, with a
 * fresh queue folder; `run(payload?, options?)` invokes the service.
 */
export interface PerspectiveKit extends TestInvoker {
  readonly config: PerspectiveConfig;
  readonly files: ReturnType<typeof queueFiles>;
  run(payload?: Record<string, unknown>, options?: InvokeOptions): Promise<RunExecutionMetadata>;
}

export function perspectiveKit(baseUrl: string, overrides: Partial<PerspectiveConfig> = {}): PerspectiveKit {
  const config: PerspectiveConfig = {
    apiKey: 'test-perspective-key',
    baseUrl,
    qps: 1000,
    requestTimeoutMs: 2000,
    maxAttempts: 3,
    retryBaseMs: 5,
    queueDir: tempQueueDir(),
    ...overrides,
  };
  const kit = createTestInvoker({
    plugins: [plugin],
    register: (c) => c.register(PERSPECTIVE_CONFIG, { useValue: config }),
  });
  const run = (payload: Record<string, unknown> = { run_type: 'prod' }, options: InvokeOptions = {}) =>
    kit.invoker.invokePipelineHandler('ml_inference_perspective_api', payload, {}, options);
  return { ...kit, config, files: queueFiles(config), run };
}
