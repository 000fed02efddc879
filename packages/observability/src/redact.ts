/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

/**
 * Key names whose values are secrets, at any depth of a record, log line or tracked value.
 * Whole names only, compared case-insensitively with `_` and `-` ignored (so `api_key`,
 * `apiKey` and `X-Api-Key` are one name), never as substrings: `max_tokens`, `keyword` or
 * `tokenizer` are data. Extend it with {@link RedactorOptions.secretKeys}.
 */
export const SECRET_KEY_NAMES: readonly string[] = Object.freeze([
  'api_key',
  'x_api_key',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'auth_token',
  'session_token',
  'secret',
  'client_secret',
  'secret_key',
  'secret_access_key',
  'aws_secret_access_key',
  'aws_session_token',
  'private_key',
  'password',
  'passwd',
  'authorization',
  'cookie',
  'set_cookie',
  'credentials',
]);

/** Environment variable names whose values are secrets: these, and names ending like a secret. */
const SECRET_ENV_NAME = /(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/i;

const normalised = new Map<string, string>();
/** `key` lower-cased without `_` and `-`; remembered, since records and logs reuse a few keys. */
function normalise(key: string): string {
  let out = normalised.get(key);
  if (out === undefined) {
    out = key.toLowerCase().replace(/[-_]/g, '');
    if (normalised.size < 10_000) normalised.set(key, out);
  }
  return out;
}
const DEFAULT_SECRET_KEYS: ReadonlySet<string> = new Set(SECRET_KEY_NAMES.map(normalise));

/** Options of {@link Redactor}. */
export interface RedactorOptions {
  /** More key names whose values are secrets (whole names, as {@link SECRET_KEY_NAMES}). */
  secretKeys?: readonly string[];
  /**
   * More environment variables whose values are secrets: the ones plugins declare `secret` in
   * their manifests (names that do not look secret, such as `OPENAI_ORG_ID`, included).
   */
  secretEnvNames?: readonly string[];
}

/**
 * The host's environment variables whose values are always secrets. A plugin's secrets are
 * declared in its manifest and passed as {@link RedactorOptions.secretEnvNames}.
 */
export const SECRET_ENV_VARS = ['WANDB_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

const MIN_SECRET_LENGTH = 6;

/**
 * Redacts secrets from anything before it is logged, tracked or recorded: values under
 * secret-looking keys, and every occurrence of a known secret value (the secret environment
 * variables, and any variable whose name looks secret) inside strings.
 * One instance serves logs, the tracker and run records, so the rules live in one place.
 *
 * @example
 * const redactor = new Redactor(process.env);
 * redactor.redact({ api_key: 'abc', text: `key=${process.env.WANDB_API_KEY}` });
 * // -> { api_key: '[REDACTED]', text: 'key=[REDACTED]' }
 */
export class Redactor {
  private readonly secrets: string[];
  private readonly secretKeys: ReadonlySet<string>;

  constructor(
    env: NodeJS.ProcessEnv = process.env,
    extraSecrets: readonly string[] = [],
    options: RedactorOptions = {},
  ) {
    this.secretKeys = new Set([...DEFAULT_SECRET_KEYS, ...(options.secretKeys ?? []).map(normalise)]);
    const fromEnv = Object.entries(env)
      .filter(
        ([name]) =>
          (SECRET_ENV_VARS as readonly string[]).includes(name) ||
          options.secretEnvNames?.includes(name) ||
          isSecretEnvName(name),
      )
      .map(([, value]) => value ?? '');
    // Longest first, so a secret that contains another is replaced whole.
    this.secrets = [...new Set([...fromEnv, ...extraSecrets])]
      .filter((value) => value.length >= MIN_SECRET_LENGTH)
      .sort((a, b) => b.length - a.length);
  }

  /**
   * A deep copy of `value` with secrets replaced by {@link REDACTED}; an object inside itself
   * (a cycle) becomes `'[Circular]'`.
   */
  redact<T>(value: T): T {
    return this.walk(value, undefined) as T;
  }

  /** `text` with every known secret value replaced. */
  redactString(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** `value` redacted; `path` holds the objects it is inside of (a cycle is one of them), made at the first object. */
  private walk(value: unknown, path: object[] | undefined): unknown {
    if (typeof value === 'string') return this.redactString(value);
    if (value === null || typeof value !== 'object') return value;
    path ??= [];
    if (path.includes(value)) return '[Circular]';
    if (value instanceof Error) {
      return { name: value.name, message: this.redactString(value.message) };
    }
    path.push(value);
    let out: unknown;
    if (Array.isArray(value)) out = value.map((item) => this.walk(item, path));
    else {
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key];
        copy[key] =
          this.secretKeys.has(normalise(key)) && item !== null && typeof item !== 'object'
            ? REDACTED
            : this.walk(item, path);
      }
      out = copy;
    }
    path.pop();
    return out;
  }
}

/** Whether a record key names a secret (a whole name of {@link SECRET_KEY_NAMES}). */
export function isSecretKey(key: string): boolean {
  return DEFAULT_SECRET_KEYS.has(normalise(key));
}

/** Whether an environment variable holds a secret: a known one, or a name ending in `_KEY`, `_TOKEN`, `_SECRET`, `_PASSWORD`... */
export function isSecretEnvName(name: string): boolean {
  return (SECRET_ENV_VARS as readonly string[]).includes(name) || SECRET_ENV_NAME.test(name);
}
