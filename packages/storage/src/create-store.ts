import type { RunStore } from '@pipeline-invocation/core';
import { sqliteFile, type StorageConfig } from './config';
import { MemoryRunStore } from './memory-store';
import { SqliteRunStore } from './sqlite/sqlite-store';

/**
 * Open the run store `config` names. The DynamoDB store (and the AWS SDK) is imported only
 * when it is the one configured.
 */
export async function createRunStore(config: StorageConfig): Promise<RunStore> {
  switch (config.kind) {
    case 'memory':
      return new MemoryRunStore();
    case 'sqlite':
      return new SqliteRunStore(sqliteFile(config), { busyTimeoutMs: config.sqliteBusyTimeoutMs });
    case 'dynamodb': {
      const { DynamoRunStore } = await import('./dynamodb/index.js');
      return DynamoRunStore.fromEnvironment({ tableName: config.dynamodbTable, retentionDays: config.retentionDays });
    }
  }
}
