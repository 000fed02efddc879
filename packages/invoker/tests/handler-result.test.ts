import fc from 'fast-check';
import { describeBadHandlerResult, problemsOf } from '../src/handler-result';

describe('describeBadHandlerResult', () => {
  it("names the original's status_code and says it is statusCode here", () => {
    const message = describeBadHandlerResult({ status_code: 200, body: 'ok' });
    expect(message).toContain('"status_code" is spelt "statusCode" here');
    expect(message).toContain('not { statusCode: integer, body: string, metadata?: object }');
    expect(message).not.toContain('statusCode is missing');
  });

  it("names each field of the original's whole dict: metadata as a JSON string, record fields", () => {
    const original = {
      service: 'svc',
      timestamp: '2026-01-01-00:00:00',
      status_code: 200,
      body: 'done',
      metadata_table_name: 'integration_run_metadata',
      metadata: '{"total_classified_posts": 0}',
    };
    const message = describeBadHandlerResult(original);
    expect(message).toContain('"status_code" is spelt "statusCode" here');
    expect(message).toContain('metadata is a JSON string: return the object itself (JSON.parse it)');
    expect(message).toContain('service, timestamp, metadata_table_name are filled in by the executor');
  });

  it('names a body that is not a string, a string status and a bad metadata', () => {
    expect(describeBadHandlerResult({ statusCode: 200, body: { n: 1 } })).toContain(
      'body is an object, not a string: return JSON.stringify(...) of it',
    );
    expect(describeBadHandlerResult({ statusCode: '200', body: 'x' })).toContain(
      'statusCode is the string "200": return the number 200',
    );
    expect(describeBadHandlerResult({ statusCode: 200.5, body: 'x' })).toContain('statusCode is 200.5, not an integer');
    expect(describeBadHandlerResult({ statusCode: 200, body: 'x', metadata: [1] })).toContain(
      'metadata is an array: return an object',
    );
    expect(describeBadHandlerResult({ statusCode: 200, body: 'x', metadata: 'note' })).toContain(
      'metadata is a string: return an object',
    );
    expect(describeBadHandlerResult({ statusCode: 200 })).toContain('body is missing');
  });

  it('says what a non-object is', () => {
    expect(describeBadHandlerResult(undefined)).toContain('the handler returned nothing');
    expect(describeBadHandlerResult('ok')).toContain('it returned a string');
    expect(describeBadHandlerResult([200, 'ok'])).toContain('it returned an array');
    expect(describeBadHandlerResult({ statusCode: 200, body: 'x', then: () => {} })).toContain('await it');
  });

  it('is empty for a valid result', () => {
    expect(describeBadHandlerResult({ statusCode: 200, body: 'ok' })).toBe('');
    expect(describeBadHandlerResult({ statusCode: 503, body: 'busy', metadata: { n: 1 } })).toBe('');
  });

  it('accepts exactly the results the full check finds no problem in (its quick path included)', () => {
    // results built from the fields that matter, right and wrong: the quick path for valid
    // results must agree with the full list of problems on every one
    const field = fc.oneof(
      fc.integer({ min: 100, max: 599 }),
      fc.double(),
      fc.string(),
      fc.constant('200'),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant([]),
      fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }),
      fc.constant(() => {}),
    );
    const keys = ['statusCode', 'body', 'metadata', 'Metadata', 'status_code', 'message', 'then', 'service'];
    const result = fc.oneof(
      fc.dictionary(fc.constantFrom(...keys), field, { maxKeys: 5 }),
      fc.record({ statusCode: fc.integer({ min: 100, max: 599 }), body: fc.string() }),
      fc.record(
        { statusCode: fc.integer(), body: fc.string(), metadata: field, Metadata: field },
        { requiredKeys: ['statusCode', 'body'] },
      ),
      field,
    );
    const seen = { valid: 0, refused: 0 };
    fc.assert(
      fc.property(result, (value) => {
        const valid = describeBadHandlerResult(value) === '';
        expect(valid).toBe(problemsOf(value).length === 0);
        seen[valid ? 'valid' : 'refused'] += 1;
      }),
      { numRuns: 1000 },
    );
    expect(seen.valid).toBeGreaterThan(50);
    expect(seen.refused).toBeGreaterThan(50);
  });
});
