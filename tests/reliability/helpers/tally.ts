import { appendFileSync } from 'node:fs';

/** Heavier counts under `npm run test:soak`. */
export const SOAK = process.env.RELIABILITY_PROFILE === 'soak';

/** Record figures for the summary table printed after the suite. */
export function tally(area: string, figures: { tried: number; passed: number; lost?: number }): void {
  const file = process.env.RELIABILITY_TALLY;
  if (!file) return;
  appendFileSync(
    file,
    `${JSON.stringify({ area, tried: figures.tried, passed: figures.passed, lost: figures.lost ?? 0 })}\n`,
  );
}
