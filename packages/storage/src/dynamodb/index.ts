/**
 * @packageDocumentation
 * The DynamoDB run store. Import `@pipeline-invocation/storage/dynamodb` only when you use it:
 * it loads the AWS SDK (`@aws-sdk/client-dynamodb`, `@aws-sdk/lib-dynamodb`, optional peers).
 */
export { DynamoRunStore, DYNAMODB_ATTEMPT_TIMEOUTS, type DynamoRunStoreOptions } from './dynamo-store';
export {
  createRunTable,
  runTableDefinition,
  runTableSnippets,
  INDEXES,
  OBSOLETE_INDEXES,
  type CreateTableOutcome,
} from './table';
export { migrateRunTable, type MigrationReport, type MigrationOptions } from './migrate';
export { compileRunCondition, compileKeyCondition, type CompiledCondition } from './conditions';
export { LAYOUT, SHARDS, shardOf } from './layout';
