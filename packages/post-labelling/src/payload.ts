import { z } from '@pipeline-invocation/core';

/**
 * The fields every labelling payload has. `prod` labels every pending post; `backfill` labels
 * the posts queued within the last `backfill_duration` `backfill_period` (all pending posts when
 * neither is given); `max_records_per_run` caps a run.
 */
export const LABELLING_PAYLOAD_FIELDS = {
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
};

/** The fields {@link windowStart} reads. */
export interface LabellingWindow {
  run_type: 'prod' | 'backfill';
  backfill_period?: 'days' | 'hours' | null;
  backfill_duration?: number | null;
  max_records_per_run?: number;
}

/**
 * The payload schema of a labelling service: {@link LABELLING_PAYLOAD_FIELDS} plus the
 * classifier's own `extra` fields. Unknown fields are refused rather than silently ignored; the
 * integrations router's nested form `{run_type, payload: {...}, metadata: {...}}` is accepted.
 */
export function labellingPayloadSchema<Extra extends z.ZodRawShape = Record<never, never>>(extra?: Extra) {
  return z.preprocess(
    flattenNested,
    z.strictObject({ ...LABELLING_PAYLOAD_FIELDS, ...(extra ?? ({} as Extra)) }).superRefine((payload, ctx) => {
      const window = payload as LabellingWindow;
      const hasPeriod = window.backfill_period != null;
      const hasDuration = window.backfill_duration != null;
      if (hasPeriod !== hasDuration) {
        ctx.addIssue({
          code: 'custom',
          path: [hasPeriod ? 'backfill_duration' : 'backfill_period'],
          message: 'backfill_period and backfill_duration go together: give both (e.g. "days" and 2) or neither',
        });
      }
      if (window.run_type === 'prod' && (hasPeriod || hasDuration)) {
        ctx.addIssue({ code: 'custom', path: ['run_type'], message: 'a backfill window needs run_type "backfill"' });
      }
    }),
  );
}

/** The payload of a labelling service without extra fields. */
export const LabellingPayloadSchema = labellingPayloadSchema();

/** A validated payload without extra fields. */
export type LabellingPayload = z.infer<typeof LabellingPayloadSchema>;

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

/** The earliest `created_at` a run takes (undefined: no lower bound). */
export function windowStart(payload: LabellingWindow, now: Date): Date | undefined {
  if (payload.run_type !== 'backfill' || payload.backfill_period == null || payload.backfill_duration == null)
    return undefined;
  const hours = payload.backfill_period === 'days' ? payload.backfill_duration * 24 : payload.backfill_duration;
  return new Date(now.getTime() - hours * 3600_000);
}
