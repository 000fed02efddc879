import { join } from 'node:path';
import { checkPluginConformance } from '../src/testing';
import { createHostProject, runCli, type FixturePlugin } from './helpers/host-project';

interface Variant {
  services?: string[];
  provides?: string[];
  contract?: string;
  peer?: string;
  files?: string[];
  atImport?: string;
  schema?: boolean;
  ignoresAbort?: boolean;
}

/** A plugin package that keeps the contract, or breaks it in one way. */
function fixture(name: string, v: Variant = {}): FixturePlugin {
  const services = v.services ?? ['good_service'];
  const provides = v.provides ?? ['good_service'];
  const wait = v.ignoresAbort
    ? 'await new Promise((r) => setTimeout(r, 4000));'
    : "await new Promise((r) => { const t = setTimeout(r, 300); context.signal.addEventListener('abort', () => { clearTimeout(t); r(); }); });";
  return {
    name,
    manifest: {
      contract: v.contract ?? '^1.0.0',
      services,
      examples: Object.fromEntries(services.map((s) => [s, [{ run_type: 'prod' }]])),
    },
    files: {
      'index.js': `
        const { definePlugin, pipelineHandler, z } = require('@pipeline-invocation/core');
        ${v.atImport ?? ''}
        const handlers = ${JSON.stringify(provides)}.map((service) => {
          class H { async handle(event, context) { ${wait} return { statusCode: 200, body: 'ok' }; } }
          const payload = z.strictObject({ run_type: z.enum(['prod', 'backfill']) });
          return pipelineHandler(service, ${v.schema === false ? '{}' : '{ payload }'})(H);
        });
        module.exports = { __esModule: true, default: definePlugin({ handlers }) };
      `,
      'README.md': `# ${name}\n\nServices: ${services.join(', ')}.\n`,
    },
    packageJson: {
      main: 'index.js',
      files: v.files ?? ['index.js', 'README.md'],
      peerDependencies: { '@pipeline-invocation/core': v.peer ?? '^0.1.0' },
    },
  };
}

const CASES: [string, Variant, string][] = [
  ['wrong-services', { services: ['good_service', 'other_service'] }, 'services'],
  ['bad-range', { contract: '^2.0.0' }, 'contract-range'],
  ['peer-mismatch', { peer: '^2.0.0' }, 'peer-range'],
  ['not-packed', { files: ['README.md'] }, 'entry-not-packed'],
  ['timer-at-import', { atImport: 'setTimeout(() => {}, 5000);' }, 'import-side-effects'],
  ['loose-schema', { schema: false }, 'payload-schema'],
  ['undeclared-import', { atImport: "require('zod');" }, 'undeclared-dependency'],
  ['ignores-abort', { ignoresAbort: true }, 'ignores-abort'],
];

const root = createHostProject([fixture('good-plugin'), ...CASES.map(([name, v]) => fixture(name, v))]);
const dir = (name: string) => join(root, 'node_modules', name);

describe('checkPluginConformance', () => {
  it('finds nothing wrong with a plugin that keeps the contract', async () => {
    expect(await checkPluginConformance(dir('good-plugin'))).toEqual([]);
  });

  it.each(CASES)(
    '%s: gives exactly its finding, with a fix, from the function and the CLI',
    async (name, _v, code) => {
      const findings = await checkPluginConformance(dir(name));
      expect(findings.map((f) => f.code)).toEqual([code]);
      expect(findings[0]!.fix.length).toBeGreaterThan(10);
      const cli = await runCli(['plugin', 'check', dir(name), '--json'], { cwd: root });
      expect([cli.code, JSON.parse(cli.stdout).findings.map((f: { code: string }) => f.code)]).toEqual([5, [code]]);
    },
    30_000,
  );

  it('the packages of this repository conform', async () => {
    for (const pkg of ['handler-perspective-api', 'handler-openai-moderation']) {
      expect([pkg, await checkPluginConformance(join(__dirname, '../..', pkg))]).toEqual([pkg, []]);
    }
  }, 60_000);
});

describe('pipeline plugin check', () => {
  it('exits 0 for a conforming package and 5 with the findings otherwise (--json too)', async () => {
    const good = await runCli(['plugin', 'check', dir('good-plugin')], { cwd: root });
    expect([good.code, good.stdout]).toEqual([0, expect.stringContaining('no findings, the plugin conforms')]);
    const bad = await runCli(['plugin', 'check', dir('peer-mismatch')], { cwd: root });
    expect(bad.code).toBe(5);
    expect(bad.stdout).toContain('[peer-range]');
    const json = await runCli(['plugin', 'check', 'node_modules/loose-schema', '--json'], { cwd: root });
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout).findings).toEqual([
      expect.objectContaining({ code: 'payload-schema', service: 'good_service' }),
    ]);
  });
});
