import { describeBadHandlerResult } from '../src/handler-result';

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
});
