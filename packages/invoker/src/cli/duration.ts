import { UsageError } from './exit-codes';

const UNITS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration flag's value in milliseconds: a whole number and a unit, `s`, `m`, `h` or `d`
 * (`30s`, `5m`, `1h`, `90d`). `allowZero` admits `0d`.
 *
 * @throws UsageError naming the flag, the value and the form expected (exit code 2).
 */
export function parseDurationFlag(flag: string, value: string | undefined, { allowZero = false } = {}): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value?.trim() ?? '');
  const ms = match ? Number(match[1]) * UNITS[match[2] as keyof typeof UNITS] : NaN;
  if (!match || !Number.isSafeInteger(ms) || (!allowZero && ms === 0)) {
    throw new UsageError(
      `${flag} must be a whole number with a unit s, m, h or d, such as 30s, 5m, 1h or 90d${allowZero ? ' (0d for all)' : ''} (got "${value ?? ''}").`,
    );
  }
  return ms;
}
