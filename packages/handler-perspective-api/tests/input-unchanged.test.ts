import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SqliteQueue } from '../src';
import { perspectiveKit } from './helpers/kit';
import { startFakePerspective, type FakePerspective } from './helpers/perspective-server';
import { enqueue, post } from './helpers/queues';

// The input queue is the producer's file: a run that labels nothing must not change a byte of it
// (the one-run-per-queue lock lives beside it, in `<input>.lock`).

let server: FakePerspective;
beforeEach(async () => {
  server = await startFakePerspective();
});
afterEach(() => server.stop());

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe("the producer's input queue file, after a run that labels nothing", () => {
  it('is byte-for-byte unchanged when no post is pending', async () => {
    const { files, run } = perspectiveKit(server.baseUrl, { qps: 1000 });
    // the producer made its file (the original schema, WAL) and has queued nothing yet
    new SqliteQueue(files.input).close();
    const before = sha256(files.input);
    const record = await run();
    expect(record).toMatchObject({ status: 'SUCCEEDED', status_code: 200 });
    expect(JSON.parse(record.metadata).total_classified_posts).toBe(0);
    expect(sha256(files.input)).toBe(before);
  });

  it('is byte-for-byte unchanged when the API answers that it is gone', async () => {
    const { config, files, run } = perspectiveKit(server.baseUrl, { qps: 1000 });
    enqueue(config, [[post('a post the API will never label'), post('another post waiting here')]]);
    const before = sha256(files.input);
    server.answerAll = { status: 410, body: { error: { code: 410, message: 'Gone' } } };
    const record = await run();
    expect(record).toMatchObject({ status: 'FAILED', status_code: 500 });
    expect(record.body).toContain('no longer available');
    expect(sha256(files.input)).toBe(before);
  });
});
