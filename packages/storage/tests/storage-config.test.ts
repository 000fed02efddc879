import { join } from 'node:path';
import { StorageConfigSchema, storageConfigFromEnv } from '../src';
import { tempDir } from '../../../tests/support/temp-dir';

// storageConfigFromEnv checks an ordinary configuration by hand (a cold start does not load zod
// for it) and a refused one through StorageConfigSchema: what it accepts must be what the schema
// accepts, unchanged, and what it refuses is refused with the schema's message.
const dir = tempDir('storage-config-');

describe('storageConfigFromEnv', () => {
  it.each([
    [{}],
    [{ PIPELINE_STORE: 'memory' }],
    [{ PIPELINE_STORE: 'dynamodb', PIPELINE_DYNAMODB_TABLE: 'a.b_c-d', PIPELINE_RETENTION_DAYS: '30' }],
    [{ PIPELINE_SQLITE_BUSY_MS: '1' }],
    [{ PIPELINE_SQLITE_BUSY_MS: ' 5000 ' }],
    [{ PIPELINE_SQLITE_BUSY_MS: '1e3' }],
    [{ PIPELINE_SQLITE_BUSY_MS: '0x10' }],
    [{ PIPELINE_SQLITE_BUSY_MS: '9007199254740991' }],
    [{ PIPELINE_DYNAMODB_TABLE: 'abc' }],
    [{ PIPELINE_DYNAMODB_TABLE: 'a'.repeat(255) }],
    [{ PIPELINE_HOME: 'rel', PIPELINE_OUTBOX: 'out/o.jsonl' }],
  ])('accepts %p as the schema does, unchanged', (env) => {
    const config = storageConfigFromEnv(env, dir);
    const parsed = StorageConfigSchema.safeParse(config);
    expect(parsed.success).toBe(true);
    expect(config).toStrictEqual(parsed.data);
  });

  it.each([
    [{ PIPELINE_STORE: 'SQLITE' }, 'PIPELINE_STORE must be'],
    [{ PIPELINE_SQLITE_BUSY_MS: '0' }, 'PIPELINE_SQLITE_BUSY_MS must be a positive whole number'],
    [{ PIPELINE_SQLITE_BUSY_MS: '-5' }, 'PIPELINE_SQLITE_BUSY_MS must be a positive whole number'],
    [{ PIPELINE_SQLITE_BUSY_MS: '2.5' }, 'PIPELINE_SQLITE_BUSY_MS'],
    [{ PIPELINE_SQLITE_BUSY_MS: 'soon' }, 'PIPELINE_SQLITE_BUSY_MS'],
    [{ PIPELINE_SQLITE_BUSY_MS: 'Infinity' }, 'PIPELINE_SQLITE_BUSY_MS'],
    [{ PIPELINE_SQLITE_BUSY_MS: '9007199254740992' }, 'sqliteBusyTimeoutMs'],
    [{ PIPELINE_DYNAMODB_TABLE: 'ab' }, 'PIPELINE_DYNAMODB_TABLE must be 3-255 characters'],
    [{ PIPELINE_DYNAMODB_TABLE: 'a'.repeat(256) }, 'PIPELINE_DYNAMODB_TABLE'],
    [{ PIPELINE_DYNAMODB_TABLE: 'a table' }, 'PIPELINE_DYNAMODB_TABLE'],
    [{ PIPELINE_RETENTION_DAYS: '0' }, 'PIPELINE_RETENTION_DAYS must be a positive whole number of days'],
    [{ PIPELINE_RETENTION_DAYS: '1.5' }, 'PIPELINE_RETENTION_DAYS must be a whole number of days'],
  ])('refuses %p with the schema message', (env, message) => {
    expect(() => storageConfigFromEnv(env, dir)).toThrow('Invalid storage configuration');
    expect(() => storageConfigFromEnv(env, dir)).toThrow(message);
  });
});
