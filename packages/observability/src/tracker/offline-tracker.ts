import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunExecutionMetadata, TrackedRunStart, Tracker } from '@pipeline-invocation/core';
import type { Redactor } from '../redact';
import { exitCodeOf, finalFields, projectFor, runConfig } from './run-summary';

/**
 * `WANDB_MODE=offline`: everything that would have been sent to W&B is written as JSON lines
 * to `<dir>/<run_id>.jsonl` (an `init` line, one `log` line per metrics call, a `finish`
 * line), so nothing is lost and it can be uploaded later.
 */
export class OfflineTracker implements Tracker {
  constructor(
    readonly dir: string,
    private readonly options: { project: string | undefined; entity: string | undefined; redactor: Redactor },
  ) {}

  async start(run: TrackedRunStart): Promise<void> {
    this.write(run.record.run_id, {
      type: 'init',
      project: projectFor(run.record.service, this.options.project),
      entity: this.options.entity ?? null,
      name: run.record.run_id,
      config: runConfig(run, this.options.redactor),
    });
  }

  log(runId: string, metrics: Record<string, number>, step: number): void {
    this.write(runId, { type: 'log', step, data: metrics });
  }

  async finish(record: RunExecutionMetadata): Promise<void> {
    this.write(record.run_id, { type: 'finish', exit_code: exitCodeOf(record), summary: finalFields(record) });
  }

  async close(): Promise<void> {}

  private write(runId: string, line: Record<string, unknown>): void {
    mkdirSync(this.dir, { recursive: true });
    const safe = this.options.redactor.redact({ ...line, time: new Date().toISOString() });
    appendFileSync(join(this.dir, `${runId}.jsonl`), `${JSON.stringify(safe)}\n`);
  }
}
