import fc from 'fast-check';
import {
  IntegrationPayloadSchema,
  IntegrationRequestSchema,
  InvalidRequestError,
  RunExecutionMetadataSchema,
  IntegrationResponseSchema,
  parseIntegrationRequest,
  z,
} from '../src';

function invalid(input: unknown): InvalidRequestError {
  try {
    parseIntegrationRequest(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe('IntegrationRequest', () => {
  it('accepts the documented shape and keeps every field', () => {
    const request = parseIntegrationRequest({
      service: 'ml_inference_perspective_api',
      payload: { run_type: 'backfill', backfill_period: 'days', backfill_duration: 2 },
      metadata: { request_id: '123' },
    });
    expect(request).toEqual({
      service: 'ml_inference_perspective_api',
      payload: { run_type: 'backfill', backfill_period: 'days', backfill_duration: 2 },
      metadata: { request_id: '123' },
    });
  });

  it('defaults metadata (and payload) to empty objects', () => {
    expect(parseIntegrationRequest({ service: 's', payload: { a: 1 } }).metadata).toEqual({});
    expect(parseIntegrationRequest({ service: 's' }).payload).toEqual({});
  });

  it('trims the service name', () => {
    expect(parseIntegrationRequest({ service: '  svc ', payload: {} }).service).toBe('svc');
  });

  it.each([
    ['a missing service', { payload: {} }, 'service'],
    ['an empty service', { service: '', payload: {} }, 'service must not be empty'],
    ['a blank service', { service: '   ', payload: {} }, 'service must not be empty'],
    ['a numeric service', { service: 42, payload: {} }, 'service must be a string'],
    ['an array payload', { service: 's', payload: [1, 2] }, 'payload'],
    ['a string payload', { service: 's', payload: 'run' }, 'payload'],
    ['a null payload', { service: 's', payload: null }, 'payload'],
    ['an array metadata', { service: 's', payload: {}, metadata: [] }, 'metadata'],
    ['an extra field', { service: 's', payload: {}, payloads: {} }, 'payloads'],
    ['a __proto__ key', JSON.parse('{"service":"s","payload":{"__proto__":{"x":1}}}'), '__proto__'],
    ['a constructor key', { service: 's', metadata: { constructor: 1 } }, 'constructor'],
  ])('refuses %s and names the field', (_label, input, fragment) => {
    const error = invalid(input);
    expect(error.message).toContain('Invalid integration request');
    expect(error.message).toContain(fragment);
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.name).toBe('InvalidRequestError');
  });

  it.each([null, undefined, 'text', 12, [], true])('refuses the non-object request %p', (input) => {
    expect(invalid(input).issues[0]?.code).toBe('invalid_type');
  });

  it('names every bad field at once', () => {
    const error = invalid({ service: '', payload: [], metadata: 'x' });
    const paths = error.issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['service', 'payload', 'metadata']));
  });

  it('never pollutes Object.prototype', () => {
    invalid(JSON.parse('{"service":"s","payload":{"__proto__":{"polluted":true}}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('exports the schema for callers who validate themselves', () => {
    expect(IntegrationRequestSchema.safeParse({ service: 's', payload: {} }).success).toBe(true);
  });
});

describe('parseIntegrationRequest without zod', () => {
  // A request of the ordinary shape is checked by hand (no zod loaded); anything else goes through
  // the schema. Either way the answer must be the schema's own, to the key order and the copies.
  const withProto = Object.assign(Object.create({ inherited: 1 }) as object, { a: 1 });
  const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
  const hidden = Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false });
  const symbolKeyed = { a: 1, [Symbol('s')]: 2 };
  const cases: [string, unknown][] = [
    ['the documented shape', { service: 'svc', payload: { run_type: 'prod', n: 1 }, metadata: { request_id: 'r' } }],
    ['keys in another order', { metadata: { b: 1, a: 2 }, payload: { z: 1, 2: 'two', 1: 'one' }, service: 's' }],
    ['no payload or metadata', { service: 's' }],
    ['undefined payload and metadata', { service: 's', payload: undefined, metadata: undefined }],
    ['a service to trim', { service: '\t svc \n', payload: {} }],
    ['nested values', { service: 's', payload: { list: [1, { a: null }], deep: { deeper: { x: 'y' } } } }],
    ['undefined values inside', { service: 's', payload: { a: undefined } }],
    ['a null-prototype payload', { service: 's', payload: nullProto }],
    ['a null-prototype request', Object.assign(Object.create(null) as object, { service: 's', payload: {} })],
    ['a payload with a prototype', { service: 's', payload: withProto }],
    ['a payload with a hidden key', { service: 's', payload: hidden }],
    ['a payload with a symbol key', { service: 's', payload: symbolKeyed }],
    [
      'a class instance payload',
      {
        service: 's',
        payload: new (class Payload {
          a = 1;
        })(),
      },
    ],
    ['a Date payload', { service: 's', payload: new Date(0) }],
    ['an empty service', { service: '', payload: {} }],
    ['a blank service', { service: '   ' }],
    ['a numeric service', { service: 42 }],
    ['an array payload', { service: 's', payload: [1] }],
    ['a null metadata', { service: 's', metadata: null }],
    ['an extra field', { service: 's', payloads: {} }],
    ['a nested __proto__ key', JSON.parse('{"service":"s","payload":{"a":{"__proto__":{"x":1}}}}')],
    ['a prototype key', { service: 's', metadata: { prototype: 1 } }],
    ['an array request', [{ service: 's' }]],
    ['a string request', 'svc'],
  ];

  it.each(cases)('answers %s as IntegrationRequestSchema does', (_label, input) => {
    const expected = IntegrationRequestSchema.safeParse(input);
    if (expected.success) {
      const request = parseIntegrationRequest(input);
      expect(request).toStrictEqual(expected.data);
      expect(Object.keys(request.payload)).toEqual(Object.keys(expected.data.payload));
      expect(Object.keys(request.metadata)).toEqual(Object.keys(expected.data.metadata));
      const given = (input as { payload?: unknown }).payload;
      if (given !== undefined) expect(request.payload).not.toBe(given); // a copy, as zod's record makes
    } else {
      const error = invalid(input);
      expect(error.issues).toEqual(expected.error.issues);
      expect(error.message).toBe(`Invalid integration request:\n${z.prettifyError(expected.error)}`);
    }
  });

  it('answers random requests as IntegrationRequestSchema does (fast-check)', () => {
    let accepted = 0;
    let refused = 0;
    const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype', 'run_type', '0'));
    const value = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(undefined, null, new Date(0), Symbol.for('s'), 1n),
      fc.dictionary(key, fc.jsonValue(), { maxKeys: 3 }),
    );
    // weighted towards requests of the ordinary shape, so both answers come often
    const object = fc.oneof(
      { arbitrary: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), weight: 6 },
      { arbitrary: fc.dictionary(key, value, { maxKeys: 4 }), weight: 2 },
      { arbitrary: value, weight: 1 },
      { arbitrary: fc.constant(undefined), weight: 2 },
    );
    const service = fc.oneof(
      { arbitrary: fc.string({ minLength: 1 }), weight: 6 },
      { arbitrary: fc.constantFrom(' svc ', '', '  '), weight: 1 },
      { arbitrary: fc.integer(), weight: 1 },
    );
    const request = fc.oneof(
      {
        arbitrary: fc.record({ service, payload: object, metadata: object }, { requiredKeys: ['service'] }),
        weight: 8,
      },
      { arbitrary: fc.record({ service, payload: object, extra: fc.jsonValue() }, { requiredKeys: [] }), weight: 1 },
      { arbitrary: fc.anything(), weight: 1 },
    );
    fc.assert(
      fc.property(request, (input) => {
        const expected = IntegrationRequestSchema.safeParse(input);
        if (expected.success) {
          accepted += 1;
          expect(parseIntegrationRequest(input)).toStrictEqual(expected.data);
        } else {
          refused += 1;
          expect(invalid(input).issues).toEqual(expected.error.issues);
        }
      }),
      { numRuns: 500 },
    );
    // both paths were taken
    expect([accepted > 50, refused > 50]).toEqual([true, true]);
  });
});

