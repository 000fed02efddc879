import type { Logger } from '@pipeline-invocation/core';
import { setStatusLine } from '@pipeline-invocation/observability';
import type { Io } from './io';

const WIDTH = 30;

/** Reports a run's progress: a bar on a terminal, log lines elsewhere. */
export interface ProgressReporter {
  update(done: number, total: number): void;
  clear(): void;
}

/**
 * A one-line progress bar on stderr (when stderr is a terminal). It is the terminal's status
 * line: a log line clears it first and it is drawn again under the log line.
 */
export class ProgressBar implements ProgressReporter {
  private text = '';
  private readonly unregister: () => void;

  constructor(private readonly io: Io) {
    this.unregister = setStatusLine({ clear: () => this.erase(), redraw: () => this.draw() });
  }

  update(done: number, total: number): void {
    const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    const filled = Math.round(ratio * WIDTH);
    this.text = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${Math.round(ratio * 100)}% ${done}/${total}`;
    this.draw();
  }

  clear(): void {
    this.erase();
    this.text = '';
    this.unregister();
  }

  private draw(): void {
    if (this.text) this.io.err(`\r${this.text}`);
  }

  private erase(): void {
    if (this.text) this.io.err(`\r${' '.repeat(this.text.length)}\r`);
  }
}

/**
 * Progress as log lines, for stderr that is not a terminal (CI, a log file): one line each time
 * the run passes another 10 %, or 30 s after the last line, whichever comes first.
 */
export class ProgressLog implements ProgressReporter {
  private lastStep = -1;
  private lastAtMs = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly everyMs = 30_000,
  ) {}

  update(done: number, total: number): void {
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
    const step = Math.floor(percent / 10);
    const nowMs = this.now();
    if (step <= this.lastStep && nowMs - this.lastAtMs < this.everyMs) return;
    this.lastStep = Math.max(step, this.lastStep);
    this.lastAtMs = nowMs;
    this.logger.info(`progress ${percent}% (${done}/${total})`, { done, total });
  }

  clear(): void {}
}
