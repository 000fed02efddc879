// begin+finish pairs (through the RunLifecycle) per second of the SQLite and DynamoDB (dynalite) run stores, in one
// process and in 4 concurrent processes, each as a ratio to a bare INSERT / bare PutCommand
// measured in the same run. Target: a SQLite run (begin + finish) costs at most 3 bare inserts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, report } from './harness.mjs';

const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
const N = { sqlite: 15000, dynamodb: 400 };
const ROUNDS = 5;
/** The AWS SDK warns about Node 20 on every start; keep the figures readable. */
const QUIET = { ...process.env, NODE_NO_WARNINGS: '1' };

// ---- worker role: run one kind of write loop and print the elapsed ms -------------------------
const [role, kind, target, countArg] = process.argv.slice(2);
if (role === 'worker') {
  const count = Number(countArg);
  require('@swc-node/register'); // the run-record builder is the storage tests' helper, in TypeScript
  const { runningRecord: record } = require('../packages/storage/tests/helpers/records.ts');
  const loops = {
    'sqlite-bare': async () => {
      const Database = require('better-sqlite3');
      const db = new Database(target, { timeout: 10_000 });
      // (the file was made, in WAL mode, by the driver: four processes switching a new file's
      // journal mode at once can fail one of them with SQLITE_BUSY, which no busy timeout waits out)
      db.pragma('synchronous = NORMAL');
      const insert = db.prepare('INSERT INTO bare VALUES (?, ?, ?, ?, ?)');
      return async () => {
        const r = record();
        insert.run(r.run_id, r.service, r.status, null, JSON.stringify(r));
      };
    },
    'sqlite-store': async () => {
      const { SqliteRunStore } = require('@pipeline-invocation/storage');
      const { RunLifecycle } = require('@pipeline-invocation/core');
      const lifecycle = new RunLifecycle(new SqliteRunStore(target));
      return async () => {
        const r = record();
        await lifecycle.begin(r);
        await lifecycle.finish({ ...r, status: 'SUCCEEDED', status_code: 200 });
      };
    },
    'dynamodb-bare': async () => {
      const { DynamoDBDocumentClient, PutCommand } = require('@aws-sdk/lib-dynamodb');
      const doc = DynamoDBDocumentClient.from(client(target));
      return async () => {
        await doc.send(new PutCommand({ TableName: 'runs', Item: { ...record(), entity: 'run' } }));
      };
    },
    'dynamodb-store': async () => {
      const { DynamoRunStore } = require('@pipeline-invocation/storage/dynamodb');
      const { RunLifecycle } = require('@pipeline-invocation/core');
      const lifecycle = new RunLifecycle(new DynamoRunStore(client(target), 'runs'));
      return async () => {
        const r = record();
        await lifecycle.begin(r);
        await lifecycle.finish({ ...r, status: 'SUCCEEDED', status_code: 200 });
      };
    },
  };
  const step = await loops[kind]();
  for (let i = 0; i < 20; i++) await step();
  const start = performance.now();
  for (let i = 0; i < count; i++) await step();
  process.stdout.write(String(performance.now() - start));
  process.exit(0);
}
if (role === 'dynalite') {
  const server = require('dynalite')({ createTableMs: 0 });
  server.listen(0, '127.0.0.1', async () => {
    const endpoint = `http://127.0.0.1:${server.address().port}`;
    await require('@pipeline-invocation/storage/dynamodb').createRunTable(client(endpoint), 'runs');
    process.stdout.write(`${server.address().port}\n`);
  });
} else {
  await main();
}

function client(endpoint) {
  const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
}

// ---- driver ---------------------------------------------------------------------------------
/** The bare baseline's file, made once before its processes start (as an application makes its database). */
function makeBareFile(target) {
  const Database = require('better-sqlite3');
  const db = new Database(target);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE bare (run_id TEXT PRIMARY KEY, service TEXT, status TEXT, idempotency_key TEXT, record TEXT)');
  db.close();
}

function run(kind, target, count) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, 'worker', kind, target, String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: QUIET,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`${kind} worker failed`))));
  });
}

/**
 * Per-operation ms with `processes` processes writing at once: the slowest worker's loop time
 * (start-up excluded, each worker times its own loop) over all operations.
 */
async function perOp(kind, target, count, processes) {
  const loopMs = await Promise.all(Array.from({ length: processes }, () => run(kind, target, count)));
  return Math.max(...loopMs) / (count * processes);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-storage-'));
  const dynalite = spawn(process.execPath, [self, 'dynalite'], { stdio: ['ignore', 'pipe', 'inherit'], env: QUIET });
  const port = await new Promise((resolve) => dynalite.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const endpoint = `http://127.0.0.1:${port}`;
  let ok = true;
  try {
    for (const processes of [1, 4]) {
      // Rounds alternate bare and store runs (fresh files each round); each figure is the median round.
      const bares = [];
      const stores = [];
      for (let round = 0; round < ROUNDS; round++) {
        const file = (name) => join(dir, `${name}-${processes}-${round}.db`);
        makeBareFile(file('bare'));
        bares.push(await perOp('sqlite-bare', file('bare'), N.sqlite, processes));
        stores.push(await perOp('sqlite-store', file('store'), N.sqlite, processes));
      }
      const bare = median(bares);
      const store = median(stores);
      ok =
        report(
          `SQLite, ${processes} process(es): ${Math.round(1000 / store)} runs/s (begin+finish) vs ${Math.round(1000 / bare)} bare inserts/s`,
          [
            { name: 'bare INSERT', ms: bare },
            { name: 'SqliteRunStore begin + finish', ms: store },
          ],
          { target: 3 },
        ) && ok;
      const bareDynamo = await perOp('dynamodb-bare', endpoint, N.dynamodb, processes);
      const storeDynamo = await perOp('dynamodb-store', endpoint, N.dynamodb, processes);
      report(
        `DynamoDB (dynalite), ${processes} process(es): ${Math.round(1000 / storeDynamo)} runs/s vs ${Math.round(1000 / bareDynamo)} bare puts/s`,
        [
          { name: 'bare PutCommand', ms: bareDynamo },
          { name: 'DynamoRunStore begin + finish', ms: storeDynamo },
        ],
      );
    }
  } finally {
    dynalite.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}
