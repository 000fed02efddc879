import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteQueue } from '@pipeline-invocation/post-labelling';

// One temporary folder per test file (this module is loaded once per file), removed afterwards.
const base = mkdtempSync(join(tmpdir(), 'moderation-queues-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A fresh data folder (queues go to `<it>/queue`), removed after the test file. */
export function tempDataDir(): string {
  return mkdtempSync(join(base, 'data-'));
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

/** Put `rows` (arrays of posts) on the queue file `file`. */
export function enqueue(file: string, rows: Record<string, unknown>[][]): number[] {
  const queue = new SqliteQueue(file);
  try {
    return rows.map((posts) => queue.add(posts, { source: 'test' }));
  } finally {
    queue.close();
  }
}

/** Every row of a queue file, parsed. */
export function readQueue(
  file: string,
): { id: number; items: Record<string, unknown>[]; metadata: Record<string, unknown>; status: string }[] {
  const queue = new SqliteQueue(file);
  try {
    return [...queue.rows()].map((r) => ({
      id: r.id,
      items: JSON.parse(r.payload),
      metadata: JSON.parse(r.metadata),
      status: r.status,
    }));
  } finally {
    queue.close();
  }
}

/** The `rejected_posts` table of an output queue file. */
export function readRejected(file: string): { uri: string | null; reason: string; post: string }[] {
  const queue = new SqliteQueue(file, { readonly: true });
  try {
    return queue.db.prepare('SELECT uri, reason, post FROM rejected_posts ORDER BY id').all() as {
      uri: string | null;
      reason: string;
      post: string;
    }[];
  } finally {
    queue.close();
  }
}
