#!/usr/bin/env node
// Every source map a package publishes names only files its tarball holds. For each package
// (the folders given, or every public package under packages/), list what `npm pack` would
// publish, read each `.map` among those files, and check that each of its `sources` is in the
// tarball; also that each `sourceMappingURL` comment points at a map that is. A map naming a
// missing `src/*.ts` sends a debugger, an editor's go-to-definition or a stack trace
// (`node --enable-source-maps`) to a file the user does not have.
// Prints one line per problem on stderr and exits 1, or a summary on stdout and exits 0.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspace = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The files `npm pack` would put in the tarball of the package in `dir` (paths relative to it, with /). */
export function packedFiles(dir) {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Set(JSON.parse(out)[0].files.map((f) => f.path));
}

/** The problems of one package's tarball: maps naming files it lacks, comments naming maps it lacks. */
export function checkPackage(dir) {
  const name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
  const files = packedFiles(dir);
  const problems = [];
  let maps = 0;
  for (const file of files) {
    if (file.endsWith('.map')) {
      maps += 1;
      let map;
      try {
        map = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      } catch (error) {
        problems.push(`${name}: ${file} is not a source map (${error.message})`);
        continue;
      }
      for (const source of map.sources ?? []) {
        const target = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
        if (!files.has(target))
          problems.push(`${name}: ${file} names ${source} (${target}), which is not in the tarball`);
      }
    } else if (/\.(c|m)?js$|\.d\.(c|m)?ts$/.test(file)) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(dir, file), 'utf8'))?.[1];
      if (!url || url.startsWith('data:')) continue;
      const target = posix.normalize(posix.join(posix.dirname(file), url));
      if (!files.has(target)) problems.push(`${name}: ${file} points at ${url}, which is not in the tarball`);
    }
  }
  return { name, files: files.size, maps, problems };
}

/** Every package under packages/ that is published (not private). */
export function publicPackages(root = workspace) {
  const base = join(root, 'packages');
  return readdirSync(base)
    .map((d) => join(base, d))
    .filter((d) => existsSync(join(d, 'package.json')))
    .filter((d) => !JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).private);
}

if (process.argv[1] && normalize(resolve(process.argv[1])) === normalize(fileURLToPath(import.meta.url))) {
  const dirs = process.argv.length > 2 ? process.argv.slice(2).map((d) => resolve(d)) : publicPackages();
  let maps = 0;
  const problems = [];
  for (const dir of dirs) {
    const result = checkPackage(dir);
    maps += result.maps;
    problems.push(...result.problems);
  }
  if (problems.length) {
    for (const p of problems) console.error(p);
    console.error(
      `${problems.length} problem(s) in ${relative(process.cwd(), workspace) || '.'}: publish the sources the maps name (add "src" to "files"), or stop emitting the maps.`,
    );
    process.exit(1);
  }
  console.log(`${dirs.length} package(s), ${maps} source map(s): every file they name is in the tarball.`);
}
