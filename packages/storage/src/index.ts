/**
 * @packageDocumentation
 * Run stores for pipeline-invocation: SQLite (default), in memory, and DynamoDB behind the
 * `@pipeline-invocation/storage/dynamodb` subpath (loaded only when configured), plus the
 * outbox that keeps records a store could not take.
 */
import type * as configSchema from './config-schema';
export { MemoryRunStore } from './memory-store';
export { SqliteRunStore, type SqliteRunStoreOptions } from './sqlite/sqlite-store';
export { SCHEMA_VERSION } from './sqlite/migrations';
export { Outbox, type FlushResult, type QuarantinedEntry } from './outbox';
export { classifyStoreError, isTransientStoreError, isRecordRejected } from './store-errors';
export { storageConfigFromEnv, projectFolder, sqliteFile, outboxFile, type StorageConfig } from './config';
export { createRunStore } from './create-store';

const lazy = {
  get StorageConfigSchema(): typeof configSchema.StorageConfigSchema {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
    return (require('./config-schema') as typeof configSchema).StorageConfigSchema;
  },
};

/** The storage configuration's schema (zod loads on first use: importing storage does not load it). */
export declare const StorageConfigSchema: typeof configSchema.StorageConfigSchema;
Object.defineProperty(exports, 'StorageConfigSchema', {
  enumerable: true,
  get: function () {
    return lazy.StorageConfigSchema;
  },
});
