import type { KeyCondition, RunCondition } from '@pipeline-invocation/core';
import { statusShardOf } from './layout';

/**
 * A condition compiled to DynamoDB: its clauses (each a list of parts that must all hold), with
 * their names and values, or `never` (no clause can hold, e.g. `[]`: nothing is sent). Every
 * clause names the item's existence, so there is always something to send otherwise.
 */
export type CompiledCondition =
  | {
      readonly kind: 'expression';
      readonly clauses: readonly (readonly string[])[];
      readonly names: Record<string, string>;
      readonly values: Record<string, unknown>;
    }
  | { readonly kind: 'never' };

/**
 * The `ConditionExpression` of a compiled condition, ANDed with `guard` when given. Parentheses
 * only where precedence needs them: DynamoDB refuses redundant ones (`((a))`).
 */
export function renderCondition(condition: Extract<CompiledCondition, { kind: 'expression' }>, guard?: string): string {
  const { clauses } = condition;
  if (clauses.length === 1) return [...(guard ? [guard] : []), ...clauses[0]!].join(' AND ');
  const any = clauses.map((parts) => (parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`)).join(' OR ');
  return guard ? `${guard} AND (${any})` : any;
}

/** Collects placeholders (`#n0`, `:v0`) so that no two parts of an expression share one by accident. */
class Placeholders {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private counter = 0;

  name(attribute: string): string {
    const placeholder = `#${attribute.replace(/[^A-Za-z0-9_]/g, '_')}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
}

/** The clauses that can hold (an OR of ANDed parts). */
function assemble(clauses: (string[] | 'never')[], p: Placeholders): CompiledCondition {
  const possible = clauses.filter((c): c is string[] => c !== 'never');
  if (possible.length === 0) return { kind: 'never' };
  return { kind: 'expression', clauses: possible, names: p.names, values: p.values };
}

/**
 * Compile a condition on a run's item (core's `RunCondition`, evaluated by `runSatisfies`) to a
 * `ConditionExpression` with the same meaning:
 *
 * - `exists: false` → `attribute_not_exists(run_id)` (the clause's other fields cannot apply to
 *   an item that is not there); every other clause starts with `attribute_exists(run_id)`.
 * - `statusIn` → `#status IN (…)`. A run item of layout 2 (written before `pipeline storage
 *   migrate`) holds `<STATUS>#NN`; that value matches too, so a run in flight across the upgrade
 *   can still finish.
 * - `heartbeatBefore` → `heartbeat_at < :c OR (attribute_not_exists(heartbeat_at) AND
 *   started_at < :c)`: ISO-8601 UTC times compare as strings.
 * - `cancelRequested` → `attribute_exists(cancel_requested_at)` or `attribute_not_exists(…)`.
 * - `endedAt` → `ended_at = :e`.
 *
 * `runId` is the run the item belongs to (for layout 2's shard suffix).
 */
export function compileRunCondition(when: RunCondition, runId: string): CompiledCondition {
  const p = new Placeholders();
  const clauses = when.map((clause): string[] | 'never' => {
    if (clause.exists === false) return ['attribute_not_exists(run_id)'];
    const parts = ['attribute_exists(run_id)'];
    if (clause.statusIn) {
      if (clause.statusIn.length === 0) return 'never';
      const values = clause.statusIn.flatMap((s) => [p.value(s), p.value(statusShardOf(s, runId))]);
      parts.push(`${p.name('status')} IN (${values.join(', ')})`);
    }
    if (clause.heartbeatBefore !== undefined) {
      const cutoff = p.value(clause.heartbeatBefore);
      parts.push(`(heartbeat_at < ${cutoff} OR (attribute_not_exists(heartbeat_at) AND started_at < ${cutoff}))`);
    }
    if (clause.cancelRequested !== undefined) {
      parts.push(`${clause.cancelRequested ? 'attribute_exists' : 'attribute_not_exists'}(cancel_requested_at)`);
    }
    if (clause.endedAt !== undefined) parts.push(`ended_at = ${p.value(clause.endedAt)}`);
    return parts;
  });
  return assemble(clauses, p);
}

/**
 * Compile a condition on a key's item (core's `KeyCondition`, evaluated by `keySatisfies`):
 * `exists: false` → `attribute_not_exists(service)` (the partition key), `ownerIs` →
 * `owner_run_id = :o`, `statusIn` → `owner_status IN (…)`, `heartbeatBefore` →
 * `heartbeat_at < :c`; every clause but `exists: false` starts with `attribute_exists(service)`.
 */
export function compileKeyCondition(when: KeyCondition): CompiledCondition {
  const p = new Placeholders();
  const clauses = when.map((clause): string[] | 'never' => {
    if (clause.exists === false) return ['attribute_not_exists(service)'];
    const parts = ['attribute_exists(service)'];
    if (clause.ownerIs !== undefined) parts.push(`owner_run_id = ${p.value(clause.ownerIs)}`);
    if (clause.statusIn) {
      if (clause.statusIn.length === 0) return 'never';
      parts.push(`owner_status IN (${clause.statusIn.map((s) => p.value(s)).join(', ')})`);
    }
    if (clause.heartbeatBefore !== undefined) parts.push(`heartbeat_at < ${p.value(clause.heartbeatBefore)}`);
    return parts;
  });
  return assemble(clauses, p);
}
