import { join } from 'node:path';
import { generateFiles, names, readJson, updateJson, visitNotIgnoredFiles, type Tree } from '@nx/devkit';
import type { HandlerPluginSchema } from './schema';
import { pythonServiceGenerator } from './python-service';

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const SERVICE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** The workspace facts a new handler package is built against. */
export interface WorkspaceFacts {
  /** core's package version (the peer dependency range accepts it). */
  coreVersion: string;
  invokerVersion: string;
  /** The labelling engine's version (a classifier plugin depends on it). */
  labellingVersion: string;
  /** core's CONTRACT_VERSION (the manifest's contract range accepts it). */
  contractVersion: string;
  /** Services already declared by packages in the workspace, with their package. */
  services: Map<string, string>;
}

/** Read the facts from the workspace tree. */
export function readWorkspaceFacts(tree: Tree): WorkspaceFacts {
  const versionSource = tree.read('packages/core/src/version.ts', 'utf-8') ?? '';
  const contractVersion = /CONTRACT_VERSION\s*=\s*'(\d+\.\d+\.\d+)'/.exec(versionSource)?.[1];
  if (!contractVersion) throw new Error('cannot find CONTRACT_VERSION in packages/core/src/version.ts');
  const services = new Map<string, string>();
  for (const dir of tree.children('packages')) {
    const file = `packages/${dir}/package.json`;
    if (!tree.exists(file)) continue;
    const manifest = readJson(tree, file);
    for (const service of manifest.pipelineInvocation?.services ?? []) services.set(service, manifest.name);
  }
  return {
    coreVersion: readJson(tree, 'packages/core/package.json').version,
    invokerVersion: readJson(tree, 'packages/invoker/package.json').version,
    labellingVersion: tree.exists('packages/post-labelling/package.json')
      ? readJson(tree, 'packages/post-labelling/package.json').version
      : '0.1.0',
    contractVersion,
    services,
  };
}

/** Why the options cannot be used, or `undefined`. */
export function validate(options: HandlerPluginSchema, facts: WorkspaceFacts, tree: Tree): string | undefined {
  if (!KEBAB.test(options.name ?? '')) {
    return `--name "${options.name}" must be kebab-case (lowercase letters and digits, words joined by "-"), e.g. --name sentiment`;
  }
  if (!SERVICE.test(options.service ?? '')) {
    return `--service "${options.service}" must be snake_case (lowercase letters and digits, words joined by "_"), e.g. --service ml_inference_sentiment`;
  }
  const owner = facts.services.get(options.service);
  if (owner)
    return `the service "${options.service}" already exists in this workspace (declared by ${owner}); choose another --service`;
  if (tree.exists(`packages/handler-${options.name}`))
    return `packages/handler-${options.name} already exists; choose another --name`;
  return undefined;
}

/**
 * Scaffold `packages/handler-<name>`: package.json with the `pipelineInvocation` manifest, core
 * as a peer dependency, its own version 0.1.0; a decorated handler with a zod payload schema; a
 * test written with the testing kit; a README; Nx tags. With `--classifier`, a classifier plugin
 * over the labelling engine instead: a scoring function to fill in, the handler that runs the
 * engine over its queues, and a test that labels a queue. The host package.json gets the new
 * package as a dependency, so `pipeline list` shows its service after `npm install`.
 */
export default async function handlerPluginGenerator(tree: Tree, options: HandlerPluginSchema): Promise<() => void> {
  const facts = readWorkspaceFacts(tree);
  if (options.python) return pythonServiceGenerator(tree, options, facts.services);
  const problem = validate(options, facts, tree);
  if (problem) throw new Error(`handler-plugin: ${problem}`);
  const packageName = `@pipeline-invocation/handler-${options.name}`;
  const directory = `packages/handler-${options.name}`;
  const contractMajor = facts.contractVersion.split('.')[0];
  const [coreMajor, coreMinor] = facts.coreVersion.split('.');
  const substitutions = {
    ...names(options.name),
    name: options.name,
    service: options.service,
    packageName,
    className: `${names(options.name).className}Handler`,
    contractRange: `^${contractMajor}.0.0`,
    // A 0.x core: ^0.MINOR.0 (npm's caret keeps to the minor); from 1.0 on: ^MAJOR.0.0.
    corePeerRange: coreMajor === '0' ? `^0.${coreMinor}.0` : `^${coreMajor}.0.0`,
    coreVersion: facts.coreVersion,
    invokerVersion: facts.invokerVersion,
    labellingVersion: facts.labellingVersion,
    template: '',
  };
  generateFiles(tree, join(__dirname, 'files'), directory, substitutions);
  if (options.classifier) {
    // the classifier's own package.json, sources, test and README replace the plain handler's
    tree.delete(`${directory}/src/handler.ts`);
    generateFiles(tree, join(__dirname, 'files-classifier'), directory, substitutions);
  }
  updateJson(tree, 'package.json', (root) => {
    root.dependencies = Object.fromEntries(Object.entries({ ...root.dependencies, [packageName]: '0.1.0' }).sort());
    return root;
  });
  if (!options.skipFormat) await formatWithPrettier(tree, [directory, 'package.json']);
  return () => {
    console.log(`\nCreated ${directory}. Next: npm install, then npm test, then npx pipeline list.`);
  };
}

/** Format what the generator wrote with the workspace's Prettier and its configuration. */
async function formatWithPrettier(tree: Tree, paths: string[]): Promise<void> {
  const prettier = await import('prettier');
  const files: string[] = [];
  for (const path of paths) {
    if (tree.isFile(path)) files.push(path);
    else visitNotIgnoredFiles(tree, path, (file) => void files.push(file));
  }
  for (const file of files) {
    const filepath = join(tree.root, file);
    const info = await prettier.getFileInfo(filepath);
    if (info.ignored || !info.inferredParser) continue;
    const config = (await prettier.resolveConfig(filepath)) ?? {};
    tree.write(file, await prettier.format(tree.read(file, 'utf-8')!, { ...config, filepath }));
  }
}
