import {
  Route53Client,
  type Route53ClientConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-route-53';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } from '@smithy/core/config';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import { type Clock, systemClock } from '../clock.js';
import { type Logger, silentLogger } from '../logger.js';
import { Pacer } from '../pacer.js';

/**
 * The one retry and pacing policy of the Route53 client.
 *
 * Limits (Route53 quotas, "Requests to the Route 53 API"): 5 requests per second per AWS
 * account, every API action together; beyond that Route53 answers HTTP 400 `Throttling`, and
 * `PriorRequestNotComplete` while an earlier change is still being applied. The SDK classifies
 * both as throttling. Requests are paced below the limit so throttling stays rare; the SDK's
 * adaptive mode handles what pacing cannot see (other processes on the same account).
 */
export const ROUTE53_POLICY = {
  /** Requests per second for the whole account, all actions together. */
  rateLimit: 5,
  /** Client-side rate limiting plus exponential backoff on throttling (SDK `adaptive` mode). */
  retryMode: 'adaptive',
  /** Attempts in all, the first included. Throttling backoff is drawn from [0, min(20 s, 1 s × 2^n)]: at most 71 s of waiting over 7 retries, about half that on average. */
  maxAttempts: 8,
} as const;

/** Route53 is a global service; its endpoint and signing region are the same for every commercial region. */
const DEFAULT_ROUTE53_REGION = 'us-east-1';

/** Session name of the assumed role, visible in the DNS account's CloudTrail. */
const ROLE_SESSION_NAME = 'tencent-ssl-sync';

/** All Route53 requests of one client share one budget, whatever the action. */
const PACER_KEY = 'route53';
const PACING_MIDDLEWARE = 'route53PacingMiddleware';

export interface Route53ClientOptions {
  /** Assume this role (DNS in another account); the base credentials come from the SDK's default chain. */
  roleArn?: string;
  externalId?: string;
  /** Requests per second for the whole account (default 5, Route53's limit). */
  rateLimit?: number;
  clock?: Clock;
  logger?: Logger;
  /** Passed to the SDK client as is (tests give a requestHandler, region and credentials). */
  clientConfig?: Route53ClientConfig;
}

/**
 * A Route53 client with the SDK's standard configuration (region, endpoint and credentials from
 * the environment or profile: `AWS_REGION`, `AWS_ENDPOINT_URL_ROUTE_53`, …), adaptive retries and
 * every attempt paced to the account's rate.
 */
export function createRoute53Client(options: Route53ClientOptions = {}): Route53Client {
  const clientConfig = options.clientConfig ?? {};
  const config: Route53ClientConfig = {
    retryMode: ROUTE53_POLICY.retryMode,
    maxAttempts: ROUTE53_POLICY.maxAttempts,
    ...clientConfig,
    region: clientConfig.region ?? defaultRegion(clientConfig.profile),
  };
  if (options.roleArn) {
    config.credentials = fromTemporaryCredentials({
      params: {
        RoleArn: options.roleArn,
        RoleSessionName: ROLE_SESSION_NAME,
        ...(options.externalId ? { ExternalId: options.externalId } : {}),
      },
      // Explicit base credentials (tests, callers) sign the AssumeRole call; otherwise the default chain does.
      ...(clientConfig.credentials ? { masterCredentials: clientConfig.credentials } : {}),
    });
  }
  const client = new Route53Client(config);
  const pacer = new Pacer({
    rate: options.rateLimit ?? ROUTE53_POLICY.rateLimit,
    clock: options.clock ?? systemClock,
  });
  addRoute53Pacing(client, pacer, { logger: options.logger ?? silentLogger });
  return client;
}

/**
 * Makes every request of `client` wait for a slot of `pacer` (one key for the whole account).
 * Installed in the finalizeRequest step after the retry middleware, so each attempt, retries
 * included, takes its own slot.
 */
export function addRoute53Pacing(
  client: Route53Client,
  pacer: Pacer,
  options: { logger?: Logger } = {},
): void {
  const logger = options.logger ?? silentLogger;
  const pacing: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
    (next, context) => async (args) => {
      await pacer.acquire(PACER_KEY);
      const attempt = attemptNumber(args.request);
      if (attempt !== undefined && attempt > 1) {
        logger.warn('retrying Route53 request', { command: context.commandName, attempt });
      }
      return next(args);
    };
  client.middlewareStack.addRelativeTo(pacing, {
    name: PACING_MIDDLEWARE,
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    override: true,
  });
}

/** The SDK's retry middleware numbers attempts in the `amz-sdk-request` header (`attempt=2; max=8`). */
function attemptNumber(request: unknown): number | undefined {
  const headers = (request as { headers?: Record<string, string> } | undefined)?.headers;
  const match = /attempt=(\d+)/.exec(headers?.['amz-sdk-request'] ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * The SDK's own region lookup (`AWS_REGION`, then the profile), falling back to us-east-1 instead
 * of failing: Route53 does not depend on the region within a partition. The SDK's last resort,
 * the EC2 instance metadata service, is skipped so a laptop without a region does not wait for it.
 */
function defaultRegion(profile: string | undefined): () => Promise<string> {
  return loadConfig(
    { ...NODE_REGION_CONFIG_OPTIONS, default: DEFAULT_ROUTE53_REGION },
    { ...NODE_REGION_CONFIG_FILE_OPTIONS, ...(profile ? { profile } : {}) },
  );
}
