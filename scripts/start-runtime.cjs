// Run-time part of a start bundle (scripts/bundle-start.mjs puts this text at its top): finds
// where each bundled package is installed, checks it is the one the bundle was built from, and
// has Node's loader answer a require of a bundled module's own file with the bundle's module, so
// code outside the bundle (plugins, the worker) shares its modules. Returns undefined when
// the installed tree differs (the caller then starts from the unbundled files).
/* eslint-disable no-var -- this text becomes part of a CommonJS bundle's top level */
var __startRoots = new Map();
var __startRequires = new Map();

/** The real folder of package `name` as a require from the folder `from` finds it. */
function __startFind(name, from) {
  var Module = require('node:module');
  var fs = require('node:fs');
  var paths = Module._nodeModulePaths(from);
  for (var i = 0; i < paths.length; i++) {
    var dir = paths[i] + '/' + name;
    if (fs.existsSync(dir + '/package.json')) return fs.realpathSync.native(dir);
  }
  return undefined;
}

function __pipelineStart(modules, manifest, entry) {
  var fs = require('node:fs');
  var path = require('node:path');
  var Module = require('node:module');
  var self = manifest.self;
  var packages = manifest.packages;
  for (var i = -1; i < packages.length; i++) {
    var pkg = i < 0 ? self : packages[i];
    var from = i < 0 ? undefined : __startRoots.get(pkg.importer);
    var root =
      i < 0 ? fs.realpathSync.native(path.resolve(__dirname, self.fromBundle)) : from && __startFind(pkg.name, from);
    if (!root) return undefined;
    var installed;
    try {
      installed = JSON.parse(fs.readFileSync(root + '/package.json', 'utf8')).version;
    } catch {
      return undefined;
    }
    if (installed !== pkg.version) return undefined;
    if (pkg.buildInfo !== undefined) {
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
    __startRoots.set(pkg.key, root);
  }
  // Node's loader, when code outside the bundle asks for one of these files, takes the bundle's module
  var bundled = new Map();
  for (var file in modules) bundled.set(__startFile(file), modules[file]);
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

/** The installed file a bundled module came from: its key is "<package folder>/<path inside>". */
function __startFile(file) {
  var best = '';
  __startRoots.forEach(function (_root, pkg) {
    if (file.startsWith(pkg + '/') && pkg.length > best.length) best = pkg;
  });
  return __startRoots.get(best) + file.slice(best.length);
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

/* eslint-enable no-var */
