'use strict';
// Loads a start bundle (scripts/bundle-start.mjs) with V8's code cache, so a cold start neither
// resolves ~250 files nor compiles them: one file read, its compiled code read from a cache.
// Copied beside each bundle by the build; a package's entry calls it and, when it answers
// undefined, requires its unbundled files as before.
//
// The cache lives in $PIPELINE_CACHE_DIR, else $XDG_CACHE_HOME/pipeline-invocation, else
// ~/.cache/pipeline-invocation, else <os tmpdir>/pipeline-invocation-<uid>: never inside the
// installed package, which may be read-only. A cache that cannot be written only costs speed.
// Where Node has it (22.8+), Node's own compile cache is switched on there too, for the files
// outside the bundle (plugins, the AWS SDK, ...).
//
// The folder is pruned when a start writes a new code cache (a new build, Node version or
// installation), after the command has done its work (scripts/start-cache-prune.cjs).
//
// In AWS Lambda (AWS_LAMBDA_FUNCTION_NAME set) nothing is cached unless PIPELINE_CACHE_DIR names a
// folder: a new execution environment starts with an empty /tmp and imports the entry once, so a
// cache written there would never be read (and writing it costs the cold start ~5 ms).
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

function cacheDirs() {
  const os = require('node:os'); // here: a start in AWS Lambda, which keeps no cache, never loads it
  const dirs = [];
  if (process.env.PIPELINE_CACHE_DIR) dirs.push(process.env.PIPELINE_CACHE_DIR);
  else {
    let home;
    try {
      home = os.homedir();
    } catch {
      home = undefined;
    }
    const base = process.env.XDG_CACHE_HOME || (home && path.join(home, '.cache'));
    if (base) dirs.push(path.join(base, 'pipeline-invocation'));
    dirs.push(path.join(os.tmpdir(), `pipeline-invocation-${process.getuid ? process.getuid() : 'user'}`));
  }
  return dirs;
}

/** The first cache folder that exists or can be made; none in AWS Lambda unless one is named. */
function cacheDir() {
  if (process.env.AWS_LAMBDA_FUNCTION_NAME && !process.env.PIPELINE_CACHE_DIR) return undefined;
  for (const dir of cacheDirs()) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // read-only or not ours: the next one
    }
  }
  return undefined;
}

/** A short, stable name of the folder `file` is in (FNV-1a of its path; not node:crypto, which loads slowly). */
function placeOf(file) {
  let h = 0x811c9dc5;
  for (const char of path.dirname(file)) h = Math.imul(h ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * Run the bundle `file` and return what it exports, with `saveCache()` to call once the command
 * has done its work (the cache then holds the functions it compiled on the way); undefined when
 * there is no bundle, this Node cannot run it, or the installed packages are not the ones it was
 * built from.
 */
function loadStart(file) {
  if (process.env.PIPELINE_NO_BUNDLE) return undefined;
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const dir = cacheDir();
  if (dir && typeof Module.enableCompileCache === 'function') {
    try {
      Module.enableCompileCache(path.join(dir, 'compile'));
    } catch {
      // only a missed speed-up
    }
  }
  const id = bundleId(source);
  const main = compile(file, Module.wrap(source), id, dir);
  const compiled = [main];
  const owner = new Module(file, module);
  owner.filename = file;
  // where the bundle keeps the stamp of its check of the installed packages (scripts/start-runtime.cjs)
  if (dir && id) owner.pipelineStartStamp = path.join(dir, `${main.prefix}${id}.check.json`);
  // a deferred part of the bundle (zod, ...), compiled with its own code cache when first required
  owner.pipelineLoadDeferred = (part, partId) => {
    const text = fs.readFileSync(part, 'utf8');
    if (bundleId(text) !== partId) {
      throw new Error(
        `${part} is not the one ${file} was built with (a partial install or build): reinstall the package, or rebuild it`,
      );
    }
    const deferred = compile(part, text, partId, dir);
    compiled.push(deferred);
    return deferred.script.runInThisContext();
  };
  owner.paths = Module._nodeModulePaths(path.dirname(file));
  const req = Module.createRequire(file);
  main.script.runInThisContext().call(owner.exports, owner.exports, req, owner, file, path.dirname(file));
  const exports = owner.exports;
  if (!exports) return undefined;
  return {
    exports,
    saveCache() {
      for (const { script, cacheFile, stale, prefix } of compiled) {
        if (!cacheFile) continue;
        if (!stale) {
          markUsed(cacheFile, Date.now());
          continue;
        }
        try {
          const temp = `${cacheFile}.${process.pid}.tmp`;
          fs.writeFileSync(temp, script.createCachedData());
          fs.renameSync(temp, cacheFile);
        } catch {
          continue; // only a missed speed-up
        }
        prune(dir, { cache: path.basename(cacheFile), prefix });
      }
    },
  };
}

/** The hash the build writes on a bundle's first line (V8 itself only checks a cache's length). */
function bundleId(source) {
  return /^\/\/ start-bundle ([0-9a-f]+)/.exec(source)?.[1];
}

/**
 * Compile `source` (the text of `file`, built as `id`) with its code cache from `dir` when there
 * is one. The cache is named by where the file is installed too: pruning removes only the caches
 * of this installation's earlier builds, so two installations on one machine keep theirs.
 */
function compile(file, source, id, dir) {
  const prefix = `${path.basename(file, '.js')}-${placeOf(file)}-`;
  const cacheFile = dir && id && path.join(dir, `${prefix}${id}-${process.version}-${process.arch}.v8`);
  let cachedData;
  try {
    cachedData = cacheFile ? fs.readFileSync(cacheFile) : undefined;
  } catch {
    cachedData = undefined;
  }
  // (a bundle holds no import(): modules that use it are required from their own files)
  const script = new vm.Script(source, { filename: file, cachedData });
  return { script, prefix, cacheFile, stale: Boolean(cacheFile && (!cachedData || script.cachedDataRejected)) };
}

/** A day: a code cache read by a start is marked used at most this often. */
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A start that read the code cache `file` marks it used, at most once a day (its modification
 * time: access times are not kept on every file system), so pruning keeps the caches in use.
 */
function markUsed(file, nowMs) {
  try {
    if (nowMs - fs.statSync(file).mtimeMs > DAY_MS) fs.utimesSync(file, nowMs / 1000, nowMs / 1000);
  } catch {
    // only a cache that may be pruned sooner
  }
}

/**
 * Prune the cache folder after a start wrote a new code cache (scripts/start-cache-prune.cjs,
 * beside this file: loaded only then, so a start that reads its code cache never loads it).
 */
function prune(dir, current) {
  try {
    require('./start-cache-prune.cjs').pruneCache(dir, current);
  } catch {
    // (a build without it) only a cache that stays larger
  }
}

module.exports = { loadStart };
