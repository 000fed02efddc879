import { createRunStore, sqliteFile, storageConfigFromEnv } from '@pipeline-invocation/storage';
import { EXIT, UsageError } from '../exit-codes';
import { parseCommandArgs, type Io } from '../io';

const HELP = `Usage: pipeline storage init [--json]

Prepare the configured run store. With PIPELINE_STORE=dynamodb: create the table
(PIPELINE_DYNAMODB_TABLE, default integration_run_metadata) with on-demand billing and its
indexes, and print the equivalent CloudFormation and Terraform. With SQLite (the default):
create $PIPELINE_HOME/runs.db.
`;

/** `pipeline storage init`. */
export async function storage(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('storage', args, { json: { type: 'boolean' } });
  if (values.help) return (void io.out(HELP), EXIT.OK);
  if (positionals[0] !== 'init' || positionals.length > 1)
    throw new UsageError('the only storage command is `pipeline storage init`.');
  const config = storageConfigFromEnv(io.env, io.cwd);
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
