import { DynamoRunStore, createRunTable } from '../src/dynamodb';
import { runStoreContract } from './helpers/contract';
import { startDynalite, type LocalDynamo } from './helpers/dynalite';

// The shared run store contract against DynamoDB (dynalite on 127.0.0.1), a fresh table per test.
let dynamo: LocalDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

runStoreContract('dynamodb', async () => {
  const client = dynamo.client();
  const tableName = `contract_${++tables}`;
  await createRunTable(client, tableName);
  return new DynamoRunStore(client, tableName);
});
