import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { JsonLogger, type Logger } from '../logger.js';
import { Redactor } from '../redact.js';
import { readTencentCredentialsSecret } from '../secrets/credentials.js';
import type { TrustAnchors } from '../secrets/trust.js';
import type { StateStore } from '../state/types.js';
import { TencentClient, type TencentCredentials } from '../tencent/client.js';
import { TencentSslApi } from '../tencent/ssl-api.js';
import { createStateStore } from './state.js';

/**
 * What every entry point needs: configuration, logging with redaction, the clock, the Tencent
 * client and Secrets Manager (credentials live there in Lambda). Each Lambda handler adds only
 * the parts it uses (deps/sync.ts, deps/export.ts, deps/webhook.ts), so no bundle carries
 * clients it never calls.
 */
export interface BaseDeps {
  config: Config;
  logger: Logger;
  redactor: Redactor;
  clock: Clock;
  tencent: TencentSslApi;
  secrets: SecretsManagerClient;
  /** The roots exported chains must reach, when not Node's own trust store (the sandbox's local CA). */
  trust?: () => TrustAnchors;
  /** The state table of `STATE_TABLE`; absent when it is unset (state off). */
  state?: StateStore;
  /** Releases sockets and clients; later `onClose` hooks run too. */
  close(): Promise<void>;
  onClose(hook: () => void | Promise<void>): void;
}

export interface BaseOptions {
  /** Where log lines go (stderr by default). */
  write?: (line: string) => void;
  clock?: Clock;
  /** Trust anchors for export instead of Node's trust store. */
  trust?: () => TrustAnchors;
}

export function createBaseDeps(config: Config, options: BaseOptions = {}): BaseDeps {
  const clock = options.clock ?? systemClock;
  const redactor = new Redactor([
    config.tencent.credentials?.secretKey,
    config.tencent.credentials?.sessionToken,
    config.webhook.secret,
  ]);
  const logger = new JsonLogger({
    level: config.logLevel,
    redactor,
    ...(options.write ? { write: options.write } : {}),
  });
  const secrets = new SecretsManagerClient({});
  const literal = config.tencent.credentials;
  const secretName = config.tencent.credentialsSecret;
  const credentials = async (): Promise<TencentCredentials> => {
    if (literal) return literal;
    if (!secretName) throw new Error('no Tencent credentials configured');
    const loaded = await readTencentCredentialsSecret(secrets, secretName);
    redactor.add(loaded.secretKey);
    redactor.add(loaded.sessionToken);
    return loaded;
  };
  const tencentClient = new TencentClient({
    endpoint: config.tencent.endpoint,
    credentials,
    rateLimit: config.tencent.rateLimit,
    clock,
    logger: logger.child({ system: 'tencent' }),
  });
  const hooks: Array<() => void | Promise<void>> = [];
  const state = createStateStore(config, clock);
  if (state) hooks.push(() => state.destroy());
  return {
    config,
    logger,
    redactor,
    clock,
    tencent: new TencentSslApi(tencentClient),
    secrets,
    ...(options.trust ? { trust: options.trust } : {}),
    ...(state ? { state } : {}),
    onClose: (hook) => hooks.push(hook),
    async close() {
      for (const hook of hooks.splice(0)) await hook();
      await tencentClient.close();
      secrets.destroy();
    },
  };
}
