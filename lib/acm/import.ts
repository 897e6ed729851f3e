import type { ACMClient } from '@aws-sdk/client-acm';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import {
  addTagsToCertificate,
  importCertificate,
  listManagedCertificates,
  type ManagedAcmCertificate,
} from './acm-client.js';
import { type AcmCertificate, importRefusal } from './certificate.js';

/**
 * - `imported`: a new ACM certificate, tagged as the tool's (or would be, in a dry run).
 * - `reimported`: the certificate was re-imported into the ARN that held the secret's earlier
 *   certificate: whatever uses that ARN (CloudFront, a load balancer, API Gateway) serves it now.
 * - `unchanged`: ACM already holds this certificate.
 * - `kept-newer`: the ARN holds a certificate of the same names that expires later; it is never
 *   moved back.
 * - `refused`: ACM would not import it (`reason` says which rule): nothing was sent.
 * - `failed`: ACM could not be listed, or answered with an error; a later run tries again.
 */
type AcmResult = 'imported' | 'reimported' | 'unchanged' | 'kept-newer' | 'refused' | 'failed';

export interface AcmOutcome {
  result: AcmResult;
  arn?: string;
  reason?: string;
}

/** What a secret holds, from its tags: enough to tell whether ACM holds the same. */
type AcmTarget = Pick<AcmCertificate, 'secretName' | 'fingerprintSha256' | 'notAfter' | 'namesSha256'>;

type AcmPlan =
  | { action: 'unchanged'; arn: string }
  | { action: 'kept-newer'; arn: string; reason: string }
  | { action: 'import' }
  | { action: 'reimport'; arn: string; held: ManagedAcmCertificate };

/** A certificate's notAfter as tagged and as read can differ by the seconds of issuance. */
const SAME_EXPIRY_TOLERANCE_MS = 24 * 3600 * 1000;

/** Pure: what to do about `target` given the tool's ACM certificate for its secret (if any). */
function planAcmImport(target: AcmTarget, held: ManagedAcmCertificate | undefined): AcmPlan {
  if (!held) return { action: 'import' };
  if (held.fingerprint === target.fingerprintSha256) return { action: 'unchanged', arn: held.arn };
  const heldExpiry = held.notAfter ? Date.parse(held.notAfter) : Number.NaN;
  if (
    held.namesSha256 === target.namesSha256 &&
    Number.isFinite(heldExpiry) &&
    heldExpiry > Date.parse(target.notAfter) + SAME_EXPIRY_TOLERANCE_MS
  ) {
    return {
      action: 'kept-newer',
      arn: held.arn,
      reason: `ACM holds certificate ${held.certificateId ?? '?'}, which expires later (${held.notAfter})`,
    };
  }
  return { action: 'reimport', arn: held.arn, held };
}

/**
 * The one ACM certificate of a secret, when several carry its tag (two runs that imported at
 * once): the one holding `fingerprint`, else one in use, else the first imported, else the
 * lowest ARN — so every run picks the same and never imports a third.
 */
export function chooseHeld(
  candidates: readonly ManagedAcmCertificate[],
  fingerprint?: string,
): ManagedAcmCertificate | undefined {
  const time = (c: ManagedAcmCertificate) => c.importedAt?.getTime() ?? Number.POSITIVE_INFINITY;
  return [...candidates].sort(
    (a, b) =>
      Number(b.fingerprint === fingerprint) - Number(a.fingerprint === fingerprint) ||
      Number(b.inUse) - Number(a.inUse) ||
      time(a) - time(b) ||
      a.arn.localeCompare(b.arn),
  )[0];
}

/** One run's view of ACM: read once, then asked about each certificate. */
export interface AcmSession {
  /**
   * What ACM holds for the secret, when that can be told without the certificate's PEMs: an
   * outcome (`unchanged`, `kept-newer`, or `failed` when ACM could not be listed), or undefined
   * when the certificate must be read and delivered.
   */
  preview(target: AcmTarget): AcmOutcome | undefined;
  /** Imports (or re-imports) `certificate` unless ACM holds it; never throws. */
  deliver(certificate: AcmCertificate, dryRun: boolean): Promise<AcmOutcome>;
}

/** Opens an ACM session once per run. */
export interface AcmSink {
  /** Lists the tool's ACM certificates naming one of `names`; a failure is reported by the session. */
  open(names: Iterable<string>): Promise<AcmSession>;
}

export interface AcmImporterDeps {
  client: ACMClient;
  clock: Clock;
  logger: Logger;
}

function describeError(error: unknown): string {
  const name = (error as { name?: string } | undefined)?.name;
  const message = error instanceof Error ? error.message : String(error);
  return name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
}

/** ACM_IMPORT: the sink that keeps one ACM certificate per secret, re-imported into the same ARN as the secret changes. */
export class AcmImporter implements AcmSink {
  constructor(private readonly deps: AcmImporterDeps) {}

