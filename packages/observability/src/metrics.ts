import type { MetricsSink } from '@pipeline-invocation/core';

/**
 * The metrics sink of one run: forwards each `log` to `forward` (the tracker) with a step,
 * and keeps the latest value of every metric for the run record's `metadata`.
 */
export class RunMetrics implements MetricsSink {
  private step = 0;
  private readonly latest: Record<string, number> = {};

  constructor(private readonly forward: (metrics: Record<string, number>, step: number) => void = () => {}) {}

  log(metrics: Record<string, number>, step?: number): void {
    const clean: Record<string, number> = {};
    for (const [name, value] of Object.entries(metrics ?? {})) {
      if (typeof value === 'number' && Number.isFinite(value)) clean[name] = value;
    }
    const at = step ?? this.step;
    this.step = Math.max(this.step, at + 1);
    Object.assign(this.latest, clean);
    this.forward(clean, at);
  }

  /** The latest value of every metric logged (empty when none was). */
  summary(): Record<string, number> {
    return { ...this.latest };
  }
}
