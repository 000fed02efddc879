/**
 * @packageDocumentation
 * The DynamoDB run store. Import `@pipeline-invocation/storage/dynamodb` only when you use it:
 * it loads the AWS SDK (`@aws-sdk/client-dynamodb`, `@aws-sdk/lib-dynamodb`, optional peers).
 */
export { DynamoRunStore, DYNAMODB_ATTEMPT_TIMEOUTS, type DynamoRunStoreOptions } from './dynamo-store';
export { createRunTable, runTableDefinition, runTableSnippets, INDEXES, type CreateTableOutcome } from './table';
export { migrateRunTable, type MigrationReport } from './migrate';
export { SHARDS, shardOf } from './layout';
