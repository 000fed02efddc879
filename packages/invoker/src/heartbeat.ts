import {
  RunCancelledError,
  describe,
  isTerminal,
  type Clock,
  type Logger,
  type RunExecutionMetadata,
  type RunLifecycle,
  type TimerHandle,
} from '@pipeline-invocation/core';

/**
 * Renews a RUNNING record's heartbeat (through the lifecycle, which renews its key's too) every
 * `intervalMs` while its handler runs, and reads back what other processes wrote: a
 * `pipeline cancel` request, or a terminal status (the run was marked CRASHED because its
 * heartbeat had gone stale). Either aborts the run through `abort`. A failed renewal is logged
 * and tried again at the next tick: the store being slow must not fail a run that is otherwise fine.
 */
export class Heartbeat {
  private timer: TimerHandle | undefined;
  private inFlight = false;
  private warned = false;

  constructor(
    private readonly lifecycle: RunLifecycle,
    private readonly run: Pick<RunExecutionMetadata, 'service' | 'run_id' | 'idempotency_key'>,
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly abort: (reason: RunCancelledError) => void,
  ) {}

  start(): void {
    // Not unref'd: while a run is RUNNING its process must stay alive, even when the handler
    // awaits nothing but its abort signal; otherwise Node would exit and strand the record.
    this.timer = this.clock.setInterval(() => void this.beat(), this.intervalMs);
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One renewal; skipped while the previous one is still under way. */
  private async beat(): Promise<void> {
    if (this.inFlight || !this.timer) return;
    this.inFlight = true;
    try {
      const stored = await this.lifecycle.heartbeat(this.run);
      this.warned = false;
      if (stored && isTerminal(stored.status)) {
        this.abort(new RunCancelledError(`the run was ended elsewhere as ${stored.status}`));
      } else if (stored?.cancel_requested_at) {
        this.abort(new RunCancelledError(`cancel requested at ${stored.cancel_requested_at}`));
      }
    } catch (error) {
      if (!this.warned) this.logger.warn(`could not renew the run's heartbeat: ${describe(error)}`);
      this.warned = true;
    } finally {
      this.inFlight = false;
    }
  }
}
