import type { AcmCertificate } from './acm/certificate.js';
import type { AcmOutcome, AcmSession, AcmSink } from './acm/import.js';
import type { CertificateBundle } from './secrets/pem.js';
import type { ManagedSecret } from './secrets/secret-store.js';
import type { CertificateListItem } from './tencent/schemas.js';

/** A certificate and the secret it belongs in, as export decided it. */
export interface SecretSlot {
  certificateId: string;
  secretName: string;
  /** Digest of the certificate's name set (secrets/naming.ts). */
  namesSha256: string;
  /** What the secret holds, from its tags. */
  existing?: ManagedSecret | undefined;
}

/** A certificate as a run read it: verified, or why not. */
export type SlotReading =
  | { state: 'verified'; bundle: CertificateBundle }
  | { state: 'refused' | 'no-private-key' | 'failed' | 'deferred'; reason: string };

/**
 * Export's ACM hook (ACM_IMPORT): ACM is given the certificate each secret holds, once the secret
 * is written or found current, so one ACM certificate follows each secret across renewals. One
 * listing of ACM per run; a certificate whose secret is current is read again from Tencent only
 * when ACM lacks it (ACM_IMPORT newly on, an earlier import that failed).
 */
export class ExportAcm {
  private constructor(private readonly session: AcmSession) {}

  /** The run's ACM session, asked about the names of `items`; undefined without ACM_IMPORT. */
  static async open(
    sink: AcmSink | undefined,
    items: readonly CertificateListItem[],
  ): Promise<ExportAcm | undefined> {
    if (!sink || items.length === 0) return undefined;
    const names = items.flatMap((item) => [item.Domain ?? '', ...(item.SubjectAltName ?? [])]);
    return new ExportAcm(await sink.open(names.filter(Boolean)));
  }

  /**
   * What ACM holds for a secret found current, from the listings alone; undefined when the
   * certificate must be read again and delivered.
   */
  current(slot: SecretSlot): AcmOutcome | undefined {
    const held = slot.existing;
    if (!held?.fingerprint || !held.notAfter) return undefined;
    return this.session.preview({
      secretName: slot.secretName,
      fingerprintSha256: held.fingerprint,
      notAfter: held.notAfter,
      namesSha256: slot.namesSha256,
    });
  }

  /** Imports the certificate just written to its secret (or found there). */
  deliver(slot: SecretSlot, bundle: CertificateBundle, dryRun: boolean): Promise<AcmOutcome> {
    return this.session.deliver(acmCertificate(slot, bundle), dryRun);
  }

  /**
   * Imports a certificate read again because ACM lacks what its current secret holds: only when it
   * passed the checks again and is still the certificate the secret holds.
   */
  async deliverHeld(
    slot: SecretSlot,
    reading: SlotReading | undefined,
    dryRun: boolean,
  ): Promise<AcmOutcome> {
    if (reading?.state === 'refused')
      return {
        result: 'refused',
        reason: `the certificate read again for ACM is refused: ${reading.reason}`,
      };
    if (reading?.state !== 'verified')
      return {
        result: 'failed',
        reason: `the certificate could not be read again for ACM: ${reading?.reason ?? 'not read'}`,
      };
    if (reading.bundle.fingerprintSha256 !== slot.existing?.fingerprint)
      return {
        result: 'failed',
        reason:
          'Tencent now answers with another certificate under this id than the secret holds; ACM is left as it is',
      };
    return this.deliver(slot, reading.bundle, dryRun);
  }
}

function acmCertificate(slot: SecretSlot, bundle: CertificateBundle): AcmCertificate {
  return {
    secretName: slot.secretName,
    certificateId: slot.certificateId,
    certificatePem: bundle.certificate,
    chainPem: bundle.chain,
    privateKeyPem: bundle.privateKey,
    fingerprintSha256: bundle.fingerprintSha256,
    notAfter: bundle.notAfter,
    namesSha256: slot.namesSha256,
  };
}
