import { join } from 'node:path';
import fc from 'fast-check';
import { pipelineHandler, z, type PipelineHandler } from '@pipeline-invocation/core';
import { createTestInvoker } from '@pipeline-invocation/invoker/testing';
import { createHostProject, esmPlugin, runCli } from '../../packages/invoker/tests/helpers/host-project';
import { SOAK, tally } from './helpers/tally';
import { tempDir } from '../support/temp-dir';

const Strict = z.strictObject({ run_type: z.enum(['prod', 'backfill']), count: z.number().int().positive() });

@pipelineHandler('strict_service', { payload: Strict })
class StrictHandler implements PipelineHandler<z.infer<typeof Strict>> {
  handle() {
    return { statusCode: 200, body: 'ran' };
  }
}

const POLLUTING = ['__proto__', 'constructor', 'prototype'];
const notPlainObject = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.anything(), { maxLength: 5 }),
);
const anyObject = fc.dictionary(fc.string({ maxLength: 10 }), fc.anything({ maxDepth: 2 }), { maxKeys: 5 });
/** A JSON text that nests `key` somewhere inside an object `depth` levels deep. */
const polluted = fc
  .tuple(fc.constantFrom(...POLLUTING), fc.integer({ min: 0, max: 6 }), fc.jsonValue({ maxDepth: 2 }))
  .map(([key, depth, value]) =>
    JSON.parse(`${'{"n":'.repeat(depth)}{"${key}":${JSON.stringify(value) ?? 'null'}}${'}'.repeat(depth)}`),
  );
const deep = fc.integer({ min: 100, max: 5000 }).map((n) => JSON.parse(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`));
const hugeString = fc.integer({ min: 100_000, max: 1_000_000 }).map((n) => 'x'.repeat(n));
const badPayloadForStrict = fc.oneof(
  anyObject.filter((p) => !Strict.safeParse(p).success),
  fc.record({ run_type: fc.string(), count: fc.anything() }).filter((p) => !Strict.safeParse(p).success),
  // fc.double() also yields whole positive numbers (2846629370592096 once), which are valid counts
  fc.record({
    run_type: fc.constant('prod'),
    count: fc.oneof(
      fc.double().filter((d) => !Number.isInteger(d) || d <= 0),
      fc.integer({ max: 0 }),
      fc.string(),
    ),
  }),
  deep,
  hugeString.map((text) => ({ run_type: 'prod', count: 1, text })),
);

/** Requests that must all be refused: every one is malformed in at least one way. */
const malformed = fc.oneof(
  notPlainObject,
  fc.record({
    service: fc.oneof(
      notPlainObject.filter((s) => typeof s !== 'string'),
      fc.constantFrom('', '   ', '\t\n'),
    ),
    payload: anyObject,
  }),
  fc.record({ service: fc.constant('strict_service'), payload: notPlainObject.filter((p) => p !== undefined) }),
  fc.record({
    service: fc.constant('strict_service'),
    payload: anyObject,
    metadata: notPlainObject.filter((p) => p !== undefined),
  }),
  fc
    .tuple(
      fc.string({ minLength: 1 }).filter((k) => !['service', 'payload', 'metadata'].includes(k)),
      fc.anything(),
    )
    .map(([key, value]) => ({ service: 'strict_service', payload: {}, [key]: value })),
  fc.record({ service: fc.constant('strict_service'), payload: polluted }),
  fc.record({
    service: fc.constant('strict_service'),
    payload: fc.constant({ run_type: 'prod', count: 1 }),
    metadata: polluted,
  }),
  fc.record({
    service: fc
      .oneof(fc.string({ unit: 'binary', minLength: 1 }), hugeString)
      .filter((s) => s.trim() !== '' && s.trim() !== 'strict_service'),
    payload: anyObject,
  }),
  fc.record({ service: fc.constant('strict_service'), payload: badPayloadForStrict }),
);

describe('bad input, fuzzed', () => {
  it(`routeAndRunIntegrationRequest answers every malformed request with a structured 4xx and records nothing`, async () => {
    const runs = SOAK ? 100_000 : 10_000;
    const { invoker, store, tracker } = createTestInvoker({ handlers: [StrictHandler] });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let tried = 0;
    let passed = 0;
    try {
      await fc.assert(
        fc.asyncProperty(malformed, async (request) => {
          tried += 1;
          const response = await invoker.routeAndRunIntegrationRequest(request);
          const ok =
            (response.status_code === 400 || response.status_code === 404) &&
            typeof response.service === 'string' &&
            typeof response.body === 'string' &&
            response.body.length > 0 &&
            !Number.isNaN(Date.parse(response.timestamp));
          if (ok) passed += 1;
          return ok;
        }),
        { numRuns: runs },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
      tally('bad input (in-process)', { tried, passed, lost: 0 });
    }
    expect(passed).toBe(runs);
    expect(store.all()).toEqual([]);
    expect(tracker.calls).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(
      Object.getOwnPropertyNames(Object.getPrototypeOf({})).sort(),
    );
    expect(({} as Record<string, unknown>).polluted ?? ({} as Record<string, unknown>).n).toBeUndefined();
    // and a valid request still works afterwards
    expect(
      (
        await invoker.routeAndRunIntegrationRequest({
          service: 'strict_service',
          payload: { run_type: 'prod', count: 1 },
        })
      ).status_code,
    ).toBe(200);
  });

  describe('through the CLI', () => {
    const root = createHostProject([esmPlugin('esm-plugin', 'esm_service')]);

    it('exits 2 with a message for malformed payloads and metadata, and records nothing', async () => {
      const home = tempDir('fuzz-cli-');
      const samples = fc.sample(
        fc.oneof(
          fc
            .jsonValue()
            .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
            .map((v) => ['--payload', JSON.stringify(v)]),
          fc
            .string({ minLength: 1 })
            .filter((s) => {
              try {
                JSON.parse(s);
                return false;
              } catch {
                return true;
              }
            })
            .map((s) => ['--payload', s]),
          polluted
            .map((p) => ['--payload', JSON.stringify({ word: 'x', ...p })])
            .filter(([, text]) => POLLUTING.some((k) => text!.includes(k))),
          polluted
            .map((p) => ['--metadata', JSON.stringify(p)])
            .filter(([, text]) => POLLUTING.some((k) => text!.includes(k))),
          anyObject.filter((p) => typeof p.word !== 'string').map((p) => ['--payload', JSON.stringify(p)]),
        ),
        { numRuns: SOAK ? 200 : 24, seed: 42 },
      );
      let passed = 0;
      for (const args of samples) {
        const { code, stderr, stdout } = await runCli(['invoke', 'esm_service', ...args], {
          cwd: root,
          env: { PIPELINE_HOME: home },
        });
        if (code === 2 && stderr.startsWith('pipeline invoke: ') && stdout === '') passed += 1;
        else throw new Error(`pipeline invoke esm_service ${args.join(' ')} -> exit ${code}: ${stderr}`);
      }
      const runs = await runCli(['runs', '--json'], { cwd: root, env: { PIPELINE_HOME: home } });
      tally('bad input (CLI)', { tried: samples.length, passed });
      expect(passed).toBe(samples.length);
      expect(JSON.parse(runs.stdout).items).toEqual([]);
    }, 180_000);
  });
});
