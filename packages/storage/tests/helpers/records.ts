import { newRunId, type RunExecutionMetadata } from '@pipeline-invocation/core';

/** A RUNNING record as the invoker writes it, with overrides. */
export function runningRecord(overrides: Partial<RunExecutionMetadata> = {}): RunExecutionMetadata {
  const now = new Date().toISOString();
  return {
    service: 'svc_a',
    timestamp: now,
    status_code: 0,
    body: '',
    metadata_table_name: 'integration_run_metadata',
    metadata: '{}',
    run_id: newRunId(),
    status: 'RUNNING',
    started_at: now,
    handler_package: 'pkg',
    handler_version: '1.0.0',
    request_metadata: { request_id: 'r-1', nested: { list: [1, 2] } },
    ...overrides,
  };
}

/** The final record of `record`. */
export function finished(
  record: RunExecutionMetadata,
  status: RunExecutionMetadata['status'] = 'SUCCEEDED',
): RunExecutionMetadata {
  return {
    ...record,
    status,
    status_code: status === 'SUCCEEDED' ? 200 : 500,
    body: status === 'SUCCEEDED' ? 'done' : 'failed',
    ended_at: new Date().toISOString(),
    duration_ms: 12.5,
    ...(status === 'SUCCEEDED' ? {} : { error: { name: 'Error', message: 'boom' } }),
  };
}
