import mongoose from 'mongoose';

/** What a certificate prints, as stored: dates as `YYYY-MM-DD`, texts per language. */
export interface CertificateSnapshot {
  name: string;
  nameAlt?: string;
  course: Record<string, string>;
  edition?: Record<string, string>;
  startDate?: string;
  endDate?: string;
  place?: Record<string, string>;
  hours?: number;
  code: string;
  verificationUrl: string;
  issueDate: string;
}

/**
 * An issued certificate: a record that never changes once written. Its `_id` is the verification
 * code (grouped form), so that verifying is an `_id` lookup. Later facts (replaced, revoked) are
 * records of their own (FactDoc), never edits of this one.
 */
export interface CertificateDoc {
  _id: string;
  enrolmentId: string;
  editionId: string;
  courseId: string;
  learnerId: string;
  snapshot: CertificateSnapshot;
  templateId: string;
  templateVersion: number;
  /** SHA-256 (hex) of the PDF bytes as issued. */
  sha256: string;
  /** The PDF in GridFS (bucket `certificates_pdf`). */
  fileId: mongoose.Types.ObjectId;
  size: number;
  via: 'completion' | 'staff' | 'bulk';
  issuedBy?: string;
  issuedAt: Date;
  /** The certificate this one replaces (reissue). */
  replaces?: string;
  jobId?: string;
}

export const certificateSchema = new mongoose.Schema<CertificateDoc>(
  {
    _id: { type: String, required: true },
    enrolmentId: { type: String, required: true },
    editionId: { type: String, required: true },
    courseId: { type: String, required: true },
    learnerId: { type: String, required: true },
    snapshot: { type: mongoose.Schema.Types.Mixed, required: true },
    templateId: { type: String, required: true },
    templateVersion: { type: Number, required: true },
    sha256: { type: String, required: true },
    fileId: { type: mongoose.Schema.Types.ObjectId, required: true },
    size: { type: Number, required: true },
    via: { type: String, required: true },
    issuedBy: String,
    issuedAt: { type: Date, required: true },
    replaces: String,
    jobId: String,
  },
  { versionKey: false },
);
certificateSchema.index({ sha256: 1 });
certificateSchema.index({ learnerId: 1 });
certificateSchema.index({ editionId: 1 });

/**
 * The certificate an enrolment holds now: `_id` is the enrolment id, so the first issuance claims
 * it with a unique insert (one certificate per enrolment, whatever runs concurrently). The claim
 * carries the code and snapshot before anything is rendered, so an issuance cut short (a crash)
 * is completed later with the same code and the same bytes.
 */
export interface ClaimDoc {
  _id: string; // enrolment id
  code: string;
  snapshot: CertificateSnapshot;
  templateId: string;
  templateVersion: number;
  editionId: string;
  courseId: string;
  learnerId: string;
  via: CertificateDoc['via'];
  issuedBy?: string;
  jobId?: string;
  replaces?: string;
  /** Issued while the learner had not confirmed the name to print (staff chose to): the audit says so. */
  nameUnconfirmed?: boolean;
  /** Issued to a person who had no account (staff chose to): one was opened for them, and the name of their imported profile printed. */
  noAccount?: boolean;
  claimedAt: Date;
}

export const claimSchema = new mongoose.Schema<ClaimDoc>(
  {
    _id: { type: String, required: true },
    code: { type: String, required: true },
    snapshot: { type: mongoose.Schema.Types.Mixed, required: true },
    templateId: { type: String, required: true },
    templateVersion: { type: Number, required: true },
    editionId: { type: String, required: true },
    courseId: { type: String, required: true },
    learnerId: { type: String, required: true },
    via: { type: String, required: true },
    issuedBy: String,
    jobId: String,
    replaces: String,
    nameUnconfirmed: Boolean,
    noAccount: Boolean,
    claimedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
claimSchema.index({ editionId: 1 });

/**
 * A later fact about a certificate, inserted once: `<code>:replaced` or `<code>:revoked`. Two
 * staff members revoking at the same moment make one revocation, not two.
 */
export interface FactDoc {
  _id: string;
  code: string;
  kind: 'replaced' | 'revoked';
  reason: string;
  byUserId: string;
  at: Date;
  /** For 'replaced': the new certificate's code. */
  replacedBy?: string;
}

export const factSchema = new mongoose.Schema<FactDoc>(
  {
    _id: { type: String, required: true },
    code: { type: String, required: true },
    kind: { type: String, required: true },
    reason: { type: String, required: true, maxlength: 2000 },
    byUserId: { type: String, required: true },
    at: { type: Date, required: true },
    replacedBy: String,
  },
  { versionKey: false },
);
factSchema.index({ code: 1 });

/** The name a learner confirmed for their certificates, in their own script. */
export interface PrintedNameDoc {
  _id: string; // user id
  name: string;
  nameAlt?: string;
  confirmedAt: Date;
}

export const printedNameSchema = new mongoose.Schema<PrintedNameDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true, trim: true, maxlength: 200 },
    nameAlt: { type: String, trim: true, maxlength: 200 },
    confirmedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/** Per edition: whether completing the course issues the certificate, and with which template. */
export interface EditionSettingDoc {
  _id: string; // edition id
  autoIssue: boolean;
  templateId?: string;
  /** When the job after the end date issued the automatic certificates that waited for it. */
  endIssuedAt?: Date;
  updatedBy: string;
  updatedAt: Date;
}

export const editionSettingSchema = new mongoose.Schema<EditionSettingDoc>(
  {
    _id: { type: String, required: true },
    autoIssue: { type: Boolean, default: false },
    templateId: String,
    endIssuedAt: Date,
    updatedBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/** Who did what with certificates: issuance, reissue, revocation, downloads by staff. */
export interface AuditDoc {
  _id: mongoose.Types.ObjectId;
  at: Date;
  actorId?: string;
  action: 'issued' | 'reissued' | 'revoked' | 'downloaded' | 'job-started' | 'job-finished' | 'template-saved';
  code?: string;
  editionId?: string;
  details?: string;
}

export const auditSchema = new mongoose.Schema<AuditDoc>(
  {
    at: { type: Date, required: true },
    actorId: String,
    action: { type: String, required: true },
    code: String,
    editionId: String,
    details: { type: String, maxlength: 2000 },
  },
  { versionKey: false },
);
auditSchema.index({ at: -1 });

/**
 * A certificate that waits for its holder to have an account: staff (a bulk job) or the job after
 * the end date found that this enrolment qualifies, but the person has no account yet, so nothing
 * is printed (a certificate prints the name its holder confirmed). `_id` is the enrolment id: one
 * per enrolment, whatever runs concurrently. The person is invited to create their account with
 * the enrolment's address; once they have it and have confirmed their printed name, the
 * certificate is issued (issueWaiting) and this record removed. Only people without an account
 * are here, so the collection stays small (it is read by address: only `_id` is indexed on FerretDB).
 */
export interface WaitingDoc {
  _id: string; // enrolment id
  editionId: string;
  /** The enrolment's address, normalised. */
  email: string;
  via: CertificateDoc['via'];
  byUserId?: string;
  jobId?: string;
  at: Date;
}

export const waitingSchema = new mongoose.Schema<WaitingDoc>(
  {
    _id: { type: String, required: true },
    editionId: { type: String, required: true },
    email: { type: String, required: true, lowercase: true, trim: true },
    via: { type: String, required: true },
    byUserId: String,
    jobId: String,
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
