// The plugin checks an ordinary configuration and every channel message by hand, so that running
// a Python service does not load zod; whatever the hand check accepts must be what the zod schema
// makes of it, and what it does not accept goes to the schema. These properties compare the two.
import fc from 'fast-check';
import { MessageSchema, PythonConfigSchema } from '../src';
import { validPythonConfig } from '../src/config';
import { messageOf } from '../src/protocol';

const anyValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
);
/** A field that is often right and sometimes wrong. */
const maybe = <T>(right: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary: right }, { weight: 1, arbitrary: anyValue });

describe('hand checks against the zod schemas', () => {
  it('a channel message: the hand check accepts only what MessageSchema accepts, as MessageSchema outputs it', () => {
    const exception = fc.record(
      {
        type: maybe(fc.string()),
        module: maybe(fc.string()),
        message: maybe(fc.string()),
        phase: maybe(fc.constantFrom('import', 'handler', 'result')),
        traceback: maybe(fc.string()),
        frames: maybe(
          fc.array(
            fc.record({ file: maybe(fc.string()), line: maybe(fc.option(fc.nat())), function: maybe(fc.string()) }),
            {
              maxLength: 3,
            },
          ),
        ),
      },
      { requiredKeys: ['type', 'message'] },
    );
    const message = fc.oneof(
      fc.record({
        v: maybe(fc.constant(1)),
        type: fc.constant('opened'),
        pid: maybe(fc.nat()),
        python: maybe(fc.string()),
        entry: maybe(fc.string()),
      }),
      fc.record(
        {
          v: maybe(fc.constant(1)),
          type: fc.constant('log'),
          level: maybe(fc.string()),
          message: maybe(fc.string()),
          logger: maybe(fc.string()),
        },
        { requiredKeys: ['v', 'type', 'level', 'message'] },
      ),
      fc.record({
        v: maybe(fc.constant(1)),
        type: fc.constant('progress'),
        done: maybe(fc.nat()),
        total: maybe(fc.nat()),
      }),
      fc.record({
        v: maybe(fc.constant(1)),
        type: fc.constant('metric'),
        name: maybe(fc.string()),
        value: maybe(fc.double({ noNaN: true, noDefaultInfinity: true })),
      }),
      fc.record(
        {
          v: maybe(fc.constant(1)),
          type: fc.constant('closed'),
          result: maybe(
            fc.record({
              status_code: maybe(fc.integer({ min: 100, max: 599 })),
              body: maybe(fc.string()),
              metadata: maybe(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 })),
            }),
          ),
          exception: maybe(exception),
          cancelled: maybe(fc.boolean()),
          extra: fc.string(),
        },
        { requiredKeys: ['v', 'type'] },
      ),
      fc.record({ v: fc.constant(1), type: fc.string() }),
    );
    const seen = { byHand: 0, bySchemaOnly: 0, refused: 0 };
    fc.assert(
      fc.property(message, (raw) => {
        const json: unknown = JSON.parse(JSON.stringify(raw)); // what the channel carries
        const zod = MessageSchema.safeParse(json);
        const byHand = messageOf(json);
        if (byHand) {
          expect(zod.success).toBe(true);
          expect(byHand).toStrictEqual(zod.data);
          seen.byHand += 1;
        } else seen[zod.success ? 'bySchemaOnly' : 'refused'] += 1;
      }),
      { numRuns: 2000 },
    );
    // most valid messages take the quick path, and the refusals were exercised
    expect(seen.byHand).toBeGreaterThan(500);
    expect(seen.bySchemaOnly).toBeLessThan(seen.byHand / 10);
    expect(seen.refused).toBeGreaterThan(200);
  });

  it('a configuration: the hand check accepts only what PythonConfigSchema accepts', () => {
    const often = <T>(right: T[], wrong: T[]) =>
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...right) },
        { weight: 1, arbitrary: fc.constantFrom(...wrong) },
      );
    const entry = often(['pipelines.noop:lambda_handler', 'a:b', 'a.b.c:d.e'], ['bad entry', 'nocolon', ':x']);
    const service = fc.oneof(
      entry,
      fc.record(
        {
          entry: maybe(entry),
          payloadSchema: maybe(fc.constant({ type: 'object' })),
          examples: maybe(fc.array(fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }), { maxLength: 2 })),
        },
        { requiredKeys: ['entry'] },
      ),
    );
    const config = fc.record(
      {
        services: maybe(
          fc.dictionary(often(['svc', 'my_service', 'a.b-c'], ['-bad', 'bad name', '']), service, {
            minKeys: 1,
            maxKeys: 3,
          }),
        ),
        interpreter: maybe(often(['python3', '/usr/bin/python3'], [''])),
        cwd: maybe(often(['.', 'pipelines'], [''])),
        pythonPath: maybe(fc.array(often(['src', 'lib'], ['']), { maxLength: 2 })),
        killAfterMs: maybe(
          fc.oneof(
            { weight: 6, arbitrary: fc.integer({ min: -10, max: 700_000 }) },
            { weight: 1, arbitrary: fc.double() },
          ),
        ),
      },
      { requiredKeys: ['services'] },
    );
    // sometimes with a key no schema knows, at the top or in a service
    const withUnknown = fc.tuple(config, fc.constantFrom('top', 'service'), fc.string()).map(([c, where, key]) => {
      if (where === 'top') return { ...c, [key || 'x']: 1 };
      const services = c.services as Record<string, unknown> | undefined;
      const [name] = Object.keys(services ?? {});
      const first = name === undefined ? undefined : services![name];
      if (first && typeof first === 'object') services![name!] = { ...first, [key || 'x']: 1 };
      return c;
    });
    const seen = { byHand: 0, bySchemaOnly: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof({ weight: 3, arbitrary: config }, { weight: 1, arbitrary: withUnknown }), (input) => {
        const zod = PythonConfigSchema.safeParse(input);
        if (validPythonConfig(input)) {
          expect(zod.success).toBe(true);
          seen.byHand += 1;
        } else seen[zod.success ? 'bySchemaOnly' : 'refused'] += 1;
      }),
      { numRuns: 2000 },
    );
    expect(seen.byHand).toBeGreaterThan(100);
    expect(seen.bySchemaOnly).toBe(0); // every configuration zod accepts is one the hand check knows
    expect(seen.refused).toBeGreaterThan(300);
  });
});
