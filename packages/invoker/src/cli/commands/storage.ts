import { createRunStore, sqliteFile, storageConfigFromEnv, type StorageConfig } from '@pipeline-invocation/storage';
import { EXIT, UsageError } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';

const HELP = `Usage: pipeline storage init [--json]
       pipeline storage migrate [--json]

init     Prepare the configured run store. With PIPELINE_STORE=dynamodb: create the table
         (PIPELINE_DYNAMODB_TABLE, default integration_run_metadata) with on-demand billing and
         its indexes, and print the equivalent CloudFormation and Terraform. With SQLite (the
         default): create $PIPELINE_HOME/runs.db.
migrate  Bring the configured store to this version's layout, in place (safe to run twice,
         and while runs are written). DynamoDB (layout 3): adds the indexes it lacks (waiting
         until they are ACTIVE), gives every run item its plain status and index attributes,
         moves each idempotency key to its service's scoped item (a finished key still
         replays) and removes the index layout 3 no longer uses. SQLite migrates itself when
         opened.
`;

/** `pipeline storage init` and `pipeline storage migrate`. */
export async function storage(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('storage', args, { json: { type: 'boolean' } });
  if (values.help) return (void io.out(HELP), EXIT.OK);
  const action = positionals[0];
  if ((action !== 'init' && action !== 'migrate') || positionals.length > 1)
    throw new UsageError('use `pipeline storage init` or `pipeline storage migrate`.');
  const config = storageConfigFromEnv(io.env, io.cwd);
  if (action === 'migrate') return migrate(config, values.json === true, io);
  if (config.kind === 'dynamodb') {
    const { DynamoRunStore, createRunTable, runTableSnippets } = await import('@pipeline-invocation/storage/dynamodb');
    const store = DynamoRunStore.fromEnvironment({ tableName: config.dynamodbTable });
    try {
      const outcome = await createRunTable(store.client, config.dynamodbTable);
      const snippets = runTableSnippets(config.dynamodbTable);
      if (values.json) io.out(`${JSON.stringify({ table: config.dynamodbTable, outcome, ...snippets }, null, 2)}\n`);
      else {
        io.out(`Table ${config.dynamodbTable}: ${outcome === 'created' ? 'created' : 'already exists'}.\n\n`);
        io.out(`# CloudFormation\n${snippets.cloudformation}\n\n# Terraform\n${snippets.terraform}\n`);
      }
    } finally {
      await store.close();
    }
    return EXIT.OK;
  }
  const store = await createRunStore(config);
  await store.ping();
  await store.close();
  const where = config.kind === 'sqlite' ? sqliteFile(config) : 'memory';
  if (values.json) io.out(`${JSON.stringify({ store: config.kind, location: where, outcome: 'ready' })}\n`);
  else io.out(`Run store ready: ${config.kind} at ${where}\n`);
  return EXIT.OK;
}

async function migrate(config: StorageConfig, json: boolean, io: Io): Promise<number> {
  if (config.kind === 'dynamodb') {
    const { DynamoRunStore, migrateRunTable } = await import('@pipeline-invocation/storage/dynamodb');
    const store = DynamoRunStore.fromEnvironment({ tableName: config.dynamodbTable });
    try {
      const report = await migrateRunTable(store, { onProgress: (message) => io.err(`${message}\n`) });
      if (json) io.out(`${JSON.stringify({ store: store.description, ...report })}\n`);
      else {
        const indexes = [
          ...report.indexesAdded.map((name) => `index ${name} added`),
          ...report.indexesRemoved.map((name) => `index ${name} removed`),
        ];
        io.out(
          `Migrated ${store.description} to layout ${report.layout}: ${report.runs} runs rewritten, ` +
            `${report.keys} idempotency keys moved, ${report.unchanged} items already current` +
            `${indexes.length ? `; ${indexes.join(', ')}` : ''}.\n`,
        );
      }
    } finally {
      await store.close();
    }
    return EXIT.OK;
  }
  const store = await createRunStore(config); // SQLite applies its migrations on open
  await store.close();
  if (json) io.out(`${JSON.stringify({ store: config.kind, runs: 0, keys: 0, unchanged: 0 })}\n`);
  else io.out(`Run store ${config.kind}: up to date (it migrates itself when opened).\n`);
  return EXIT.OK;
}
