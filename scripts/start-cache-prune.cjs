'use strict';
// Prunes the code cache folder of the start bundles (scripts/start-loader.cjs, which loads this
// file only when a start has written a new code cache, after the command's work; copied beside
// each bundle by the build). What goes and what stays: see pruneCache. Never throws.
const fs = require('node:fs');
const path = require('node:path');

const DAY_MS = 24 * 60 * 60 * 1000;
/** A code cache no start has read for this long is removed. */
const UNUSED_MS = 30 * DAY_MS;
/** Code caches kept per Node version (and architecture): the ones the latest starts used. */
const KEEP_PER_NODE = 16;
/** Entries of Node's compile cache kept per Node version: the latest written. */
const KEEP_COMPILED_PER_NODE = 5000;
/** Node's compile cache is pruned at most this often (it may hold thousands of files). */
const COMPILE_PRUNE_EVERY_MS = DAY_MS;
/** Touched by each prune of Node's compile cache: when the last one was. */
const COMPILE_PRUNED_MARK = '.compile-pruned';

// The names scripts/start-loader.cjs gives its files: a code cache `<bundle>-<place>-<build>-<node>-<arch>.v8`
// (caches of older releases have no place), a stamp `<bundle>-<place>-<build>.check.json`, and a
// write under way `<code cache>.<pid>.tmp`. Nothing else in the folder is touched (`node/`, where
// scripts/node-matrix.mjs keeps the Node builds CI uses, or anything of a shared PIPELINE_CACHE_DIR).
const CODE_CACHE = /^([\w.-]+\.bundle-(?:[0-9a-f]{8}-)?[0-9a-f]+)-(v\d[^/]*)\.v8$/;
const STAMP = /^([\w.-]+\.bundle-(?:[0-9a-f]{8}-)?[0-9a-f]+)\.check\.json$/;
const PARTIAL = /^[\w.-]+\.bundle-[\w.-]+\.v8\.\d+\.tmp$/;

/**
 * Prune the cache folder `dir` after a start wrote the code cache named `current.cache` (of the
 * bundle installation `current.prefix`). Removes: the caches of that installation's earlier builds
 * for this Node and their stamps (of no use any more); any code cache not read for 30 days; past
 * the 16 most recently used code caches of a Node version, the rest; a stamp whose build has no
 * code cache left; a write interrupted a day ago; and, at most once a day, the entries of Node's
 * compile cache (`compile/`) not written for 30 days or past its latest 5,000 per Node version.
 * Never throws (a file it cannot remove stays). Returns the names it removed, relative to `dir`.
 */
function pruneCache(dir, current = {}, nowMs = Date.now()) {
  const removed = [];
  const remove = (name) => {
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
      return true;
    } catch {
      return false;
    }
  };
  const ageMs = (name) => {
    try {
      return nowMs - fs.statSync(path.join(dir, name)).mtimeMs;
    } catch {
      return undefined; // gone meanwhile
    }
  };
  try {
    const currentBuild = current.cache && CODE_CACHE.exec(current.cache)?.[1];
    const currentNode = current.cache && CODE_CACHE.exec(current.cache)?.[2];
    const byNode = new Map();
    const stamps = [];
    for (const name of fs.readdirSync(dir)) {
      const cache = CODE_CACHE.exec(name);
      if (cache) {
        const [, build, node] = cache;
        if (name === current.cache) continue;
        const earlier = current.prefix && build.startsWith(current.prefix) && node === currentNode;
        const age = ageMs(name);
        if (age === undefined || earlier || age > UNUSED_MS) {
          if (age !== undefined) remove(name);
          continue;
        }
        if (!byNode.has(node)) byNode.set(node, []);
        byNode.get(node).push({ name, build, age });
      } else if (STAMP.test(name)) {
        stamps.push(name);
      } else if (PARTIAL.test(name) && ageMs(name) > DAY_MS) {
        remove(name);
      }
    }
    const builds = new Set(currentBuild ? [currentBuild] : []);
    for (const [node, caches] of byNode) {
      caches.sort((a, b) => a.age - b.age);
      const room = KEEP_PER_NODE - (node === currentNode ? 1 : 0); // the current one is not in the list
      for (const [i, cache] of caches.entries()) {
        if (i >= room && remove(cache.name)) continue;
        builds.add(cache.build);
      }
    }
    for (const name of stamps) {
      const build = STAMP.exec(name)[1];
      // an earlier build of the same installation; or no code cache left (a day's grace for a start
      // that has written its stamp and not yet its code cache)
      const earlier = current.prefix && build.startsWith(current.prefix) && build !== currentBuild;
      if (earlier || (!builds.has(build) && ageMs(name) > DAY_MS)) remove(name);
    }
    pruneCompileCache(dir, nowMs, removed);
  } catch {
    // only a cache that stays larger for now
  }
  return removed;
}

/** Node's compile cache in `dir`/compile (one folder per Node version), at most once a day. */
function pruneCompileCache(dir, nowMs, removed) {
  const mark = path.join(dir, COMPILE_PRUNED_MARK);
  const compile = path.join(dir, 'compile');
  const last = fs.statSync(mark, { throwIfNoEntry: false });
  if (last && nowMs - last.mtimeMs < COMPILE_PRUNE_EVERY_MS) return;
  if (!fs.existsSync(compile)) return;
  fs.writeFileSync(mark, ''); // first, so starts that write meanwhile do not prune it too
  fs.utimesSync(mark, nowMs / 1000, nowMs / 1000);
  for (const version of fs.readdirSync(compile)) {
    const folder = path.join(compile, version);
    let entries;
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch {
      continue; // not a folder
    }
    const files = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const stat = fs.statSync(path.join(folder, entry.name), { throwIfNoEntry: false });
      if (stat) files.push({ name: entry.name, age: nowMs - stat.mtimeMs });
    }
    files.sort((a, b) => a.age - b.age);
    let left = entries.length;
    files.forEach((file, i) => {
      if (i < KEEP_COMPILED_PER_NODE && file.age <= UNUSED_MS) return;
      try {
        fs.rmSync(path.join(folder, file.name), { force: true });
        removed.push(path.join('compile', version, file.name));
        left -= 1;
      } catch {
        // stays
      }
    });
    if (left === 0) {
      try {
        fs.rmdirSync(folder);
      } catch {
        // written to meanwhile
      }
    }
  }
}

module.exports = { pruneCache };
