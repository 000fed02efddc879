import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './exit-codes';

/** Parse `--x JSON` or `--x @file`; a JSON object is required. */
export function parseJsonOption(flag: string, value: string | undefined, cwd: string): Record<string, unknown> {
  if (value === undefined) return {};
  let text = value;
  if (value.startsWith('@')) {
    const file = resolve(cwd, value.slice(1));
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${file}: ${(error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${flag} is not valid JSON (${(error as Error).message}). Example: ${flag} '{"run_type":"prod"}'`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(
      `${flag} must be a JSON object such as '{"run_type":"prod"}', not ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}.`,
    );
  }
  return parsed as Record<string, unknown>;
}
