import { tempDir as sharedTempDir } from '../../../../tests/support/temp-dir';

/** A fresh temporary folder, removed after the current test file (tests/support/temp-dir.ts). */
export function tempDir(prefix = 'pipeline-storage-'): string {
  return sharedTempDir(prefix);
}
