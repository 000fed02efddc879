import type { MetricsSink } from '@pipeline-invocation/core';

/**
 * The metrics sink of one run: forwards each `log` to `forward` (the tracker) with a step,
 * and keeps the latest value of every metric for the run record's `metadata`.
 */
export class RunMetrics implements MetricsSink {
  private step = 0;
  private readonly latest: Record<string, number> = {};
  private readonly series: Record<string, [number, number][]> = {};

  constructor(private readonly forward: (metrics: Record<string, number>, step: number) => void = () => {}) {}

  log(metrics: Record<string, number>, step?: number): void {
    const clean: Record<string, number> = {};
    for (const [name, value] of Object.entries(metrics ?? {})) {
      if (typeof value === 'number' && Number.isFinite(value)) clean[name] = value;
    }
    const at = step ?? this.step;
    this.step = Math.max(this.step, at + 1);
    Object.assign(this.latest, clean);
    for (const [name, value] of Object.entries(clean)) {
      const points = (this.series[name] ??= []);
      points.push([at, value]);
      // bounded: past the limit, keep every other point (the curve's shape, not its every step)
      if (points.length > RunMetrics.MAX_POINTS) this.series[name] = points.filter((_, i) => i % 2 === 0);
    }
    this.forward(clean, at);
  }

  /** Points kept per metric for {@link steps}. */
  static readonly MAX_POINTS = 200;

  /** Each metric's `[step, value]` points, at most {@link MAX_POINTS} each (the dashboard draws them). */
  steps(): Record<string, [number, number][]> {
    return Object.fromEntries(Object.entries(this.series).map(([name, points]) => [name, [...points]]));
  }

  /** The latest value of every metric logged (empty when none was). */
  summary(): Record<string, number> {
    return { ...this.latest };
  }
}
