/**
 * The certificates plugin's contract: events other plugins may listen to.
 */
import { defineEvent } from '../../src/index.ts';

export interface CertificateEvent {
  code: string;
  enrolmentId: string;
  editionId: string;
  courseId: string;
  learnerId: string;
  /** Staff member who acted; absent for automatic issuance on completion. */
  byUserId?: string | undefined;
}

export const CertificateIssued = defineEvent<CertificateEvent & { via: 'completion' | 'staff' | 'bulk' }>('certificates.certificate.issued');
/** A new certificate replaces an old one (e.g. a corrected name); `code` is the new one. */
export const CertificateReissued = defineEvent<CertificateEvent & { replacedCode: string; reason: string }>('certificates.certificate.reissued');
export const CertificateRevoked = defineEvent<CertificateEvent & { reason: string }>('certificates.certificate.revoked');
