import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkPluginConformance } from '../src/testing';
import { createHostProject } from './helpers/host-project';

// The conformance kit gives a plugin the variables its own manifest declares, temporary ones,
// and names none of its own (no other plugin's BSKY_DATA_DIR).

type Seen = Record<string, string | undefined>;
const seen = (): Seen[] => (globalThis as { __acmeSeen?: Seen[] }).__acmeSeen ?? [];

const root = createHostProject([
  {
    name: 'acme-plugin',
    manifest: {
      contract: '^1.0.0',
      services: ['acme_service'],
      examples: { acme_service: [{ run_type: 'prod' }] },
      env: [
        { name: 'ACME_DATA_DIR', description: 'where acme keeps its work' },
        { name: 'ACME_REPORT_FILE', description: 'the report it writes' },
        { name: 'ACME_API_KEY', description: 'its key', secret: true },
        { name: 'ACME_API_URL', description: 'its endpoint' },
      ],
    },
    files: {
      'index.js': `
        const { writeFileSync } = require('node:fs');
        const { join } = require('node:path');
        const { ENV, definePlugin, inject, pipelineHandler, z } = require('@pipeline-invocation/core');
        class AcmeHandler {
          constructor(env) { this.env = env; }
          async handle() {
            const env = this.env;
            (globalThis.__acmeSeen ??= []).push({ ...env });
            // a plugin that needs its folder: without it the run throws an untyped error
            if (!env.ACME_DATA_DIR) throw new Error('ACME_DATA_DIR is not set');
            writeFileSync(join(env.ACME_DATA_DIR, 'work.txt'), 'done');
            writeFileSync(env.ACME_REPORT_FILE, 'report');
            return { statusCode: 200, body: 'ok' };
          }
        }
        inject(ENV)(AcmeHandler, undefined, 0);
        const payload = z.strictObject({ run_type: z.enum(['prod', 'backfill']) });
        module.exports = { __esModule: true, default: definePlugin({ handlers: [pipelineHandler('acme_service', { payload })(AcmeHandler)] }) };
      `,
      'README.md': '# acme-plugin\n\nThe service acme_service.\n',
    },
    packageJson: {
      main: 'index.js',
      files: ['index.js', 'README.md'],
      peerDependencies: { '@pipeline-invocation/core': '^0.1.0' },
    },
  },
]);

describe('the environment of a conformance check', () => {
  it('gives the plugin a temporary folder and file for the place variables its manifest declares, and nothing it did not declare', async () => {
    expect(await checkPluginConformance(join(root, 'node_modules', 'acme-plugin'))).toEqual([]);
    const runs = seen();
    expect(runs.length).toBeGreaterThan(0);
    const env = runs[0]!;
    expect(env).toEqual({
      PIPELINE_HOME: expect.any(String),
      ACME_DATA_DIR: expect.stringContaining(env.PIPELINE_HOME!),
      ACME_REPORT_FILE: expect.stringContaining(env.PIPELINE_HOME!),
    });
    expect(env).not.toHaveProperty('BSKY_DATA_DIR'); // another plugin's variable
    // the folders were temporary: gone once the check ended
    expect(existsSync(env.ACME_DATA_DIR!)).toBe(false);
  });

  it("takes the caller's values for variables it leaves unset (e.g. a local stub's URL)", async () => {
    (globalThis as { __acmeSeen?: Seen[] }).__acmeSeen = [];
    const findings = await checkPluginConformance(join(root, 'node_modules', 'acme-plugin'), {
      env: { ACME_API_URL: 'http://127.0.0.1:9/stub' },
    });
    expect(findings).toEqual([]);
    expect(seen()[0]).toMatchObject({ ACME_API_URL: 'http://127.0.0.1:9/stub', ACME_DATA_DIR: expect.any(String) });
  });
});
