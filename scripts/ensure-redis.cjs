// Jest global setup: the worker and reliability tests need a real redis-server. On a fresh
// machine `npm test` obtains it itself: as root with apt-get (Debian), it installs Debian's
// redis-server package, saying so on stderr; otherwise it names the one command to run, and the
// tests that need Redis fail with the same line (they are never skipped).
const { spawnSync } = require('node:child_process');

const has = (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).error === undefined;

module.exports = async () => {
  if (has('redis-server')) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) {
    process.stderr.write('\nnpm test: redis-server is missing; install it with: sudo apt-get install redis-server\n');
    return;
  }
  process.stderr.write("\nnpm test: redis-server is missing: installing Debian's redis-server package (apt-get)...\n");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const quiet = { env, stdio: ['ignore', 'ignore', 'inherit'] };
  let result = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], quiet);
  if (result.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], quiet); // the package lists may be missing or old
    result = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], quiet);
  }
  process.stderr.write(
    has('redis-server')
      ? 'npm test: redis-server installed.\n'
      : 'npm test: could not install redis-server; install it with: sudo apt-get install redis-server\n',
  );
};
