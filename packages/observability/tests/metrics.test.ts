import { RunMetrics } from '../src';

describe('RunMetrics', () => {
  it('forwards each log with a growing step and keeps the latest value of each metric', () => {
    const seen: [Record<string, number>, number][] = [];
    const metrics = new RunMetrics((m, step) => seen.push([m, step]));
    metrics.log({ labelled: 1 });
    metrics.log({ labelled: 5, failed: 2 });
    metrics.log({ rate: 9.5 }, 10);
    metrics.log({ labelled: 7 });
    expect(seen.map(([, step]) => step)).toEqual([0, 1, 10, 11]);
    expect(metrics.summary()).toEqual({ labelled: 7, failed: 2, rate: 9.5 });
  });

  it('drops values that are not finite numbers instead of failing the run', () => {
    const metrics = new RunMetrics();
    metrics.log({ ok: 1, nan: NaN, inf: Infinity, text: 'x' as unknown as number });
    expect(metrics.summary()).toEqual({ ok: 1 });
  });
});
