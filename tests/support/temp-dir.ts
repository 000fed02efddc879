import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the test environment (scripts/jest-environment.cjs) collects the folders to remove. */
const REGISTRY = '__pipelineTempDirs';

/**
 * A fresh folder in the OS temp folder, named `prefix` plus random characters, removed with
 * everything in it once the current test file has finished: after its own `afterAll` hooks, so a
 * hook may still stop a process, close a database or unmount a file system that uses it. Callable
 * anywhere in a test file (top level, hooks, tests, helpers).
 *
 * @example
 * const home = tempDir('cli-home-');
 * const outbox = join(tempDir('outbox-'), 'outbox.jsonl');
 */
export function tempDir(prefix: string): string {
  const registry = (globalThis as Record<string, unknown>)[REGISTRY];
  if (!Array.isArray(registry)) {
    throw new Error(
      "tempDir() needs the repository's jest environment (testEnvironment in jest.preset.cjs), which removes its folders",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  registry.push(dir);
  return dir;
}
