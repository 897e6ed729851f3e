import {
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { isAwsCredentialsError } from '../aws-errors.js';
import { type Clock, systemClock } from '../clock.js';
import { errorMessage } from '../error-text.js';

/** The attribute DynamoDB's TTL sweep reads (epoch seconds) on claims and webhook sightings. */
const TTL_ATTRIBUTE = 'expiresAt';

/**
 * How long setup waits. A new table is ACTIVE within seconds to a minute or two. Point-in-time
 * recovery cannot be turned on at once after CreateTable: DynamoDB answers
 * ContinuousBackupsUnavailableException ("Backups are being enabled for the table … Please retry
 * later") for a while, so that one call is retried on this schedule (about five minutes in all).
 */
const SETUP_POLICY = {
  activeWaitSeconds: 600,
  activeMinDelaySeconds: 2,
  activeMaxDelaySeconds: 20,
  backupRetryDelaysMs: [
    5_000, 10_000, 20_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000,
  ],
} as const;

/** The table named by STATE_TABLE exists with other keys: it is not this tool's table, and setup leaves it alone. */
export class StateTableShapeError extends Error {
  override readonly name = 'StateTableShapeError';
  readonly retryable = false;
  constructor(
    readonly tableName: string,
    readonly found: string,
  ) {
    super(
      `table ${tableName} exists with keys ${found}, not the state table's pk (string, partition key) and sk (string, sort key): name another table in STATE_TABLE`,
    );
  }
}

/** One table setting after setup: on, or why it could not be turned on. */
interface TableSetting {
  /** As DynamoDB reports it: `ENABLED`, `ENABLING`, `DISABLED`, … */
  status: string;
  /** This run asked DynamoDB to turn it on. */
  changed: boolean;
  /** Why it is not on; absent when it is. */
  error?: { code: string; message: string };
}

export interface StateTableSetup {
  table: string;
  /** This run created the table. */
  created: boolean;
  status: string;
  /** `PAY_PER_REQUEST` (on-demand) for a table created here. */
  billingMode: string;
  timeToLive: TableSetting;
  pointInTimeRecovery: TableSetting;
  /** The table is ACTIVE with TTL and point-in-time recovery on. */
  ready: boolean;
}

export interface EnsureStateTableOptions {
  clock?: Clock;
}

/**
 * Creates the state table when it is missing (on-demand billing, string keys `pk`/`sk`, encrypted
 * with the AWS managed key), waits until it is ACTIVE, and turns on TTL on `expiresAt` and
 * point-in-time recovery. Idempotent: on a table that is ready it only reads. A TTL or backup
 * setting that cannot be turned on is reported in the result, not thrown (the table is usable
 * without them); credentials rejected are thrown.
 */
export async function ensureStateTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureStateTableOptions = {},
): Promise<StateTableSetup> {
  const clock = options.clock ?? systemClock;
  let table = await describeTable(client, tableName);
  let created = false;
  if (!table) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          SSESpecification: { Enabled: true, SSEType: 'KMS' },
          Tags: [{ Key: 'managed-by', Value: 'tencent-ssl-sync' }],
        }),
      );
      created = true;
    } catch (error) {
      // Another setup created it between the two calls: wait for it like for ours.
      if ((error as { name?: unknown }).name !== 'ResourceInUseException') throw error;
    }
  }
  if (table?.TableStatus !== 'ACTIVE') {
    await waitUntilTableExists(
      {
        client,
        maxWaitTime: SETUP_POLICY.activeWaitSeconds,
        minDelay: SETUP_POLICY.activeMinDelaySeconds,
        maxDelay: SETUP_POLICY.activeMaxDelaySeconds,
      },
      { TableName: tableName },
    );
    table = await describeTable(client, tableName);
  }
  checkShape(tableName, table);
  const timeToLive = await settingOf(() => ensureTimeToLive(client, tableName));
  const pointInTimeRecovery = await settingOf(() => ensurePointInTimeRecovery(client, tableName, clock));
  const status = table?.TableStatus ?? 'UNKNOWN';
  return {
    table: tableName,
    created,
    status,
    billingMode: table?.BillingModeSummary?.BillingMode ?? 'PROVISIONED',
    timeToLive,
    pointInTimeRecovery,
    ready: status === 'ACTIVE' && isOn(timeToLive) && isOn(pointInTimeRecovery),
  };
}

