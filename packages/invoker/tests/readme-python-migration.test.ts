// The README's "Moving from the Python library" section, checked: it names every name and shape
// the original used (/work/shared/ORIGINAL-BEHAVIOUR.md), and each of its `ts` examples runs, in
// order, against the top-level functions (compiled by the same swc transform as every test).
// Core's README shows the original's inject_handler_for_testing pattern: that example runs too.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultInvoker } from '../src';
import { cjsPlugin, createHostProject } from './helpers/host-project';
import { tempDir } from '../../../tests/support/temp-dir';

// A project with an installed plugin providing `ml_inference_perspective_api` (a stand-in: the
// examples replace its handler in a test, they do not call the Perspective API).
const root = createHostProject([cjsPlugin('stand-in-perspective', ['ml_inference_perspective_api'])]);
process.env.PIPELINE_ROOT = root;
process.env.PIPELINE_STORE = 'memory';
process.env.PIPELINE_HOME = tempDir('readme-python-');
process.env.LOG_LEVEL = 'error';
afterAll(() => defaultInvoker().close());

/** The text of the `## <title>` (or `### <title>`) section of a README, up to the next one of its level. */
function section(readme: string, heading: string): string {
  const text = readFileSync(join(__dirname, '..', '..', readme, 'README.md'), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`${readme}/README.md has no "${heading}" section`);
  const level = heading.split(' ')[0]!;
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The ```ts blocks of a section. */
function tsBlocks(text: string): string[] {
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const snippetDir = tempDir('readme-snippets-');

/** Run a README example as a module: its imports stay on top, the rest runs as one async function. */
async function run(code: string, name: string): Promise<void> {
  const imports = code.match(/^import[\s\S]*?from\s+'[^']+';\s*$/gm) ?? [];
  let body = code;
  for (const statement of imports) body = body.replace(statement, '');
  const file = join(snippetDir, `${name}.ts`);
  mkdirSync(snippetDir, { recursive: true });
  writeFileSync(file, `${imports.join('\n')}\nexport default async function example() {\n${body}\n}\n`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const example = require(file) as { default: () => Promise<void> };
  await example.default();
}

const migration = section('invoker', '## Moving from the Python library');

describe('the README section "Moving from the Python library"', () => {
  it("names every name and shape of the original's API", () => {
    const names = [
      'invoke_pipeline_handler',
      'run_integration_request',
      'wandb_logger',
      'load_metadata',
      'write_metadata',
      'route_and_run_integration_request',
      'parse_integration_request',
      'ValueError',
      '@PipelineHandlerRegistry.register("svc")',
      'list_services()',
      'get_handler(name)',
      'inject_handler_for_testing',
      'reset_test_handlers',
      'load_latest_run_metadata',
      'lambda_handler(event, context)',
      'IntegrationRequest',
      'IntegrationPayload',
      'RunExecutionMetadata',
      'IntegrationResponse',
      'status_code',
      'metadata_table_name',
      'integration_run_metadata',
      'dynamodb_table_name',
      'service-index',
      'PipelineInvocationError',
      'UnknownServiceError(service_name, available_services)',
      'MetadataWriteError(service, original_error)',
      'ObservabilityError(service, component, original_error)',
      'KeyError',
      'RUN_MODE',
      'wandb.init(project=service)',
    ];
    expect(names.filter((name) => !migration.includes(name))).toEqual([]);
  });

  const examples = tsBlocks(migration);
  it('has examples to run', () => expect(examples.length).toBeGreaterThanOrEqual(6));
  examples.forEach((code, index) => {
    const title = code.split('\n').find((line) => line.startsWith('//')) ?? '';
    it(`example ${index + 1} runs ${title}`.trim(), () => run(code, `migration-${index + 1}`));
  });
});

describe("core's README: the inject_handler_for_testing pattern", () => {
  const examples = tsBlocks(section('core', "### The static facade, as the original's `PipelineHandlerRegistry`"));
  it('runs', async () => {
    expect(examples).toHaveLength(1);
    await run(examples[0]!, 'core-inject');
  });
});
