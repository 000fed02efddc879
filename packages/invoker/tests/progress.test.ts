import { silentLogger } from '@pipeline-invocation/observability';
import type { Logger } from '@pipeline-invocation/core';
import { ProgressLog } from '../src/cli/progress';

function recording(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, logger: { ...silentLogger, info: (message: string) => void lines.push(message) } };
}

describe('progress as log lines (stderr not a terminal)', () => {
  it('says each 10 % passed, once, whatever the number of updates', () => {
    const { logger, lines } = recording();
    const progress = new ProgressLog(logger, () => 0);
    for (let done = 0; done <= 1000; done++) progress.update(done, 1000);
    expect(lines).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((p) => `progress ${p}% (${p * 10}/1000)`));
  });

  it('says where it is after 30 s without a new 10 %', () => {
    const { logger, lines } = recording();
    let nowMs = 0;
    const progress = new ProgressLog(logger, () => nowMs);
    progress.update(1, 1000);
    nowMs = 29_000;
    progress.update(2, 1000);
    nowMs = 31_000;
    progress.update(3, 1000);
    expect(lines).toEqual(['progress 0% (1/1000)', 'progress 0% (3/1000)']);
  });
});
