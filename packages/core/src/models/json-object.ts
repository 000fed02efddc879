import { z } from 'zod';

const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * A plain JSON object (not an array, not null). Keys that could pollute a prototype
 * (`__proto__`, `constructor`, `prototype`) are refused at any depth, checked on the raw
 * input before anything is copied.
 */
export const JsonObjectSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    const bad = findForbiddenKey(value, []);
    if (bad) {
      ctx.addIssue({
        code: 'custom',
        path: bad.path,
        message: `the key "${bad.key}" is not allowed (it could pollute object prototypes); rename it`,
      });
    }
  })
  .pipe(z.record(z.string(), z.unknown()));

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

const MAX_DEPTH = 64;

function findForbiddenKey(value: unknown, path: PropertyKey[]): { key: string; path: PropertyKey[] } | undefined {
  if (value === null || typeof value !== 'object' || path.length > MAX_DEPTH) return undefined;
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.includes(key)) return { key, path: [...path, key] };
    const found = findForbiddenKey((value as Record<string, unknown>)[key], [...path, key]);
    if (found) return found;
  }
  return undefined;
}
