import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

/** A real redis-server on 127.0.0.1 with a free port, no persistence. */
export interface LocalRedis {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  /** Stop and start again on the same port (the data is gone: no persistence). */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}

function launch(port: number): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  return child;
}

/**
 * Start redis-server. Fails with the install command when it is missing: the worker tests need
 * a real Redis, and CI must fail rather than skip them.
 */
export async function startRedis(): Promise<LocalRedis> {
  const port = await freePort();
  let child = launch(port);
  const ready = async () => {
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      'The worker tests need redis-server on this machine: apt-get install redis-server (`npm test` installs it when run as root).',
    );
  };
  const spawnError = await Promise.race([
    new Promise<Error>((resolve) => child.once('error', resolve)),
    ready().then(() => undefined),
  ]);
  if (spawnError) {
    throw new Error(
      `The worker tests need redis-server on this machine (${spawnError.message}): apt-get install redis-server`,
    );
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: async () => {
      await stop();
      child = launch(port);
      await ready();
    },
  };
}
