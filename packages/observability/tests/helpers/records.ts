import type { RunExecutionMetadata } from '@pipeline-invocation/core';
import { finished, runningRecord } from '../../../storage/tests/helpers/records';

/** A finished prod run as the tracker sees it (the storage tests' builder, with tracker-friendly figures). */
export function record(overrides: Partial<RunExecutionMetadata> = {}): RunExecutionMetadata {
  return {
    ...finished(runningRecord({ run_type: 'prod', handler_version: '1.2.3', request_metadata: {} })),
    status_code: 200,
    body: 'ok',
    duration_ms: 42,
    ...overrides,
  };
}
