import { queueFiles, type PerspectiveConfig } from '../../src';
import { enqueueFile, tempDir } from '../../../post-labelling/tests/helpers/queues';

export { post, readQueue, readRejected } from '../../../post-labelling/tests/helpers/queues';

/** A fresh queue folder, removed after the test file. */
export const tempQueueDir = () => tempDir('perspective-');

/** Put `rows` (arrays of posts) on the input queue of `config`. */
export function enqueue(
  config: Pick<PerspectiveConfig, 'queueDir'>,
  rows: Record<string, unknown>[][],
  createdAt?: Date,
): number[] {
  return enqueueFile(queueFiles(config).input, rows, createdAt);
}
