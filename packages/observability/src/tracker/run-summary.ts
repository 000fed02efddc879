import type { RunExecutionMetadata, TrackedRunStart } from '@pipeline-invocation/core';
import type { Redactor } from '../redact';

/** The W&B project of a run: `WANDB_PROJECT`, or else the service's own. */
export const projectFor = (service: string, configured: string | undefined) => configured ?? service;

/** The run config sent to W&B: the redacted payload, plus run type and handler package/version. */
export function runConfig(start: TrackedRunStart, redactor: Redactor): Record<string, unknown> {
  return {
    ...redactor.redact(start.payload),
    run_type: start.record.run_type ?? null,
    handler_package: start.record.handler_package,
    handler_version: start.record.handler_version,
    service: start.record.service,
  };
}

/** The fields of the final record logged to W&B. */
export function finalFields(record: RunExecutionMetadata): Record<string, number | string> {
  return {
    status_code: record.status_code,
    duration_ms: record.duration_ms ?? 0,
    status: record.status,
    succeeded: record.status === 'SUCCEEDED' ? 1 : 0,
  };
}

/** W&B exit code: 0 for a successful run, 1 otherwise. */
export const exitCodeOf = (record: RunExecutionMetadata) => (record.status === 'SUCCEEDED' ? 0 : 1);
