// Request validation without loading zod at import: a valid request (the common case) is checked
// by hand, a refused one goes through IntegrationRequestSchema for zod's issues and message, so
// what a caller sees is the same either way (tests/models.test.ts compares the two). The schemas
// (request.ts) and zod load on first use; importing core, or running a valid request, loads neither.
import type { z } from 'zod';
import { InvalidRequestError } from '../errors';
import { findForbiddenKey } from './forbidden-keys';
import type { IntegrationRequest } from './request';

/* eslint-disable @typescript-eslint/no-require-imports -- zod and the schemas load on first use */
const zod = (): typeof import('zod') => require('zod');
const schemas = (): typeof import('./request') => require('./request');
/* eslint-enable @typescript-eslint/no-require-imports */

const REQUEST_KEYS = ['service', 'payload', 'metadata'];

/**
 * Parse and validate an untrusted request.
 *
 * @throws InvalidRequestError naming every bad field (zod's pretty form); the issues are kept
 *   as data on `error.issues`.
 * @example
 * const request = parseIntegrationRequest({ service: 'my_service', payload: { run_type: 'prod' } });
 */
export function parseIntegrationRequest(input: unknown): IntegrationRequest {
  return validRequest(input) ?? parseWith(schemas().IntegrationRequestSchema, input, 'Invalid integration request');
}

/**
 * Validate `input` against any zod schema, throwing {@link InvalidRequestError} with a
 * message that names every bad field.
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidRequestError(`${what}:\n${zod().z.prettifyError(result.error)}`, result.error.issues, {
    cause: result.error,
  });
}

/**
 * What IntegrationRequestSchema makes of `input` when it is a request of the ordinary shape (plain
 * objects with enumerable string keys only); undefined for anything else, valid or not, which the
 * schema then decides.
 */
function validRequest(input: unknown): IntegrationRequest | undefined {
  if (!isPlainRecord(input)) return undefined;
  for (const key of Object.keys(input)) if (!REQUEST_KEYS.includes(key)) return undefined;
  const { service, payload, metadata } = input;
  if (typeof service !== 'string') return undefined;
  const name = service.trim();
  if (name.length < 1) return undefined;
  const validPayload = jsonObject(payload);
  const validMetadata = validPayload && jsonObject(metadata);
  if (!validPayload || !validMetadata) return undefined;
  return { service: name, payload: validPayload, metadata: validMetadata };
}

/** JsonObjectSchema.default({}) of `value` (a copy, as the schema's record makes), or undefined when in doubt. */
function jsonObject(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return {};
  if (!isPlainRecord(value) || findForbiddenKey(value)) return undefined;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = value[key];
  return copy;
}

/**
 * An object whose prototype is Object's (or none), whose own keys are all enumerable strings:
 * what zod's objects and records accept, so a hand check of the ordinary shape (a request here,
 * a plugin's configuration) decides the same as its schema.
 */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return (
    Object.getOwnPropertySymbols(value).length === 0 &&
    Object.getOwnPropertyNames(value).length === Object.keys(value).length
  );
}
