import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { RunExecutionMetadata, RunStore } from '@pipeline-invocation/core';

/** Result of {@link Outbox.flush}. */
export interface FlushResult {
  /** Records written to the store. */
  readonly written: number;
  /** Records that still could not be written (kept in the outbox). */
  readonly remaining: number;
  /** The last error met, when some remain. */
  readonly error?: unknown;
}

/**
 * Records that could not be written to the run store, kept in a JSON-lines file (each append
 * is fsync'ed) until {@link Outbox.flush} writes them. Replaying is safe to repeat: records
 * are written by `run_id`, so a record lands exactly once.
 */
export class Outbox {
  readonly file: string;

  constructor(file: string) {
    this.file = resolve(file);
  }

  /** Append `record`, durably. */
  append(record: RunExecutionMetadata): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(record)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** The records waiting (skips lines that are not JSON, e.g. a torn last line). */
  pending(): RunExecutionMetadata[] {
    return this.read(this.file);
  }

  /**
   * Write every waiting record to `store`. The file is first renamed, so two processes never
   * replay the same lines; whatever still fails is appended back.
   */
  async flush(store: RunStore): Promise<FlushResult> {
    if (!existsSync(this.file)) return { written: 0, remaining: 0 };
    const claimed = `${this.file}.${process.pid}.${Date.now()}.replaying`;
    try {
      renameSync(this.file, claimed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { written: 0, remaining: 0 };
      throw error;
    }
    let written = 0;
    let lastError: unknown;
    const failed: RunExecutionMetadata[] = [];
    for (const record of this.read(claimed)) {
      if (lastError !== undefined) {
        failed.push(record);
        continue;
      }
      try {
        await store.finish(record);
        written += 1;
      } catch (error) {
        lastError = error;
        failed.push(record);
      }
    }
    for (const record of failed) this.append(record);
    unlinkSync(claimed);
    return lastError === undefined
      ? { written, remaining: 0 }
      : { written, remaining: failed.length, error: lastError };
  }

  private read(file: string): RunExecutionMetadata[] {
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as RunExecutionMetadata];
        } catch {
          return [];
        }
      });
  }
}
