import type { RunExecutionMetadata } from '../models/run-record';
import type { KeyCondition, KeyItem, RunCondition } from '../store';

/**
 * Evaluate a condition on a run's item, for stores that check conditions in code (memory;
 * SQLite inside its write transaction). DynamoDB compiles the same clauses to a
 * `ConditionExpression`. This is evaluation only: which condition a transition uses is the
 * lifecycle module's choice.
 */
export function runSatisfies(current: RunExecutionMetadata | undefined, when: RunCondition): boolean {
  return when.some((clause) => {
    if (clause.exists !== undefined && clause.exists !== (current !== undefined)) return false;
    if (!current) return clause.exists === false;
    if (clause.statusIn && !clause.statusIn.includes(current.status)) return false;
    if (
      clause.heartbeatBefore !== undefined &&
      !((current.heartbeat_at ?? current.started_at) < clause.heartbeatBefore)
    )
      return false;
    if (clause.cancelRequested !== undefined && clause.cancelRequested !== (current.cancel_requested_at !== undefined))
      return false;
    if (clause.endedAt !== undefined && current.ended_at !== clause.endedAt) return false;
    return true;
  });
}

/** Evaluate a condition on a key's item (see {@link runSatisfies}). */
export function keySatisfies(current: KeyItem | undefined, when: KeyCondition): boolean {
  return when.some((clause) => {
    if (clause.exists !== undefined && clause.exists !== (current !== undefined)) return false;
    if (!current) return clause.exists === false;
    if (clause.ownerIs !== undefined && current.run_id !== clause.ownerIs) return false;
    if (clause.statusIn && !clause.statusIn.includes(current.status)) return false;
    if (clause.heartbeatBefore !== undefined && !(current.heartbeat_at < clause.heartbeatBefore)) return false;
    return true;
  });
}

/**
 * Whether `when` looks at nothing but whether the run's item exists and its status (a clause
 * naming anything else, including a field added later, needs the whole record): a store that
 * keeps the status beside the record (SQLite's column, the memory store's map) can then evaluate
 * it on the status alone.
 */
export function onStatusOnly(when: RunCondition): boolean {
  for (const clause of when) {
    for (const field in clause) {
      if (field !== 'exists' && field !== 'statusIn' && clause[field as keyof typeof clause] !== undefined)
        return false;
    }
  }
  return true;
}