  async open(names: Iterable<string>): Promise<AcmSession> {
    try {
      const managed = await listManagedCertificates(this.deps.client, { names });
      this.deps.logger.debug('ACM certificates listed', { managed: managed.length });
      return new ListedSession(this.deps, managed);
    } catch (error) {
      const reason = `cannot list the ACM certificates: ${describeError(error)}`;
      this.deps.logger.warn('ACM listing failed', { error: reason });
      const failed: AcmOutcome = { result: 'failed', reason };
      return { preview: () => failed, deliver: async () => failed };
    }
  }
}

class ListedSession implements AcmSession {
  readonly #bySecret = new Map<string, ManagedAcmCertificate[]>();
  /** Deliveries to one secret run one after the other. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: AcmImporterDeps,
    managed: readonly ManagedAcmCertificate[],
  ) {
    for (const certificate of managed) {
      this.#bySecret.set(certificate.secretName, [
        ...(this.#bySecret.get(certificate.secretName) ?? []),
        certificate,
      ]);
    }
    for (const [secretName, list] of this.#bySecret) {
      if (list.length > 1)
        deps.logger.warn('several ACM certificates carry one secret tag', {
          secretName,
          arns: list.map((c) => c.arn),
          kept: chooseHeld(list)?.arn,
        });
    }
  }

  #held(target: AcmTarget): ManagedAcmCertificate | undefined {
    return chooseHeld(this.#bySecret.get(target.secretName) ?? [], target.fingerprintSha256);
  }

  preview(target: AcmTarget): AcmOutcome | undefined {
    const plan = planAcmImport(target, this.#held(target));
    if (plan.action === 'unchanged') return { result: 'unchanged', arn: plan.arn };
    if (plan.action === 'kept-newer') return { result: 'kept-newer', arn: plan.arn, reason: plan.reason };
    return undefined;
  }

  deliver(certificate: AcmCertificate, dryRun: boolean): Promise<AcmOutcome> {
    const before = this.#queues.get(certificate.secretName) ?? Promise.resolve();
    const run = before.then(() => this.#deliver(certificate, dryRun));
    this.#queues.set(
      certificate.secretName,
      run.catch(() => undefined),
    );
    return run;
  }

  async #deliver(certificate: AcmCertificate, dryRun: boolean): Promise<AcmOutcome> {
    const { logger, client, clock } = this.deps;
    const plan = planAcmImport(certificate, this.#held(certificate));
    if (plan.action === 'unchanged') return { result: 'unchanged', arn: plan.arn };
    if (plan.action === 'kept-newer') return { result: 'kept-newer', arn: plan.arn, reason: plan.reason };
    const arn = plan.action === 'reimport' ? plan.arn : undefined;
    const fields = { secretName: certificate.secretName, certificateId: certificate.certificateId, arn };
    const refusal = importRefusal(
      certificate,
      new Date(clock.now()),
      plan.action === 'reimport' ? plan.held : undefined,
    );
    if (refusal) {
      logger.warn('ACM import refused', { ...fields, reason: refusal });
      return { result: 'refused', ...(arn ? { arn } : {}), reason: refusal };
    }
    const result = plan.action === 'reimport' ? 'reimported' : 'imported';
    if (dryRun) return { result, ...(arn ? { arn } : {}) };

    let imported: string;
    try {
      imported = await importCertificate(client, certificate, arn);
    } catch (error) {
      const reason = describeError(error);
      logger.warn('ACM import failed', { ...fields, error: reason });
      return { result: 'failed', ...(arn ? { arn } : {}), reason };
    }
    // From here on ACM holds the certificate: the session says so, whatever the tags.
    this.#bySecret.set(certificate.secretName, [
      {
        arn: imported,
        secretName: certificate.secretName,
        fingerprint: certificate.fingerprintSha256,
        certificateId: certificate.certificateId,
        notAfter: certificate.notAfter,
        namesSha256: certificate.namesSha256,
        inUse: plan.action === 'reimport' && plan.held.inUse,
      },
    ]);
    if (plan.action === 'reimport') {
      try {
        await addTagsToCertificate(client, imported, certificate);
      } catch (error) {
        // The tags still name the old certificate: the next run re-imports the same one and tags again.
        const reason = `re-imported, but its tags were not updated (the next run repeats both): ${describeError(error)}`;
        logger.warn('ACM tags not updated', { ...fields, error: reason });
        return { result: 'failed', arn: imported, reason };
      }
    }
    logger.info(
      plan.action === 'reimport' ? 'certificate re-imported into ACM' : 'certificate imported into ACM',
      {
        ...fields,
        arn: imported,
        fingerprintSha256: certificate.fingerprintSha256,
        notAfter: certificate.notAfter,
      },
    );
    return { result, arn: imported };
  }
}
