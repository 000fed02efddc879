import type { Io } from './io';

const WIDTH = 30;

/** A one-line progress bar on stderr (only used when stderr is a terminal). */
export class ProgressBar {
  private shown = false;
  constructor(private readonly io: Io) {}

  update(done: number, total: number): void {
    const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    const filled = Math.round(ratio * WIDTH);
    this.io.err(`\r[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${Math.round(ratio * 100)}% ${done}/${total}`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.io.err(`\r${' '.repeat(WIDTH + 30)}\r`);
    this.shown = false;
  }
}
