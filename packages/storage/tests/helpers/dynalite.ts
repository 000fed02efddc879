import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/** A DynamoDB-compatible server (dynalite, in memory) on 127.0.0.1 with a free port. */
export interface LocalDynamo {
  readonly endpoint: string;
  readonly port: number;
  client(options?: { maxAttempts?: number }): DynamoDBClient;
  stop(): Promise<void>;
  /** Start again on the same port (after {@link stop}); the data is gone unless `path` was given. */
  restart(): Promise<void>;
}

/** Start dynalite; pass `port` to reuse one. */
export async function startDynalite(port = 0): Promise<LocalDynamo> {
  let server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${actualPort}`;
  return {
    endpoint,
    port: actualPort,
    client: ({ maxAttempts = 2 } = {}) =>
      new DynamoDBClient({
        endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts,
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
    restart: async () => {
      server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      await new Promise<void>((resolve) => server.listen(actualPort, '127.0.0.1', resolve));
    },
  };
}
