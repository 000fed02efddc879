import type { QueueRow } from './queue/sqlite-queue';

/** A post as the preprocessing pipeline queued it (other fields pass through). */
export interface QueuedPost {
  uri: string;
  text?: unknown;
  preprocessing_timestamp?: unknown;
  [field: string]: unknown;
}

/** A post taken from a queue row, with the original's `batch_id` / `batch_metadata`. */
export interface FlatPost extends QueuedPost {
  batch_id: number;
  batch_metadata: string;
}

/** Why a post is not sent to the API (the original dropped these silently; we record why). */
export type RejectReason = 'missing_uri' | 'invalid_text' | 'missing_preprocessing_timestamp';

const PLACEHOLDER_TEXTS = new Set(['null', 'none', 'nan']);

/**
 * Flatten a queue row's JSON array into posts (`batch_id` = row id). A row that is not a JSON
 * array of objects is malformed: the reason is returned instead, and the row is kept, never
 * deleted unseen.
 */
export function flattenRow(row: QueueRow): FlatPost[] | { malformed: string } {
  let items: unknown;
  try {
    items = JSON.parse(row.payload);
  } catch {
    return { malformed: 'payload is not JSON' };
  }
  if (!Array.isArray(items)) return { malformed: 'payload is not a JSON array' };
  const bad = items.findIndex((item) => item === null || typeof item !== 'object' || Array.isArray(item));
  if (bad >= 0) return { malformed: `item ${bad} of the payload is not a JSON object` };
  return (items as QueuedPost[]).map((post) => ({ ...post, batch_id: row.id, batch_metadata: row.metadata }));
}

/** The original's filters: text present, at least 5 characters trimmed, not "null"/"none"/"nan"; a preprocessing timestamp. */
export function rejectReason(post: QueuedPost): RejectReason | undefined {
  if (typeof post.uri !== 'string' || post.uri === '') return 'missing_uri';
  const text = typeof post.text === 'string' ? post.text.trim() : '';
  if (text.length < 5 || PLACEHOLDER_TEXTS.has(text.toLowerCase())) return 'invalid_text';
  if (
    post.preprocessing_timestamp === undefined ||
    post.preprocessing_timestamp === null ||
    post.preprocessing_timestamp === ''
  ) {
    return 'missing_preprocessing_timestamp';
  }
  return undefined;
}
