import { readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import handlerPluginGenerator from '../src/generators/handler-plugin/generator';

function seededTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write(
    'package.json',
    JSON.stringify({ name: 'pipeline-invocation', dependencies: { '@pipeline-invocation/invoker': '0.1.0' } }),
  );
  tree.write('packages/core/package.json', JSON.stringify({ name: '@pipeline-invocation/core', version: '0.1.0' }));
  tree.write('packages/core/src/version.ts', "export const CONTRACT_VERSION = '1.0.0';\n");
  tree.write(
    'packages/invoker/package.json',
    JSON.stringify({ name: '@pipeline-invocation/invoker', version: '0.1.0' }),
  );
  tree.write(
    'packages/handler-perspective-api/package.json',
    JSON.stringify({
      name: '@pipeline-invocation/handler-perspective-api',
      version: '0.1.0',
      pipelineInvocation: { contract: '^1.0.0', services: ['ml_inference_perspective_api'] },
    }),
  );
  return tree;
}

// Formatting with Prettier (skipped here: Prettier loads itself with a dynamic import that jest's
// VM cannot run) is covered by generate-into-workspace-copy.test.ts, which runs the real generator.
describe('handler-plugin generator', () => {
  it('scaffolds a complete handler package and adds it to the host dependencies', async () => {
    const tree = seededTree();
    await handlerPluginGenerator(tree, {
      name: 'sentiment-score',
      service: 'ml_inference_sentiment',
      skipFormat: true,
    });
    const dir = 'packages/handler-sentiment-score';
    for (const file of [
      'package.json',
      'README.md',
      'tsconfig.json',
      'tsconfig.lib.json',
      'jest.config.cjs',
      'src/index.ts',
      'src/handler.ts',
      'tests/handler.test.ts',
    ]) {
      expect(tree.exists(`${dir}/${file}`)).toBe(true);
    }
    const manifest = readJson(tree, `${dir}/package.json`);
    expect(manifest).toMatchObject({
      name: '@pipeline-invocation/handler-sentiment-score',
      version: '0.1.0',
      pipelineInvocation: { contract: '^1.0.0', services: ['ml_inference_sentiment'] },
      peerDependencies: { '@pipeline-invocation/core': '^0.1.0' },
      exports: { '.': { default: './dist/index.js' }, './package.json': './package.json' },
      nx: { tags: ['scope:handler'] },
    });
    const handler = tree.read(`${dir}/src/handler.ts`, 'utf-8')!;
    expect(handler).toContain("@pipelineHandler('ml_inference_sentiment', { payload: SentimentScoreHandlerPayload })");
    expect(handler).toContain(
      'export class SentimentScoreHandler implements PipelineHandler<SentimentScoreHandlerPayload>',
    );
    expect(handler).toContain('@inject(LOGGER)');
    expect(tree.read(`${dir}/tests/handler.test.ts`, 'utf-8')).toContain("from '@pipeline-invocation/invoker/testing'");
    expect(tree.read(`${dir}/README.md`, 'utf-8')).toContain('npx pipeline invoke ml_inference_sentiment');
    expect(readJson(tree, 'package.json').dependencies).toEqual({
      '@pipeline-invocation/handler-sentiment-score': '0.1.0',
      '@pipeline-invocation/invoker': '0.1.0',
    });
  });

  it('with --classifier, scaffolds a classifier plugin over the labelling engine', async () => {
    const tree = seededTree();
    tree.write(
      'packages/post-labelling/package.json',
      JSON.stringify({ name: '@pipeline-invocation/post-labelling', version: '0.3.0' }),
    );
    await handlerPluginGenerator(tree, {
      name: 'toxicity-lite',
      service: 'ml_inference_toxicity_lite',
      classifier: true,
      skipFormat: true,
    });
    const dir = 'packages/handler-toxicity-lite';
    expect(readJson(tree, `${dir}/package.json`)).toMatchObject({
      pipelineInvocation: { contract: '^1.0.0', services: ['ml_inference_toxicity_lite'] },
      dependencies: { '@pipeline-invocation/post-labelling': '0.3.0' },
    });
    const classifier = tree.read(`${dir}/src/classifier.ts`, 'utf-8')!;
    expect(classifier).toContain('export async function scoreTexts(');
    expect(classifier).toContain("name: 'ml_inference_toxicity_lite'");
    const handler = tree.read(`${dir}/src/handler.ts`, 'utf-8')!;
    expect(handler).toContain("@pipelineHandler('ml_inference_toxicity_lite', { payload: LabellingPayloadSchema })");
    expect(handler).toContain('runLabelling(');
    expect(tree.read(`${dir}/tests/handler.test.ts`, 'utf-8')).toContain('rejected_posts');
    expect(tree.read(`${dir}/README.md`, 'utf-8')).toContain('## Fill in the scoring');
  });

  it.each([
    [{ name: 'Sentiment', service: 'x_service' }, '--name "Sentiment" must be kebab-case'],
    [{ name: 'sentiment_score', service: 'x_service' }, '--name "sentiment_score" must be kebab-case'],
    [{ name: '-bad', service: 'x_service' }, 'must be kebab-case'],
    [{ name: 'ok', service: 'Bad-Service' }, '--service "Bad-Service" must be snake_case'],
    [
      { name: 'ok', service: 'ml_inference_perspective_api' },
      'the service "ml_inference_perspective_api" already exists in this workspace (declared by @pipeline-invocation/handler-perspective-api)',
    ],
    [{ name: 'perspective-api', service: 'new_service' }, 'packages/handler-perspective-api already exists'],
  ])('refuses %p with a clear message and writes nothing', async (options, message) => {
    const tree = seededTree();
    const before = tree.listChanges().length;
    await expect(handlerPluginGenerator(tree, options)).rejects.toThrow(message);
    expect(tree.listChanges().length).toBe(before);
  });

  it('derives the peer range from core 1.x and later as ^MAJOR.0.0', async () => {
    const tree = seededTree();
    tree.write('packages/core/package.json', JSON.stringify({ name: '@pipeline-invocation/core', version: '2.3.4' }));
    tree.write('packages/core/src/version.ts', "export const CONTRACT_VERSION = '3.1.0';\n");
    await handlerPluginGenerator(tree, { name: 'later', service: 'later_service', skipFormat: true });
    const manifest = readJson(tree, 'packages/handler-later/package.json');
    expect(manifest.peerDependencies['@pipeline-invocation/core']).toBe('^2.0.0');
    expect(manifest.pipelineInvocation.contract).toBe('^3.0.0');
  });
});
