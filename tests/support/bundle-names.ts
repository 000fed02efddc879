import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir';

/** Module file -> (export or `Export#method`) -> the name that function or class has. */
export type BundleNames = Record<string, Record<string, string>>;

/**
 * The names of the functions and classes every module of the start bundle `bundle` (and of its
 * deferred parts) exports, and of their methods: as the bundle answers a require of each module's
 * file (`bundle`), and as the file itself does (`files`); each from a process of its own
 * (bundle-names-child.cjs). The bundle's code is minified, the names a user sees must be as written.
 */
export function bundleNames(bundle: string): { bundle: BundleNames; files: BundleNames } {
  const names = (mode: 'bundle' | 'files'): BundleNames => {
    const out = join(tempDir('bundle-names-'), 'names.json');
    execFileSync(process.execPath, [join(__dirname, 'bundle-names-child.cjs'), bundle, mode, out], {
      env: { PATH: process.env.PATH, PIPELINE_CACHE_DIR: tempDir('bundle-names-cache-') },
    });
    return JSON.parse(readFileSync(out, 'utf8')) as BundleNames;
  };
  return { bundle: names('bundle'), files: names('files') };
}
