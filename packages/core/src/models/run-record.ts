import { z } from 'zod';
import { JsonObjectSchema } from './json-object';

/**
 * Life cycle of a run record: `RUNNING` until the run ends, then exactly one terminal status.
 * The first terminal status written wins; nothing overwrites a terminal record.
 */
export const RunStatusSchema = z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'CRASHED']);
/** `RUNNING` until the handler ends, then one of the terminal states. */
export type RunStatus = z.infer<typeof RunStatusSchema>;

export { CANCELLED_STATUS_CODE, DEFAULT_METADATA_TABLE_NAME } from './run-constants';

/**
 * The record of one run. The first six fields are the original's (`metadata` stays a JSON
 * string); the rest are ours. Timestamps are UTC ISO-8601.
 */
export const RunExecutionMetadataSchema = z.object({
  service: z.string().min(1),
  /** When the run started (UTC ISO-8601). */
  timestamp: z.iso.datetime(),
  status_code: z.number().int(),
  body: z.string(),
  metadata_table_name: z.string(),
  /** The handler's own metadata (and logged metrics), as a JSON string. */
  metadata: z.string(),
  /** Time-ordered unique id (ULID). */
  run_id: z.string().min(1),
  status: RunStatusSchema,
  run_type: z.string().optional(),
  started_at: z.iso.datetime(),
  ended_at: z.iso.datetime().optional(),
  duration_ms: z.number().nonnegative().optional(),
  handler_package: z.string(),
  handler_version: z.string(),
  request_metadata: JsonObjectSchema,
  idempotency_key: z.string().optional(),
  /** SHA-256 of the validated payload (canonical JSON): a key replays only for the same payload. */
  payload_hash: z.string().optional(),
  /** Renewed by the executor while the run is RUNNING; a stale one means its process died. */
  heartbeat_at: z.iso.datetime().optional(),
  /** Set by `pipeline cancel`: the executor aborts the run at its next heartbeat. */
  cancel_requested_at: z.iso.datetime().optional(),
  /** Set on a record returned for an idempotency key instead of running again (never stored). */
  replayed: z.boolean().optional(),
  /** The schedule that started this run (`pipeline schedule add`), when a schedule did. */
  schedule_id: z.string().optional(),
  /**
   * The queue job that ran this run (`<service>/<job id>`, as `enqueueInvocation` returned it),
   * when a queue worker did: a later attempt of the job finds the run a dead worker left RUNNING.
   */
  job_id: z.string().optional(),
  /** The OpenTelemetry trace of the run, when an SDK was recording (32 hex digits). */
  trace_id: z.string().optional(),
  /**
   * For a run that was stopped (CANCELLED, TIMED_OUT): whether its handler had settled when the
   * record was written. `false`: it was still running after its grace period.
   */
  handler_settled: z.boolean().optional(),
  /** Set when the run failed; `retryable` when the handler said a retry may succeed. */
  error: z.object({ name: z.string(), message: z.string(), retryable: z.boolean().optional() }).optional(),
});

/** A run record; see {@link RunExecutionMetadataSchema}. */
export type RunExecutionMetadata = z.infer<typeof RunExecutionMetadataSchema>;

/** What the router returns for every request, success or not. */
export const IntegrationResponseSchema = z.object({
  service: z.string(),
  /** UTC ISO-8601. */
  timestamp: z.iso.datetime(),
  status_code: z.number().int(),
  body: z.string(),
});

/** See {@link IntegrationResponseSchema}. */
export type IntegrationResponse = z.infer<typeof IntegrationResponseSchema>;
