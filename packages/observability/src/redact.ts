/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

/** Keys whose values are secrets (case-insensitive, at any depth). */
const SECRET_KEY = /key|token|secret|password|passwd|authorization|credential/i;
/** Keys that match {@link SECRET_KEY} but name ids, not secrets. */
const NOT_SECRET_KEYS = new Set(['idempotency_key', 'idempotencyKey']);

/** Environment variables whose values are always secrets. */
export const SECRET_ENV_VARS = [
  'WANDB_API_KEY',
  'PERSPECTIVE_API_KEY',
  'GOOGLE_API_KEY',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
] as const;

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

  constructor(env: NodeJS.ProcessEnv = process.env, extraSecrets: readonly string[] = []) {
    const fromEnv = Object.entries(env)
      .filter(([name]) => (SECRET_ENV_VARS as readonly string[]).includes(name) || isSecretKey(name))
      .map(([, value]) => value ?? '');
    // Longest first, so a secret that contains another is replaced whole.
    this.secrets = [...new Set([...fromEnv, ...extraSecrets])]
      .filter((value) => value.length >= MIN_SECRET_LENGTH)
      .sort((a, b) => b.length - a.length);
  }

  /** A deep copy of `value` with secrets replaced by {@link REDACTED}. */
  redact<T>(value: T): T {
    return this.walk(value, new WeakSet()) as T;
  }

  /** `text` with every known secret value replaced. */
  redactString(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  private walk(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redactString(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[Circular]';
    seen.add(value);
    if (Array.isArray(value)) return value.map((item) => this.walk(item, seen));
    if (value instanceof Error) {
      return { name: value.name, message: this.redactString(value.message) };
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = isSecretKey(key) && item !== null && typeof item !== 'object' ? REDACTED : this.walk(item, seen);
    }
    return out;
  }
}

/** Whether a key (or variable name) names a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !NOT_SECRET_KEYS.has(key);
}
