import { ConfigError, z } from '@pipeline-invocation/core';

/**
 * Turn a service's JSON Schema into the zod schema its payloads are checked with (zod's own
 * converter, `z.fromJSONSchema`): `type`, `properties`, `required`, `additionalProperties`,
 * `enum`, `const`, `items`, `minItems`/`maxItems`, `minimum`/`maximum` (and exclusive forms),
 * `minLength`/`maxLength`, `pattern`, `format`, `anyOf`/`oneOf`/`allOf`, `nullable` and local
 * `$ref`/`$defs`. Keywords outside that set are ignored.
 *
 * @param field - the configuration field holding the schema, named in errors.
 * @throws ConfigError when zod cannot convert it (an unknown `type`, a `$ref` that is not found).
 */
export function payloadSchemaFromJsonSchema(schema: Record<string, unknown>, field: string): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]) as z.ZodType;
  } catch (error) {
    throw new ConfigError(
      field,
      schema,
      `not a JSON Schema this package can check payloads with (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
}
