// Jest global setup: the worker and reliability tests need a real redis-server (and openssl, to
// make the certificate of the Redis-over-TLS test), the dashboard's tests a real (headless)
// Chromium. On a fresh machine `npm test` obtains them itself: as root with apt-get (Debian), it
// installs Debian's package, saying so on stderr; otherwise it names the one command to run, and
// the tests that need the program fail with the same line (they are never skipped).
const { spawnSync } = require('node:child_process');

const PACKAGES = [
  { command: 'redis-server', apt: 'redis-server' },
  { command: 'openssl', apt: 'openssl' },
  { command: 'chromium', apt: 'chromium' },
];

const has = (command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).error === undefined;

module.exports = async () => {
  const missing = PACKAGES.filter((p) => !has(p.command));
  if (!missing.length) return;
  const names = missing.map((p) => p.apt).join(' ');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) {
    process.stderr.write(`\nnpm test: ${names} missing; install with: sudo apt-get install ${names}\n`);
    return;
  }
  process.stderr.write(`\nnpm test: ${names} missing: installing Debian's package(s) (apt-get)...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const quiet = { env, stdio: ['ignore', 'ignore', 'inherit'] };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', ...missing.map((p) => p.apt)], quiet);
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], quiet); // the package lists may be missing or old
    install();
  }
  const still = missing.filter((p) => !has(p.command)).map((p) => p.apt);
  process.stderr.write(
    still.length
      ? `npm test: could not install ${still.join(' ')}; install with: sudo apt-get install ${still.join(' ')}\n`
      : `npm test: ${names} installed.\n`,
  );
};
