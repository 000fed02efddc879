import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/**
 * Global secondary index names of the run table (layout 3). Each index is keyed on an attribute
 * of its own, never on a record field: `entity` and `status_shard` carry a shard (`run#07`,
 * `FAILED#07`), so neither index has a partition that every write lands on; `service_status`
 * (`<service>#<STATUS>`) takes no more of the writes than the service's own table partition.
 */
export const INDEXES = {
  /** `get(runId)`: partition key `run_id`. */
  byRunId: 'run_id-index',
  /** Newest-first listing of every run: partition key `entity` (`run#00`–`run#15`), sort key `run_id`. */
  all: 'entity-run_id-index',
  /** Listing by status: partition key `status_shard` (`<STATUS>#00`–`#15`), sort key `run_id`. */
  byStatus: 'status_shard-run_id-index',
  /** Listing a service's runs of one status: partition key `service_status`, sort key `run_id`. */
  byServiceStatus: 'service_status-run_id-index',
} as const;

/**
 * Indexes of earlier layouts that layout 3 no longer uses: `status-run_id-index` is keyed on
 * `status`, which now holds the plain status (six partition key values for every write), so
 * `pipeline storage migrate` removes it.
 */
export const OBSOLETE_INDEXES: readonly string[] = Object.freeze(['status-run_id-index']);

/** The string attributes the table and its indexes are keyed on. */
export const KEY_ATTRIBUTES: readonly string[] = Object.freeze([
  'service',
  'run_id',
  'entity',
  'status_shard',
  'service_status',
]);

const sortedByRunId = (hash: string) => ({
  KeySchema: [
    { AttributeName: hash, KeyType: 'HASH' as const },
    { AttributeName: 'run_id', KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'ALL' as const },
});

/**
 * The table definition: partition key `service`, sort key `run_id` (a ULID: unique and
 * time-ordered, so two runs can never collide and `latest` is one descending query on the
 * service's partition), on-demand billing, four GSIs (see {@link INDEXES}).
 */
export function runTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: KEY_ATTRIBUTES.map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const })),
    KeySchema: [
      { AttributeName: 'service', KeyType: 'HASH' },
      { AttributeName: 'run_id', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: INDEXES.byRunId,
        KeySchema: [{ AttributeName: 'run_id', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'ALL' },
      },
      { IndexName: INDEXES.all, ...sortedByRunId('entity') },
      { IndexName: INDEXES.byStatus, ...sortedByRunId('status_shard') },
      { IndexName: INDEXES.byServiceStatus, ...sortedByRunId('service_status') },
    ],
  };
}

/** Outcome of {@link createRunTable}. */
export type CreateTableOutcome = 'created' | 'exists';

/** Create the run table (the code behind `pipeline storage init`) and wait until it is active. */
export async function createRunTable(
  client: DynamoDBClient,
  tableName: string,
  { maxWaitTimeSec = 120 } = {},
): Promise<CreateTableOutcome> {
  let outcome: CreateTableOutcome = 'created';
  try {
    await client.send(new CreateTableCommand(runTableDefinition(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException) && (error as Error).name !== 'ResourceInUseException') throw error;
    outcome = 'exists';
  }
  await waitUntilTableExists({ client, maxWaitTime: maxWaitTimeSec, minDelay: 1 }, { TableName: tableName });
  await client.send(new DescribeTableCommand({ TableName: tableName }));
  return outcome;
}

/** The same table as a CloudFormation resource (YAML) and as Terraform, for infrastructure repos. */
export function runTableSnippets(tableName: string): { cloudformation: string; terraform: string } {
  const gsis = runTableDefinition(tableName).GlobalSecondaryIndexes!;
  const cloudformation = [
    'RunMetadataTable:',
    '  Type: AWS::DynamoDB::Table',
    '  Properties:',
    `    TableName: ${tableName}`,
    '    BillingMode: PAY_PER_REQUEST',
    '    AttributeDefinitions:',
    ...KEY_ATTRIBUTES.flatMap((n) => [`      - AttributeName: ${n}`, '        AttributeType: S']),
    '    KeySchema:',
    '      - { AttributeName: service, KeyType: HASH }',
    '      - { AttributeName: run_id, KeyType: RANGE }',
    '    GlobalSecondaryIndexes:',
    ...gsis.flatMap((g) => [
      `      - IndexName: ${g.IndexName}`,
      '        KeySchema:',
      ...g.KeySchema!.map((k) => `          - { AttributeName: ${k.AttributeName}, KeyType: ${k.KeyType} }`),
      '        Projection: { ProjectionType: ALL }',
    ]),
  ].join('\n');
  const terraform = [
    'resource "aws_dynamodb_table" "run_metadata" {',
    `  name         = "${tableName}"`,
    '  billing_mode = "PAY_PER_REQUEST"',
    '  hash_key     = "service"',
    '  range_key    = "run_id"',
    ...KEY_ATTRIBUTES.map((n) => `  attribute {\n    name = "${n}"\n    type = "S"\n  }`),
    ...gsis.map((g) => {
      const [hash, range] = g.KeySchema!;
      return [
        '  global_secondary_index {',
        `    name            = "${g.IndexName}"`,
        `    hash_key        = "${hash!.AttributeName}"`,
        ...(range ? [`    range_key       = "${range.AttributeName}"`] : []),
        '    projection_type = "ALL"',
        '  }',
      ].join('\n');
    }),
    '}',
  ].join('\n');
  return { cloudformation, terraform };
}
