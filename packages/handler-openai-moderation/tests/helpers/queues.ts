import { tempDir } from '../../../post-labelling/tests/helpers/queues';

export { enqueueFile as enqueue, post, readQueue, readRejected } from '../../../post-labelling/tests/helpers/queues';

/** A fresh data folder (queues go to `<it>/queue`), removed after the test file. */
export const tempDataDir = () => tempDir('moderation-');
