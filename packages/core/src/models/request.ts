import { z } from 'zod';
import { JsonObjectSchema } from './json-object';

/**
 * A request to run one service: `{service, payload, metadata}` (wire names as in the
 * original). Unknown top-level fields are refused, so a typo such as `payloads` is reported
 * instead of silently ignored.
 */
export const IntegrationRequestSchema = z.strictObject({
  service: z
    .string({ error: 'service must be a string naming a registered service' })
    .trim()
    .min(1, { error: 'service must not be empty; name a registered service (see `pipeline list`)' }),
  payload: JsonObjectSchema.default({}),
  metadata: JsonObjectSchema.default({}),
});

/** A validated {@link IntegrationRequestSchema}. */
export type IntegrationRequest = z.infer<typeof IntegrationRequestSchema>;

/** The kinds of run the original distinguished. */
export const RunTypeSchema = z.enum(['prod', 'backfill']);
/** `"prod"` or `"backfill"`. */
export type RunType = z.infer<typeof RunTypeSchema>;

/**
 * The common shape of a handler payload: a `run_type` plus whatever the handler defines
 * (callers send a flat payload such as `{run_type: "backfill", backfill_period: "days"}`).
 */
export const IntegrationPayloadSchema = z.looseObject({
  run_type: RunTypeSchema,
});

/** A validated {@link IntegrationPayloadSchema}. */
export type IntegrationPayload = z.infer<typeof IntegrationPayloadSchema>;
