/**
 * @packageDocumentation
 * Run stores for pipeline-invocation: SQLite (default), in memory, and DynamoDB behind the
 * `@pipeline-invocation/storage/dynamodb` subpath (loaded only when configured), plus the
 * outbox that keeps records a store could not take.
 */
export { MemoryRunStore } from './memory-store';
export { SqliteRunStore, type SqliteRunStoreOptions } from './sqlite/sqlite-store';
export { SCHEMA_VERSION } from './sqlite/migrations';
export { Outbox, type FlushResult, type QuarantinedEntry } from './outbox';
export { classifyStoreError, isTransientStoreError, isRecordRejected } from './store-errors';
export {
  StorageConfigSchema,
  storageConfigFromEnv,
  projectFolder,
  sqliteFile,
  outboxFile,
  type StorageConfig,
} from './config';
export { createRunStore } from './create-store';
