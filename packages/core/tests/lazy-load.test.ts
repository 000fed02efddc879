import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../tests/support/temp-dir';

// Importing core (every plugin, the CLI, the Lambda entry) and validating an ordinary request
// must not load zod, whose module bodies cost a cold start tens of milliseconds; zod and the
// schemas load when something asks for them, and then behave as before.
const CORE = join(__dirname, '..', 'src', 'index.ts');

function inChild(script: string): Record<string, unknown> {
  const child = spawnSync(process.execPath, ['-r', require.resolve('@swc-node/register'), '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', SWC_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') },
    timeout: 30_000,
  });
  expect(child.stderr).toBe('');
  return JSON.parse(child.stdout) as Record<string, unknown>;
}

describe('zod at import', () => {
  it('is not loaded by importing core and validating a request; z and the schemas load when asked for', () => {
    const result = inChild(`
      const zodLoaded = () => Object.keys(require.cache).some((file) => file.includes('/node_modules/zod/'));
      const core = require(${JSON.stringify(CORE)});
      const request = core.parseIntegrationRequest({ service: ' svc ', payload: { a: 1 } });
      const afterImport = zodLoaded();
      const names = Object.keys(core).filter((name) => name === 'z' || name.endsWith('Schema')).sort();
      let refused;
      try { core.parseIntegrationRequest({ service: '' }); } catch (error) { refused = error.message; }
      const afterRefusal = zodLoaded();
      const parsed = core.z.object({ n: core.z.number() }).safeParse({ n: 'x' }).success;
      console.log(JSON.stringify({ request, afterImport, names, refused, afterRefusal, parsed,
        status: core.RunStatusSchema.options.length, cancelled: core.CANCELLED_STATUS_CODE }));
    `);
    expect(result).toEqual({
      request: { service: 'svc', payload: { a: 1 }, metadata: {} },
      afterImport: false,
      names: [
        'IntegrationPayloadSchema',
        'IntegrationRequestSchema',
        'IntegrationResponseSchema',
        'JsonObjectSchema',
        'RunExecutionMetadataSchema',
        'RunStatusSchema',
        'RunTypeSchema',
        'z',
      ],
      refused: expect.stringContaining('service must not be empty'),
      afterRefusal: true,
      parsed: false,
      status: 6,
      cancelled: 499,
    });
  });

  it('is imported by name from an ES module too', () => {
    const result = inChild(`
      import(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))}).then(({ z, IntegrationRequestSchema }) =>
        console.log(JSON.stringify({ z: typeof z.object, schema: IntegrationRequestSchema.safeParse({ service: 's' }).success })));
    `);
    expect(result).toEqual({ z: 'function', schema: true });
  });
});

describe('run ids at a cold start', () => {
  it('are made without loading node:crypto, 80 random bits from the OS each, distinct across processes', () => {
    // the built core from a script file in plain node (the TypeScript hook loads crypto itself, and
    // so does node -e on Node 20)
    const script = join(tempDir('run-ids-'), 'ids.js');
    writeFileSync(
      script,
      `const core = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
      const ids = [core.newRunId(1_000), core.newRunId(2_000)];
      console.log(JSON.stringify({ ids, crypto: process.moduleLoadList.includes('NativeModule crypto') }));`,
    );
    const make = () => {
      const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
      expect(child.stderr).toBe('');
      return JSON.parse(child.stdout) as { ids: string[]; crypto: boolean };
    };
    const [first, second] = [make(), make()];
    expect([first.crypto, second.crypto]).toEqual([false, false]);
    // same times, so the same 10-character prefix; the 16 random characters differ
    expect(first.ids.map((id) => id.slice(0, 10))).toEqual(second.ids.map((id) => id.slice(0, 10)));
    expect(new Set([...first.ids, ...second.ids].map((id) => id.slice(10))).size).toBe(4);
  });
});
