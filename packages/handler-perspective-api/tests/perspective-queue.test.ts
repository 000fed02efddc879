import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/cli/perspective-queue';
import { SqliteQueue, queueFiles } from '../src';
import { readQueue, tempQueueDir } from './helpers/queues';

function run(args: string[]) {
  let out = '';
  let err = '';
  const code = main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe('perspective-queue', () => {
  it('enqueues posts from JSON lines in rows of --batch-size, in the original layout', () => {
    const queueDir = tempQueueDir();
    const file = join(queueDir, 'posts.jsonl');
    const posts = Array.from({ length: 5 }, (_, i) => ({
      uri: `at://x/${i}`,
      text: `post text ${i}`,
      preprocessing_timestamp: 't',
    }));
    writeFileSync(file, posts.map((p) => JSON.stringify(p)).join('\n') + '\n\n');
    const result = run(['enqueue', file, '--queue-dir', queueDir, '--batch-size', '2']);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toContain('queued 5 post(s) in 3 row(s)');
    const rows = readQueue(queueFiles({ queueDir }).input);
    expect(rows.map((r) => r.items.length)).toEqual([2, 2, 1]);
    expect(rows.flatMap((r) => r.items)).toEqual(posts);
    expect(rows[0]).toMatchObject({
      status: 'pending',
      metadata: { source: 'perspective-queue', batch_size: 2, actual_batch_size: 2 },
    });
    expect(rows[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d$/);
  });

  it('refuses a file with bad lines, naming them, and queues nothing', () => {
    const queueDir = tempQueueDir();
    const file = join(queueDir, 'bad.jsonl');
    writeFileSync(file, '{"uri":"at://ok","text":"fine text"}\n{not json}\n[1,2]\n{"text":"no uri"}\n');
    const result = run(['enqueue', file, '--queue-dir', queueDir]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('has 3 bad line(s); nothing was queued');
    expect(result.err).toContain('line 2: not valid JSON');
    expect(result.err).toContain('line 3: not a JSON object');
    expect(result.err).toContain('line 4: "uri" must be a non-empty string');
    expect(readQueue(queueFiles({ queueDir }).input)).toEqual([]);
  });

  it('prints stats and exports every label as JSON lines', () => {
    const queueDir = tempQueueDir();
    const output = new SqliteQueue(queueFiles({ queueDir }).output);
    output.add(
      [
        { uri: 'a', prob_toxic: 0.1 },
        { uri: 'b', prob_toxic: 0.2 },
      ],
      { batch_size: 90, actual_batch_size: 2 },
    );
    output.add([{ uri: 'c', prob_toxic: 0.3 }], { batch_size: 90, actual_batch_size: 1 });
    output.close();
    const stats = run(['stats', '--queue-dir', queueDir, '--json']);
    expect(JSON.parse(stats.out).output.statuses).toEqual([{ status: 'pending', rows: 2, items: 3 }]);
    expect(run(['stats', '--queue-dir', queueDir]).out).toContain('input: ');
    const target = join(queueDir, 'labels.jsonl');
    const exported = run(['export', target, '--queue-dir', queueDir]);
    expect(exported.out).toContain('exported 3 label(s)');
    expect(
      readFileSync(target, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).uri),
    ).toEqual(['a', 'b', 'c']);
  });

  it('explains usage errors', () => {
    expect(run([]).code).toBe(2);
    expect(run(['--help']).out).toContain('Usage: perspective-queue');
    expect(run(['enqueue']).err).toContain('missing file');
    expect(run(['frob']).err).toContain('unknown command "frob"');
    expect(run(['export', '/tmp/x.jsonl', '--queue-dir', tempQueueDir()]).err).toContain('no output queue');
    expect(run(['enqueue', 'x', '--batch-size', '0']).err).toContain('--batch-size must be a positive whole number');
  });
});
