// The prototype-pollution check of JsonObjectSchema, without zod: parseIntegrationRequest's fast
// path runs it too, so a valid request is checked without loading zod.

const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];
const MAX_DEPTH = 64;

/**
 * The first key at any depth of `value` that could pollute a prototype (`__proto__`,
 * `constructor`, `prototype`), with its path; undefined when there is none.
 */
export function findForbiddenKey(
  value: unknown,
  path: PropertyKey[] = [],
): { key: string; path: PropertyKey[] } | undefined {
  if (value === null || typeof value !== 'object' || path.length > MAX_DEPTH) return undefined;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.includes(key)) return { key, path: [...path, key] };
    const item = (value as Record<string, unknown>)[key];
    // (a value that is no object has no keys: no call, and no path made for it)
    if (item === null || typeof item !== 'object') continue;
    const found = findForbiddenKey(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}
