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

  it('matches whole key names only: data whose key merely contains "key" or "token" is kept', () => {
    const data = { max_tokens: 512, tokens_per_second: 40.5, keyword: 'toxicity', tokenizer: 'bpe', monkey: 'ok' };
    expect(redactor.redact(data)).toEqual(data);
    for (const key of ['max_tokens', 'tokens_per_second', 'keyword', 'tokenizer', 'keys', 'primary_key_count']) {
      expect(isSecretKey(key)).toBe(false);
    }
  });

  it('redacts the secret key names in every spelling', () => {
    const names = ['api_key', 'apiKey', 'API-KEY', 'token', 'access_token', 'accessToken', 'secret', 'client_secret'];
    const more = ['password', 'Authorization', 'cookie', 'Set-Cookie', 'x-api-key', 'refresh_token', 'private_key'];
    const input = Object.fromEntries([...names, ...more].map((k) => [k, 'value-1234567']));
    expect(Object.values(redactor.redact(input))).toEqual([...names, ...more].map(() => REDACTED));
  });

  it('can be extended with more key names', () => {
    const custom = new Redactor({}, [], { secretKeys: ['bsky_app_password', 'signing-salt'] });
    expect(custom.redact({ BSKY_APP_PASSWORD: 'p', signingSalt: 's', salt_count: 2 })).toEqual({
      BSKY_APP_PASSWORD: REDACTED,
      signingSalt: REDACTED,
      salt_count: 2,
    });
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
    expect(redactor.redact([cyclic])).toEqual([{ a: 1, self: '[Circular]' }]);
    // an object met twice, not inside itself, is no cycle: each place gets its copy
    const shared = { token: 'abc', note: `key ${env.GOOGLE_API_KEY}` };
    expect(redactor.redact({ first: shared, second: [shared] })).toEqual({
      first: { token: '[REDACTED]', note: 'key [REDACTED]' },
      second: [{ token: '[REDACTED]', note: 'key [REDACTED]' }],
    });
    expect(redactor.redact({ err: new Error(`bad ${env.GOOGLE_API_KEY}`) })).toEqual({
      err: { name: 'Error', message: 'bad [REDACTED]' },
    });
  });
});