const isOn = (setting: TableSetting): boolean =>
  setting.error === undefined && (setting.status === 'ENABLED' || setting.status === 'ENABLING');

async function describeTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if ((error as { name?: unknown }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

function checkShape(tableName: string, table: TableDescription | undefined): void {
  const keys = table?.KeySchema ?? [];
  const typeOf = (name: string) =>
    table?.AttributeDefinitions?.find((d) => d.AttributeName === name)?.AttributeType;
  const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
  const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  if (hash === 'pk' && range === 'sk' && typeOf('pk') === 'S' && typeOf('sk') === 'S') return;
  const found = keys.map((k) => `${k.AttributeName} (${typeOf(k.AttributeName ?? '')}, ${k.KeyType})`);
  throw new StateTableShapeError(tableName, found.join(' and ') || 'none');
}

/** Runs one setting's step; a failure other than credentials becomes the setting's error. */
async function settingOf(step: () => Promise<TableSetting>): Promise<TableSetting> {
  try {
    return await step();
  } catch (error) {
    if (isAwsCredentialsError(error)) throw error;
    const code = (error as { name?: unknown }).name;
    return {
      status: 'UNKNOWN',
      changed: false,
      error: { code: typeof code === 'string' ? code : 'Error', message: errorMessage(error) },
    };
  }
}

async function ensureTimeToLive(client: DynamoDBClient, tableName: string): Promise<TableSetting> {
  const out = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = out.TimeToLiveDescription?.TimeToLiveStatus ?? 'DISABLED';
  const attribute = out.TimeToLiveDescription?.AttributeName;
  if (status === 'ENABLED' || status === 'ENABLING') {
    if (attribute === TTL_ATTRIBUTE) return { status, changed: false };
    // A table has one TTL attribute; switching it is the owner's decision, not setup's.
    return {
      status,
      changed: false,
      error: {
        code: 'OtherTtlAttribute',
        message: `TTL is on attribute ${attribute ?? '(unknown)'}, not ${TTL_ATTRIBUTE}: expired claims and webhook signatures stay in the table`,
      },
    };
  }
  const updated = await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    }),
  );
  // UpdateTimeToLive answers with the specification only; DynamoDB reports ENABLING for up to an hour.
  const after = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  return {
    status:
      after.TimeToLiveDescription?.TimeToLiveStatus ??
      (updated.TimeToLiveSpecification?.Enabled ? 'ENABLING' : 'DISABLED'),
    changed: true,
  };
}

async function ensurePointInTimeRecovery(
  client: DynamoDBClient,
  tableName: string,
  clock: Clock,
): Promise<TableSetting> {
  const read = async () =>
    (await client.send(new DescribeContinuousBackupsCommand({ TableName: tableName })))
      .ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus ?? 'DISABLED';
  const status = await read();
  if (status === 'ENABLED') return { status, changed: false };
  for (let retry = 0; ; retry++) {
    try {
      const out = await client.send(
        new UpdateContinuousBackupsCommand({
          TableName: tableName,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      );
      return {
        status:
          out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus ??
          (await read()),
        changed: true,
      };
    } catch (error) {
      const delay = SETUP_POLICY.backupRetryDelaysMs[retry];
      if (
        (error as { name?: unknown }).name !== 'ContinuousBackupsUnavailableException' ||
        delay === undefined
      ) {
        throw error;
      }
      await clock.sleep(delay);
    }
  }
}

function describeSetting(name: string, setting: TableSetting): string {
  if (setting.error) return `  ${name}: not on: ${setting.error.code}: ${setting.error.message}`;
  return `  ${name}: ${setting.status.toLowerCase()}${setting.changed ? ' (turned on now)' : ''}`;
}

/** The result for people: what setup found or did, one line per setting. */
export function formatStateTableSetup(setup: StateTableSetup): string {
  const billing = setup.billingMode === 'PAY_PER_REQUEST' ? 'on-demand' : setup.billingMode.toLowerCase();
  return [
    `state table ${setup.table}: ${setup.created ? 'created' : 'exists'}, ${setup.status}, ${billing}`,
    describeSetting(`TTL on ${TTL_ATTRIBUTE}`, setup.timeToLive),
    describeSetting('point-in-time recovery', setup.pointInTimeRecovery),
    '',
  ].join('\n');
}
