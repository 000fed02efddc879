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

/**
 * The process id of the redis-server answering on `port` (from INFO server), or undefined when
 * none answers. A PING alone cannot tell our server from another one that took the port first.
 */
function serverPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (pid: number | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(2000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.startsWith('-')) return done(undefined); // an error (e.g. still loading): ask again
      const pid = /\r\nprocess_id:(\d+)\r\n/.exec(reply)?.[1];
      if (pid) done(Number(pid));
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

const MISSING =
  'The worker tests need redis-server on this machine: apt-get install redis-server (`npm test` installs it when run as root).';

/**
 * Wait until `child` answers on `port`. Answers 'taken' when its server could not have the port
 * (it exited, or another redis-server answers there: the port was free when asked for, but others
 * start servers on free ports too).
 */
async function ready(child: ChildProcess, port: number): Promise<'ready' | 'taken'> {
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  for (let i = 0; i < 100; i++) {
    const pid = await Promise.race([serverPid(port), spawnError]);
    if (pid instanceof Error) throw new Error(`${MISSING} (${pid.message})`);
    if (pid === child.pid) return 'ready';
    if (pid !== undefined || child.exitCode !== null) {
      if (child.exitCode === null) await stopChild(child);
      return 'taken';
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopChild(child);
  throw new Error(`${MISSING} (redis-server did not answer on port ${port} within 5 s)`);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * Start redis-server. Fails with the install command when it is missing: the worker tests need
 * a real Redis, and CI must fail rather than skip them. The server is known by its process id, so
 * a test never talks to another test's server that took the port first (it tries another port).
 */
export async function startRedis(): Promise<LocalRedis> {
  let child: ChildProcess | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    child = launch(port);
    if ((await ready(child, port)) === 'ready') return local(port, child);
  }
  throw new Error(
    `redis-server did not start on five free ports in a row (each taken by another server, or it exited: last exit code ${child?.exitCode}, signal ${child?.signalCode})`,
  );
}

function local(port: number, first: ChildProcess): LocalRedis {
  let child = first;
  const stop = () => stopChild(child);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: async () => {
      await stop();
      child = launch(port);
      if ((await ready(child, port)) === 'taken')
        throw new Error(`redis-server could not restart on port ${port}: another server took it`);
    },
  };
}
