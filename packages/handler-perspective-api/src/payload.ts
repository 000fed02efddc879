import { z } from '@pipeline-invocation/core';
import { ATTRIBUTE_NAMES, type Attribute } from './attributes';

/**
 * Payload of `ml_inference_perspective_api`. `prod` labels every pending post; `backfill`
 * labels the posts queued within the last `backfill_duration` `backfill_period` (all pending
 * posts when neither is given). Unknown fields are refused rather than silently ignored.
 */
export const PerspectivePayloadSchema = z.preprocess(
  flattenNested,
  z
    .strictObject({
      run_type: z.enum(['prod', 'backfill'], { error: 'run_type must be "prod" or "backfill"' }),
      backfill_period: z.enum(['days', 'hours'], { error: 'backfill_period must be "days" or "hours"' }).nullish(),
      backfill_duration: z
        .number({ error: 'backfill_duration must be a number' })
        .int({ error: 'backfill_duration must be a whole number' })
        .positive({ error: 'backfill_duration must be positive' })
        .nullish(),
      max_records_per_run: z
        .number()
        .int()
        .positive({ error: 'max_records_per_run must be a positive whole number' })
        .optional(),
      attributes: z
        .array(
          z.enum(ATTRIBUTE_NAMES as [Attribute, ...Attribute[]], {
            error: `attributes must be among ${ATTRIBUTE_NAMES.join(', ')}`,
          }),
        )
        .min(1, { error: 'attributes must name at least one attribute (or be left out for all 21)' })
        .optional(),
    })
    .superRefine((payload, ctx) => {
      const hasPeriod = payload.backfill_period != null;
      const hasDuration = payload.backfill_duration != null;
      if (hasPeriod !== hasDuration) {
        ctx.addIssue({
          code: 'custom',
          path: [hasPeriod ? 'backfill_duration' : 'backfill_period'],
          message: 'backfill_period and backfill_duration go together: give both (e.g. "days" and 2) or neither',
        });
      }
      if (payload.run_type === 'prod' && (hasPeriod || hasDuration)) {
        ctx.addIssue({
          code: 'custom',
          path: ['run_type'],
          message: 'a backfill window needs run_type "backfill"',
        });
      }
    }),
);

/**
 * Accept the integrations router's nested form `{run_type, payload: {...}, metadata: {...}}`
 * (the original's IntegrationPayload) by hoisting `payload`'s fields; the flat form passes as is.
 */
function flattenNested(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const { payload, metadata, ...rest } = input as Record<string, unknown>;
  if (payload === undefined && metadata === undefined) return input;
  const nested = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? payload : {};
  return { ...nested, ...rest };
}

/** A validated payload. */
export type PerspectivePayload = z.infer<typeof PerspectivePayloadSchema>;

/** The earliest `created_at` a run takes (undefined: no lower bound). */
export function windowStart(payload: PerspectivePayload, now: Date): Date | undefined {
  if (payload.run_type !== 'backfill' || payload.backfill_period == null || payload.backfill_duration == null)
    return undefined;
  const hours = payload.backfill_period === 'days' ? payload.backfill_duration * 24 : payload.backfill_duration;
  return new Date(now.getTime() - hours * 3600_000);
}
