// Run-time part of a start bundle (scripts/bundle-start.mjs puts this text at its top): finds
// where each bundled package is installed, checks it is the one the bundle was built from, and
// has Node's loader answer a require of a bundled module's own file with the bundle's module, so
// code outside the bundle (plugins, the worker) shares its modules. Returns undefined when
// the installed tree differs (the caller then starts from the unbundled files). The check reads
// each package's package.json (and, in a workspace, its build info) once; later starts compare
// their stats with a stamp the loader keeps beside the code cache, and read only what changed.
/* eslint-disable no-var -- this text becomes part of a CommonJS bundle's top level */
var __startRoots = new Map();
var __startRequires = new Map();

/** The node_modules folders a require from a folder looks in, by folder. */
var __startPaths = new Map();

/**
 * Where a require from the folder `from` finds package `name`: the folder it looked in and the
 * stat of its package.json (undefined when no folder has it).
 */
function __startFind(name, from) {
  var fs = require('node:fs');
  var paths = __startPaths.get(from);
  if (!paths) __startPaths.set(from, (paths = require('node:module')._nodeModulePaths(from)));
  for (var i = 0; i < paths.length; i++) {
    var dir = paths[i] + '/' + name;
    var stat = fs.statSync(dir + '/package.json', { bigint: true, throwIfNoEntry: false });
    if (stat) return { dir: dir, stat: stat };
  }
  return undefined;
}

/** A file's identity and last change, as a string (its stat, not its content: nothing is read). */
function __startStamp(stat) {
  return stat ? [stat.dev, stat.ino, stat.size, stat.mtimeNs, stat.ctimeNs].join(':') : '-';
}

/**
 * The stamp of the last start that checked the installed packages by content, when the loader
 * keeps one (module.pipelineStartStamp: a file beside the code cache, named by the bundle's build).
 */
function __startReadStamp(file) {
  if (!file) return {};
  try {
    var stamp = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
    return stamp && typeof stamp === 'object' ? stamp : {};
  } catch {
    return {};
  }
}

function __pipelineStart(modules, manifest, entry) {
  var fs = require('node:fs');
  var path = require('node:path');
  var Module = require('node:module');
  var self = manifest.self;
  var packages = manifest.packages;
  var stampFile = module.pipelineStartStamp;
  // Each package, as the last full check found it: where it was, the stats of its package.json
  // and build info then. Files with the same stats are the files that check read (a new version
  // or a rebuild writes them); only a package whose files changed is read again.
  var stamped = __startReadStamp(stampFile);
  var stamp = {};
  var changed = false;
  for (var i = -1; i < packages.length; i++) {
    var pkg = i < 0 ? self : packages[i];
    var found;
    if (i < 0) {
      var selfDir = path.resolve(__dirname, self.fromBundle);
      found = { dir: selfDir, stat: fs.statSync(selfDir + '/package.json', { bigint: true, throwIfNoEntry: false }) };
    } else {
      var from = __startRoots.get(pkg.importer);
      found = from && __startFind(pkg.name, from);
    }
    if (!found || !found.stat) return undefined;
    var buildInfo = pkg.buildInfo !== undefined ? found.dir + '/dist/.tsbuildinfo' : undefined;
    var seen = {
      dir: found.dir,
      manifest: __startStamp(found.stat),
      buildInfo: buildInfo && __startStamp(fs.statSync(buildInfo, { bigint: true, throwIfNoEntry: false })),
    };
    var before = stamped[pkg.key];
    var root;
    if (before && before.dir === seen.dir && before.manifest === seen.manifest && before.buildInfo === seen.buildInfo) {
      root = before.root;
    } else {
      changed = true;
      root = fs.realpathSync.native(found.dir);
      var installed;
      try {
        installed = JSON.parse(fs.readFileSync(root + '/package.json', 'utf8')).version;
      } catch {
        return undefined;
      }
      if (installed !== pkg.version) return undefined;
      if (buildInfo) {
        var built;
        try {
          built = fs.readFileSync(root + '/dist/.tsbuildinfo');
        } catch {
          built = undefined; // an installed package: no build of its own
        }
        // a checksum, not node:crypto: loading crypto would cost a cold start more than the check
        if (built && built.length + ':' + require('node:zlib').crc32(built) !== pkg.buildInfo) {
          return undefined; // rebuilt since the bundle
        }
      }
    }
    seen.root = root;
    stamp[pkg.key] = seen;
    __startRoots.set(pkg.key, root);
  }
  if (changed && stampFile) {
    try {
      var temp = stampFile + '.' + process.pid + '.tmp';
      fs.writeFileSync(temp, JSON.stringify(stamp));
      fs.renameSync(temp, stampFile);
    } catch {
      // only a missed speed-up
    }
  }
  // Node's loader, when code outside the bundle asks for one of these files, takes the bundle's module
  var bundled = new Map();
  for (var key in modules) {
    var folder = __startRoots.get(key);
    var inits = modules[key];
    for (var inside in inits) bundled.set(folder + '/' + inside, inits[inside]);
  }
  ['.js', '.cjs'].forEach(function (ext) {
    var load = Module._extensions[ext];
    if (!load) return;
    Module._extensions[ext] = function (module, filename) {
      var init = bundled.get(filename);
      if (!init) return load.apply(this, arguments);
      module.exports = init();
    };
  });
  return entry();
}

/** The installed file a bundled module came from: the file `inside` the package whose key is `pkg`. */
function __startFile(pkg, inside) {
  return __startRoots.get(pkg) + '/' + inside;
}

/** require(spec) as the bundled package `pkg` would have done it. */
function __startRequire(pkgAndSpec) {
  var at = pkgAndSpec.indexOf(':');
  var pkg = pkgAndSpec.slice(0, at);
  var req = __startRequires.get(pkg);
  if (!req) {
    req = require('node:module').createRequire(__startRoots.get(pkg) + '/package.json');
    __startRequires.set(pkg, req);
  }
  return req(pkgAndSpec.slice(at + 1));
}

/**
 * The init functions of a deferred group's modules (scripts/bundle-start.mjs, DEFERRED): a stub per
 * module that, when first called, reads and compiles the group's file `fileName` beside the bundle
 * (with the loader's code cache when the loader gave one: module.pipelineLoadDeferred), hands it
 * the bundle's names it uses (`call`), and calls the module's real init.
 */
function __startDeferred(fileName, id, call) {
  var inits;
  function load() {
    if (!inits) {
      var file = require('node:path').join(__dirname, fileName);
      var compiled = module.pipelineLoadDeferred
        ? module.pipelineLoadDeferred(file, id)
        : __startCompileDeferred(file, id);
      inits = call(compiled);
    }
    return inits;
  }
  return function (moduleFile) {
    var init;
    return function () {
      if (!init) init = load()[moduleFile];
      return init();
    };
  };
}

/** A deferred group's function, compiled from its file (no code cache). */
function __startCompileDeferred(file, id) {
  var source = require('node:fs').readFileSync(file, 'utf8');
  if (source.indexOf('// start-bundle ' + id + '\n') !== 0) throw __startMismatch(file);
  return new (require('node:vm').Script)(source, { filename: file }).runInThisContext();
}

/** The error of a deferred group's file that is not the one the bundle was built with. */
function __startMismatch(file) {
  return new Error(
    file +
      ' is not the one ' +
      __filename +
      ' was built with (a partial install or build): reinstall the package, or rebuild it',
  );
}

/* eslint-enable no-var */
