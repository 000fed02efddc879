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

/** Figures of a model-based suite: every one counted from what ran. */
export interface ModelTally {
  /** Checks made (each prediction and invariant, after each command). */
  readonly cases: number;
  /** Command sequences run (shrinking runs included). */
  readonly sequences: number;
  readonly commands: number;
  readonly violations: number;
}

/** Record a model-based suite's figures for the summary's model table. */
export function tallyModel(area: string, figures: ModelTally): void {
  const file = process.env.RELIABILITY_TALLY;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ kind: 'model', area, ...figures })}\n`);
}

/**
 * The figures of one case, counted from what it observed: each scenario is `observe`d with the
 * outcome the case saw (before any assertion), so a case that goes wrong counts as tried and not
 * passed instead of vanishing from the table.
 */
export class CaseFigures {
  tried = 0;
  passed = 0;
  lost = 0;

  /** One scenario tried; passed when `ok`. Returns `ok`. */
  observe(ok: boolean): boolean {
    this.tried += 1;
    if (ok) this.passed += 1;
    return ok;
  }

  /** Records that should exist and were not found. */
  lose(count: number): void {
    this.lost += Math.max(0, count);
  }
}

/** Run a case with its figures; they are tallied under `area` however the case ends. */
export async function countedCase<T>(area: string, body: (figures: CaseFigures) => Promise<T>): Promise<T> {
  const figures = new CaseFigures();
  try {
    return await body(figures);
  } finally {
    tally(area, figures);
  }
}
