import { z } from 'zod';
import { findForbiddenKey } from './forbidden-keys';

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
