import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/**
 * Global secondary index names of the run table. The names are those of the first layout, whose
 * table the migration keeps; the values the store writes into `entity` and `status` carry a shard
 * (`run#07`, `FAILED#07`), so neither index has a partition that every write lands on.
 */
export const INDEXES = {
  /** `get(runId)`: partition key `run_id`. */
  byRunId: 'run_id-index',
  /** Newest-first listing of every run: partition key `entity` (`run#00`–`run#15`), sort key `run_id`. */
  all: 'entity-run_id-index',
  /** Listing by status: partition key `status` (`<STATUS>#00`–`#15`), sort key `run_id`. */
  byStatus: 'status-run_id-index',
} as const;

/**
 * The table definition: partition key `service`, sort key `run_id` (a ULID: unique and
 * time-ordered, so two runs can never collide and `latest` is one descending query on the
 * service's partition), on-demand billing, three GSIs (see {@link INDEXES}).
 */
export function runTableDefinition(tableName: string): CreateTableCommandInput {
  const all = { Projection: { ProjectionType: 'ALL' as const } };
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'service', AttributeType: 'S' },
      { AttributeName: 'run_id', AttributeType: 'S' },
      { AttributeName: 'entity', AttributeType: 'S' },
      { AttributeName: 'status', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'service', KeyType: 'HASH' },
      { AttributeName: 'run_id', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      { IndexName: INDEXES.byRunId, KeySchema: [{ AttributeName: 'run_id', KeyType: 'HASH' }], ...all },
      {
        IndexName: INDEXES.all,
        KeySchema: [
          { AttributeName: 'entity', KeyType: 'HASH' },
          { AttributeName: 'run_id', KeyType: 'RANGE' },
        ],
        ...all,
      },
      {
        IndexName: INDEXES.byStatus,
        KeySchema: [
          { AttributeName: 'status', KeyType: 'HASH' },
          { AttributeName: 'run_id', KeyType: 'RANGE' },
        ],
        ...all,
      },
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
    ...['service', 'run_id', 'entity', 'status'].flatMap((n) => [
      `      - AttributeName: ${n}`,
      '        AttributeType: S',
    ]),
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
    ...['service', 'run_id', 'entity', 'status'].map((n) => `  attribute {\n    name = "${n}"\n    type = "S"\n  }`),
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
