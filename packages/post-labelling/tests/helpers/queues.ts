// Queue helpers every classifier plugin's tests share: temporary folders, posts as the
// preprocessing step queues them, and the queue files read back.
import { join } from 'node:path';
import { silentLogger } from '@pipeline-invocation/observability';
import { SqliteQueue, labelQueue, type LabelRunOptions } from '../../src';
import { tempDir as sharedTempDir } from '../../../../tests/support/temp-dir';

/** A fresh temporary folder, removed after the test file (tests/support/temp-dir.ts). */
export function tempDir(prefix = 'labelling-q-'): string {
  return sharedTempDir(prefix);
}

let counter = 0;

/** A post as the preprocessing pipeline queues it. */
export function post(text: string, overrides: Record<string, unknown> = {}) {
  counter += 1;
  return {
    uri: `at://did:plc:test/app.bsky.feed.post/${counter}`,
    text,
    preprocessing_timestamp: '2026-11-20-10:00:00',
    author: 'a',
    ...overrides,
  };
}

/** Put `rows` (arrays of posts) on the queue file `file`; returns their row ids. */
export function enqueueFile(file: string, rows: Record<string, unknown>[][], createdAt?: Date): number[] {
  const queue = new SqliteQueue(file);
  try {
    return rows.map((posts) => queue.add(posts, { source: 'test' }, createdAt));
  } finally {
    queue.close();
  }
}

/** Every row of a queue file: parsed payload and metadata. */
export function readQueue(file: string): {
  id: number;
  items: Record<string, unknown>[];
  metadata: Record<string, unknown>;
  created_at: string;
  status: string;
}[] {
  const queue = new SqliteQueue(file);
  try {
    return [...queue.rows()].map((r) => ({
      id: r.id,
      items: JSON.parse(r.payload),
      metadata: JSON.parse(r.metadata),
      created_at: r.created_at,
      status: r.status,
    }));
  } finally {
    queue.close();
  }
}

/** The `rejected_posts` table of an output queue file. */
export function readRejected(
  file: string,
): { uri: string | null; reason: string; post: string; rejected_at: string }[] {
  const queue = new SqliteQueue(file, { readonly: true });
  try {
    return queue.db.prepare('SELECT uri, reason, post, rejected_at FROM rejected_posts ORDER BY id').all() as {
      uri: string | null;
      reason: string;
      post: string;
      rejected_at: string;
    }[];
  } finally {
    queue.close();
  }
}

/**
 * `labelQueue` with what a test rarely changes filled in: a fast rate, 2 attempts, a 1 ms
 * back-off, silent logs, no metrics or progress, a signal that never aborts.
 */
export const labelForTest = (
  options: Partial<LabelRunOptions> & Pick<LabelRunOptions, 'input' | 'output' | 'classifier'>,
) =>
  labelQueue({
    pacing: { requestsPerSecond: 10_000, maxAttempts: 2, retryBaseMs: 1 },
    signal: new AbortController().signal,
    logger: silentLogger,
    metrics: { log: () => {} },
    progress: () => {},
    ...options,
  });

/** An input queue file holding `rows` (one queue row of posts each) and an empty output queue, in a fresh folder. */
export function queuePair(rows: Record<string, unknown>[][]) {
  const dir = tempDir('labelling-q-');
  const input = new SqliteQueue(join(dir, 'input.db'));
  for (const posts of rows) input.add(posts, { source: 'test' });
  const output = new SqliteQueue(join(dir, 'output.db'));
  return { input, output, close: () => (input.close(), output.close()) };
}
