import { newRunId, type RunExecutionMetadata } from '@pipeline-invocation/core';

/** A run record as the invoker makes it. */
export function record(overrides: Partial<RunExecutionMetadata> = {}): RunExecutionMetadata {
  const now = new Date().toISOString();
  return {
    service: 'svc_a',
    timestamp: now,
    status_code: 200,
    body: 'ok',
    metadata_table_name: 'integration_run_metadata',
    metadata: '{}',
    run_id: newRunId(),
    status: 'SUCCEEDED',
    run_type: 'prod',
    started_at: now,
    ended_at: now,
    duration_ms: 42,
    handler_package: 'pkg',
    handler_version: '1.2.3',
    request_metadata: {},
    ...overrides,
  };
}