describe('IntegrationPayload', () => {
  it('requires run_type prod or backfill and keeps other fields', () => {
    expect(IntegrationPayloadSchema.parse({ run_type: 'prod', extra: 1 })).toEqual({ run_type: 'prod', extra: 1 });
    expect(IntegrationPayloadSchema.safeParse({ run_type: 'daily' }).success).toBe(false);
    expect(IntegrationPayloadSchema.safeParse({}).success).toBe(false);
  });
});

describe('RunExecutionMetadata', () => {
  const record = {
    service: 's',
    timestamp: '2026-11-21T10:00:00.000Z',
    status_code: 200,
    body: 'ok',
    metadata_table_name: 'integration_run_metadata',
    metadata: '{}',
    run_id: '01JABCDEFGHJKMNPQRSTVWXYZ0',
    status: 'SUCCEEDED',
    started_at: '2026-11-21T10:00:00.000Z',
    ended_at: '2026-11-21T10:00:01.000Z',
    duration_ms: 1000,
    handler_package: 'pkg',
    handler_version: '1.0.0',
    request_metadata: {},
  };

  it('accepts a complete record and an error object on failure', () => {
    expect(RunExecutionMetadataSchema.parse(record)).toEqual(record);
    const failed = { ...record, status: 'FAILED', error: { name: 'Error', message: 'boom' } };
    expect(RunExecutionMetadataSchema.parse(failed).error).toEqual({ name: 'Error', message: 'boom' });
  });

  it.each([
    ['status_code', 200.5],
    ['status', 'DONE'],
    ['timestamp', '2026-11-21-10:00:00'],
    ['metadata', { not: 'a string' }],
    ['duration_ms', -1],
  ])('refuses a wrong %s', (field, value) => {
    const result = RunExecutionMetadataSchema.safeParse({ ...record, [field]: value });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([field]);
  });
});

describe('IntegrationResponse', () => {
  it('has the four router fields', () => {
    const response = { service: 's', timestamp: '2026-11-21T10:00:00Z', status_code: 404, body: 'no' };
    expect(IntegrationResponseSchema.parse(response)).toEqual(response);
    expect(IntegrationResponseSchema.safeParse({ ...response, status_code: '404' }).success).toBe(false);
  });
});
