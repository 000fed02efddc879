import { UnserializableMetadataError } from '../errors';

/** A value JSON holds exactly. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Convert `value` to plain JSON faithfully, or throw naming what JSON cannot hold. Unlike
 * `JSON.stringify`, which turns a `Map`, a `Set` or a class instance into `{}` without a word,
 * and throws on a `BigInt` without saying where: a value with `toJSON` (a `Date`) is converted
 * by it, `undefined` object entries are left out (as JSON does), and anything else that is not
 * plain data is an {@link UnserializableMetadataError} naming its path.
 *
 * @example
 * toJsonValue({ at: new Date(0), n: 1 }); // { at: '1970-01-01T00:00:00.000Z', n: 1 }
 * toJsonValue({ big: 1n }); // throws: "... holds a BigInt at metadata.big ..."
 */
export function toJsonValue(value: unknown, path = 'metadata', seen = new Set<object>()): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new UnserializableMetadataError(path, `the number ${value}`);
      return value;
    case 'bigint':
      throw new UnserializableMetadataError(path, 'a BigInt');
    case 'object':
      break;
    default:
      throw new UnserializableMetadataError(path, value === undefined ? 'undefined' : `a ${typeof value}`);
  }
  if (value === null) return null;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return toJsonValue((value as { toJSON(): unknown }).toJSON(), path, seen);
  }
  if (seen.has(value)) throw new UnserializableMetadataError(path, 'a circular reference');
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item, i) => (item === undefined ? null : toJsonValue(item, `${path}[${i}]`, seen)));
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as object).constructor?.name;
      const what = name === 'Map' || name === 'Set' ? `a ${name}` : `an instance of ${name || 'an anonymous class'}`;
      throw new UnserializableMetadataError(path, what);
    }
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = toJsonValue(item, `${path}.${key}`, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** JSON with object keys sorted, so equal data always gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(toJsonValue(value, 'payload')));
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys(value[key]!)]),
  );
}

/**
 * The SHA-256 (hex) of a payload's canonical JSON: stored with an idempotency key, so the key
 * replays only for the same payload.
 */
export function payloadHash(payload: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- node:crypto loads on first use, not with core
  return (require('node:crypto') as typeof import('node:crypto'))
    .createHash('sha256')
    .update(canonicalJson(payload))
    .digest('hex');
}
