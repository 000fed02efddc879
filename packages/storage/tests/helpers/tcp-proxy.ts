import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * What the proxy does with each new connection:
 * - `forward`: pass bytes both ways;
 * - `drop-answers`: pass the request to the server but never the answer back, then cut the
 *   connection (the write lands, the client sees a dropped socket: an ambiguous write);
 * - `refuse`: cut the connection at once (the server is unreachable).
 */
export type ProxyMode = 'forward' | 'drop-answers' | 'refuse';

/** A loopback TCP proxy in front of `targetPort`, for real network faults. */
export interface FaultProxy {
  readonly port: number;
  readonly endpoint: string;
  /** Mode for the next connections (and the next bytes of open ones). */
  mode: ProxyMode;
  /** Answers dropped so far (`drop-answers`). */
  readonly dropped: number;
  /** Connections the client opened so far (refused ones included). */
  readonly connections: number;
  /**
   * Drop the answers of the next `n` requests that send a body matching `match`, then forward
   * again; `skip` matching requests are forwarded first (lose the answer of a later write).
   */
  dropAnswersTo(match: RegExp, n?: number, skip?: number): void;
  close(): Promise<void>;
}

/** Start a proxy on 127.0.0.1 in front of 127.0.0.1:`targetPort`. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let dropped = 0;
  let connections = 0;
  let rule: { match: RegExp; left: number; skip: number } | undefined;
  const proxy = {
    mode: 'forward' as ProxyMode,
    get dropped() {
      return dropped;
    },
    get connections() {
      return connections;
    },
  };
  const server = createServer((client) => {
    connections += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (proxy.mode === 'refuse') return void client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    let dropThis = proxy.mode === 'drop-answers';
    client.on('data', (chunk: Buffer) => {
      if (rule && rule.left > 0 && rule.match.test(chunk.toString('utf8'))) {
        if (rule.skip > 0) rule.skip -= 1;
        else {
          rule.left -= 1;
          dropThis = true;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropThis || proxy.mode !== 'forward') {
        dropped += 1;
        dropThis = false;
        // The server answered; the client never hears it.
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(proxy, {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    dropAnswersTo(match: RegExp, n = 1, skip = 0) {
      rule = { match, left: n, skip };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  }) as FaultProxy;
}
