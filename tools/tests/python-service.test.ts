import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import handlerPluginGenerator from '../src/generators/handler-plugin/generator';
import { tempDir } from '../../tests/support/temp-dir';

function seededTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write(
    'package.json',
    JSON.stringify({ name: 'python-team', dependencies: { '@pipeline-invocation/invoker': '0.1.0' } }),
  );
  tree.write('packages/core/package.json', JSON.stringify({ name: '@pipeline-invocation/core', version: '0.1.0' }));
  tree.write('packages/core/src/version.ts', "export const CONTRACT_VERSION = '1.0.0';\n");
  tree.write(
    'packages/invoker/package.json',
    JSON.stringify({ name: '@pipeline-invocation/invoker', version: '0.1.0' }),
  );
  return tree;
}

describe('handler-plugin --python', () => {
  it('adds the service to the host config (no plugin package) with a handler whose unittest passes under python3', async () => {
    const tree = seededTree();
    await handlerPluginGenerator(tree, {
      name: 'pipelines',
      service: 'ml_inference_ime',
      python: true,
      skipFormat: true,
    });
    await handlerPluginGenerator(tree, {
      name: 'pipelines',
      service: 'preprocess_raw_data',
      python: true,
      skipFormat: true,
    });
    expect(tree.exists('packages/handler-pipelines')).toBe(false);
    expect(readJson(tree, 'package.json')).toMatchObject({
      dependencies: { '@pipeline-invocation/handler-python': '0.1.0', '@pipeline-invocation/invoker': '0.1.0' },
      pipelineInvocation: {
        python: {
          services: {
            ml_inference_ime: 'pipelines.ml_inference_ime.handler:lambda_handler',
            preprocess_raw_data: 'pipelines.preprocess_raw_data.handler:lambda_handler',
          },
        },
      },
    });
    // the generated files, on disk, with the generated test run by a real python3
    const dir = tempDir('python-generated-');
    for (const change of tree.listChanges().filter((c) => c.path.startsWith('pipelines/'))) {
      mkdirSync(dirname(join(dir, change.path)), { recursive: true });
      writeFileSync(join(dir, change.path), change.content ?? '');
    }
    const run = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'pipelines', '-t', '.'], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(run.stderr).toMatch(/Ran 4 tests/);
    expect(run.status).toBe(0);
  });

  it('refuses a service the host already configures, and a name that is no Python package name', async () => {
    const tree = seededTree();
    await handlerPluginGenerator(tree, {
      name: 'pipelines',
      service: 'ml_inference_ime',
      python: true,
      skipFormat: true,
    });
    await expect(
      handlerPluginGenerator(tree, { name: 'pipelines', service: 'ml_inference_ime', python: true, skipFormat: true }),
    ).rejects.toThrow('the service "ml_inference_ime" already exists (declared by pipelineInvocation.python)');
    await expect(
      handlerPluginGenerator(tree, { name: '9lives', service: 'other', python: true, skipFormat: true }),
    ).rejects.toThrow('must become a Python package name');
  });
});
