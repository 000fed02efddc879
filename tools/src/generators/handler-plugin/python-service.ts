import { join } from 'node:path';
import { generateFiles, readJson, updateJson, type Tree } from '@nx/devkit';
import type { HandlerPluginSchema } from './schema';

const SERVICE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const HANDLER_PYTHON = '@pipeline-invocation/handler-python';

/**
 * `--python`: no plugin package. The host (the workspace's package.json) gets
 * @pipeline-invocation/handler-python as a dependency and the service in
 * `pipelineInvocation.python.services`, and the Python package `<name>` (kebab-case turned into
 * a module name, e.g. `pipelines`) gets `<service>/handler.py` (an example `lambda_handler`) and
 * `<service>/test_handler.py` (its standard-library unittest).
 */
export function pythonServiceGenerator(
  tree: Tree,
  options: HandlerPluginSchema,
  existingServices: ReadonlyMap<string, string>,
): () => void {
  const pythonPackage = (options.name ?? '').replace(/-/g, '_');
  if (!/^[a-z_][a-z0-9_]*$/.test(pythonPackage))
    throw new Error(
      `handler-plugin --python: the name "${options.name}" must become a Python package name (lowercase letters, digits, "_"), e.g. pipelines`,
    );
  if (!SERVICE.test(options.service ?? ''))
    throw new Error(
      `handler-plugin --python: --service "${options.service}" must be snake_case, e.g. ml_inference_ime`,
    );
  const host = readJson(tree, 'package.json');
  const configured = host.pipelineInvocation?.python?.services ?? {};
  const owner =
    existingServices.get(options.service) ?? (options.service in configured ? 'pipelineInvocation.python' : undefined);
  if (owner)
    throw new Error(
      `handler-plugin --python: the service "${options.service}" already exists (declared by ${owner}); choose another --service`,
    );
  if (tree.exists(`${pythonPackage}/${options.service}/handler.py`))
    throw new Error(`handler-plugin --python: ${pythonPackage}/${options.service}/handler.py already exists`);
  const version = tree.exists('packages/handler-python/package.json')
    ? readJson(tree, 'packages/handler-python/package.json').version
    : '0.1.0';
  const entry = `${pythonPackage}.${options.service}.handler:lambda_handler`;
  if (!tree.exists(`${pythonPackage}/__init__.py`)) tree.write(`${pythonPackage}/__init__.py`, '');
  generateFiles(tree, join(__dirname, 'files-python'), pythonPackage, {
    service: options.service,
    pythonPackage,
    template: '',
  });
  updateJson(tree, 'package.json', (root) => {
    root.dependencies = Object.fromEntries(Object.entries({ ...root.dependencies, [HANDLER_PYTHON]: version }).sort());
    const section = (root.pipelineInvocation ??= {});
    const python = (section.python ??= {});
    python.services = { ...python.services, [options.service]: entry };
    return root;
  });
  return () => {
    console.log(
      `\nAdded the Python service ${options.service} (${entry}). Next: npm install, ` +
        `python3 -m unittest discover -s ${pythonPackage} -t ., npx pipeline doctor, npx pipeline invoke ${options.service}.`,
    );
  };
}
