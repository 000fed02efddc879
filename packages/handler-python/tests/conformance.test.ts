import { resolve } from 'node:path';
import { checkPluginConformance } from '@pipeline-invocation/invoker/testing';
import { pythonHostProject } from './host-project';

const PACKAGE_DIR = resolve(__dirname, '..');
const good = pythonHostProject({
  services: {
    ml_inference_intergroup: { entry: 'pipelines.handlers:original_dict', examples: [{ run_type: 'prod', n: 1 }] },
  },
});
const broken = pythonHostProject({
  services: {
    ml_inference_intergroup: 'pipelines.handlers:original_dict',
    missing: 'pipelines.nowhere:lambda_handler',
    not_callable: 'pipelines.handlers:not_a_function',
  },
});

describe('the conformance kit on configured Python services', () => {
  it('a host whose services import, are callable and accept their examples: no findings', async () => {
    expect(
      await checkPluginConformance(PACKAGE_DIR, {
        hostDir: good.root,
        env: { PIPELINE_PYTHON_KILL_AFTER_MS: '1200' },
      }),
    ).toEqual([]);
  });

  it('names each service whose entry point does not import or is not callable', async () => {
    const findings = await checkPluginConformance(PACKAGE_DIR, { hostDir: broken.root });
    expect(findings).toEqual([
      expect.objectContaining({
        code: 'entry-point',
        service: 'missing',
        message: expect.stringContaining(
          "pipelines.nowhere:lambda_handler: ModuleNotFoundError: No module named 'pipelines.nowhere'",
        ),
      }),
      expect.objectContaining({
        code: 'entry-point',
        service: 'not_callable',
        message:
          'pipelines.handlers:not_a_function: found, but it is not callable: point it at a function handler(event, context)',
      }),
    ]);
  });

  it('a host that configures no Python services gets a finding that says so', async () => {
    // the repository's own package.json depends on handler-python and configures no services
    const findings = await checkPluginConformance(PACKAGE_DIR, { hostDir: resolve(PACKAGE_DIR, '../..') });
    expect(findings).toEqual([
      expect.objectContaining({
        code: 'host-config',
        message: expect.stringContaining('configures no "pipelineInvocation.python.services"'),
      }),
    ]);
  });
});
