import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { DynamoStateStore, STATE_POLICY } from '../state/dynamo-store.js';

/** A DynamoDB client with the SDK's standard configuration (region, endpoint, credentials from the environment). */
export function createDynamoDBClient(): DynamoDBClient {
  return new DynamoDBClient({ retryMode: 'standard', maxAttempts: STATE_POLICY.maxAttempts });
}

/** The region the client will use; undefined when the SDK's configuration names none. */
export async function regionOf(client: DynamoDBClient): Promise<string | undefined> {
  try {
    return await client.config.region();
  } catch {
    return undefined;
  }
}

/**
 * The state store of `STATE_TABLE`, or undefined when it is unset: what running without state
 * means is the caller's decision. The caller destroys the store (`destroy()`) when done.
 */
export function createStateStore(config: Config, clock: Clock): DynamoStateStore | undefined {
  if (!config.stateTable) return undefined;
  return new DynamoStateStore({ client: createDynamoDBClient(), tableName: config.stateTable, clock });
}
