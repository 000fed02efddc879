/**
 * The test run's own folders, for a child process given an environment of its own rather than
 * this process's: TMPDIR (the run's temp folder, which the run checks is left empty) and
 * PIPELINE_CACHE_DIR (the start bundles' code cache folder in it, so that tests do not write the
 * user's ~/.cache), both set by scripts/test-tmpdir.cjs. One that is not set is left out.
 *
 * @example
 * spawn(process.execPath, [cli, 'invoke', 'svc'], { env: { PATH: process.env.PATH, ...runFolders() } });
 */
export function runFolders(): Record<string, string> {
  const folders: Record<string, string> = {};
  for (const name of ['TMPDIR', 'PIPELINE_CACHE_DIR']) {
    const value = process.env[name];
    if (value) folders[name] = value;
  }
  return folders;
}
