/**
 * The certificates plugin's contract: events other plugins may listen to, and the extension point
 * through which other plugins say who completed an edition in another way than online.
 */
import { defineEvent, defineExtensionPoint } from '../../src/index.ts';

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

/**
 * Another way to have completed an edition than finishing its course online: the attendance
 * plugin counts the days (or sessions) a person was present at an in-person edition against the
 * edition's completion rule. Bulk issuance and automatic issuance accept a person who completed by
 * any rule; people enrolled without an account (pre-enrolled by e-mail) qualify by rule too.
 */
export interface CompletionRule {
  id: string;
  /** A catalogue key naming this way of completing on staff pages ("attendance"); absent: the certificates plugin's word for `id`, if it has one. */
  label?: string;
  /**
   * Of these enrolments (all of one edition), those that completed by this rule, each with the day
   * it was completed (the last day that counted). Enrolments absent from the map did not (yet).
   */
  completedOf(editionId: string, enrolmentIds: string[]): Promise<Map<string, Date>>;
}

export const CompletionRules = defineExtensionPoint<CompletionRule>('certificates.completionRules');
