import { REDACTED, Redactor, isSecretKey } from '../src';

describe('Redactor', () => {
  const env = {
    WANDB_API_KEY: 'wandb-key-123456',
    PERSPECTIVE_API_KEY: 'persp-key-abcdef',
    GOOGLE_API_KEY: 'google-key-zzzzzz',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-999999',
    MY_SERVICE_TOKEN: 'custom-token-777777',
    HOME: '/home/someone',
    SHORT_KEY: 'abc',
  };
  const redactor = new Redactor(env);

  it('redacts values under secret-looking keys at any depth, case-insensitively', () => {
    const input = {
      api_key: 'x',
      Authorization: 'Bearer y',
      nested: { deeper: [{ PASSWORD: 'p', accessToken: 't', client_secret: 's', keep: 'visible' }] },
      count: 3,
    };
    expect(redactor.redact(input)).toEqual({
      api_key: REDACTED,
      Authorization: REDACTED,
      nested: { deeper: [{ PASSWORD: REDACTED, accessToken: REDACTED, client_secret: REDACTED, keep: 'visible' }] },
      count: 3,
    });
    expect(input.api_key).toBe('x');
  });

  it('keeps idempotency keys, which are ids and not secrets', () => {
    expect(redactor.redact({ idempotency_key: 'job-1' })).toEqual({ idempotency_key: 'job-1' });
    expect(isSecretKey('idempotency_key')).toBe(false);
    expect(isSecretKey('x-api-key')).toBe(true);
  });

  it('replaces every secret environment value wherever it appears in strings', () => {
    const text = `calling https://x/analyze?key=${env.PERSPECTIVE_API_KEY} with ${env.WANDB_API_KEY} and ${env.MY_SERVICE_TOKEN}`;
    const out = redactor.redactString(text);
    for (const secret of [env.PERSPECTIVE_API_KEY, env.WANDB_API_KEY, env.MY_SERVICE_TOKEN]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('https://x/analyze?key=[REDACTED]');
    expect(redactor.redact({ message: `failed: ${env.AWS_SECRET_ACCESS_KEY}` })).toEqual({
      message: 'failed: [REDACTED]',
    });
  });

  it('leaves ordinary values and too-short values alone', () => {
    expect(redactor.redactString('/home/someone abc')).toBe('/home/someone abc');
  });

  it('handles errors and cycles', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(redactor.redact(cyclic)).toEqual({ a: 1, self: '[Circular]' });
    expect(redactor.redact({ err: new Error(`bad ${env.GOOGLE_API_KEY}`) })).toEqual({
      err: { name: 'Error', message: 'bad [REDACTED]' },
    });
  });
});
