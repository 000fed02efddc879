// Redis over TLS (`rediss://`, as managed Redis services require): a real redis-server with a TLS
// port only and a certificate made for the test. The CLI's check that Redis answers speaks TLS
// there, as BullMQ's connection does, instead of reporting a working server unreachable.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { RedisOptions } from 'bullmq';
import { createHostProject, cjsPlugin } from '../../invoker/tests/helpers/host-project';
import { redisAnswers, redisConnection } from '../src';
import { runPipeline } from './helpers/cli';
import { tempDir } from '../../../tests/support/temp-dir';

const certs = tempDir('redis-tls-');
const cert = join(certs, 'cert.pem');
const key = join(certs, 'key.pem');
let server: ChildProcess;
let port: number;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
}

/** Whether the server answers a PING over TLS (trusting the test's certificate). */
function pingsOverTls(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(cert) }, () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString() === '+PONG\r\n');
    });
    socket.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  // a self-signed certificate for 127.0.0.1, valid for a day
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  port = await freePort();
  server = spawn(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'].concat([
      '--tls-cert-file',
      cert,
      '--tls-key-file',
      key,
      '--tls-ca-cert-file',
      cert,
      '--tls-auth-clients',
      'no',
    ]),
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 5000;
  while (!(await pingsOverTls())) {
    if (server.exitCode !== null || Date.now() > deadline)
      throw new Error(`redis-server with TLS did not answer on port ${port} (exit code ${server.exitCode})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

afterAll(async () => {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
});

describe('Redis over TLS (rediss://)', () => {
  it('answers the check over TLS; a plain connection to the TLS port does not', async () => {
    const url = `rediss://127.0.0.1:${port}`;
    const ca = readFileSync(cert);
    expect(await redisAnswers({ ...(redisConnection(url) as RedisOptions), tls: { ca } })).toBe(true);
    // what the check did before: a plain PING to a TLS port, which the server never answers
    expect(await redisAnswers(redisConnection(`redis://127.0.0.1:${port}`))).toBe(false);
    // a certificate Node does not trust: no Redis to talk to, as BullMQ's connection would find
    expect(await redisAnswers(redisConnection(url))).toBe(false);
  });

  it('pipeline schedule list works against a rediss:// URL (the CA given to Node)', async () => {
    const root = createHostProject([cjsPlugin('tls-plugin', ['tls_service'])]);
    const listed = await runPipeline(['schedule', 'list', '--json'], {
      cwd: root,
      env: {
        REDIS_URL: `rediss://127.0.0.1:${port}`,
        NODE_EXTRA_CA_CERTS: cert,
        PIPELINE_HOME: tempDir('redis-tls-home-'),
      },
    });
    expect([listed.code, listed.json()]).toEqual([0, []]);
  });

  it("says what to check when Node does not trust the server's certificate (exit code 2)", async () => {
    const root = createHostProject([cjsPlugin('tls-plugin', ['tls_service'])]);
    const url = `rediss://127.0.0.1:${port}`;
    const refused = await runPipeline(['schedule', 'list', '--json'], {
      cwd: root,
      env: { REDIS_URL: url, PIPELINE_HOME: tempDir('redis-tls-home-') },
    });
    expect([refused.code, refused.json()]).toEqual([
      2,
      {
        error: {
          name: 'UsageError',
          message: `cannot reach Redis at ${url}: start it, or set REDIS_URL to yours. Over TLS (rediss://) Node must trust the server's certificate: a private CA's goes in NODE_EXTRA_CA_CERTS.`,
          exit_code: 2,
        },
      },
    ]);
  });
});
