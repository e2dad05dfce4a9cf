/**
 * What the staff pages read of the certificates' records (who holds one, an edition's list, the
 * facts of one, the audit log, names confirmed) and an edition's certificate settings. Part of
 * the issuance service, which hands these out in place of its collections.
 */
import mongoose, { type Model } from 'mongoose';
import type { AuditDoc, CertificateDoc, EditionSettingDoc, FactDoc, PrintedNameDoc } from '../models/certificate.model.ts';

export interface RecordModels {
  Certificate: Model<CertificateDoc>;
  Fact: Model<FactDoc>;
  PrintedName: Model<PrintedNameDoc>;
  EditionSetting: Model<EditionSettingDoc>;
  Audit: Model<AuditDoc>;
}

export function createCertificateRecords(models: RecordModels) {
  const { Certificate, Fact, PrintedName, EditionSetting, Audit } = models;

  /** The enrolments of an edition holding a certificate: the records, not the claims (a claim cut short still needs its PDF). */
  async function holdersIn(editionId: string): Promise<Set<string>> {
    return new Set((await Certificate.find({ editionId }, { enrolmentId: 1 }).lean()).map((c) => c.enrolmentId));
  }

  /** An edition's certificates, oldest first (a reissue comes after what it replaces). */
  function issuedIn(editionId: string): Promise<Pick<CertificateDoc, '_id' | 'enrolmentId' | 'issuedAt'>[]> {
    return Certificate.find({ editionId }, { _id: 1, enrolmentId: 1, issuedAt: 1 }).sort({ issuedAt: 1 }).lean();
  }

  /** The certificates of these codes (those that exist), in no particular order. */
  function byCodes(codes: readonly string[]): Promise<CertificateDoc[]> {
    return Certificate.find({ _id: mongoose.trusted({ $in: [...codes] }) }).lean();
  }

  function factsOf(code: string): Promise<FactDoc[]> {
    return Fact.find({ code }).lean();
  }

  /** Which of these people have confirmed the name their certificates print. */
  async function namesConfirmed(userIds: readonly string[]): Promise<Set<string>> {
    return new Set((await PrintedName.find({ _id: mongoose.trusted({ $in: [...userIds] }) }, { _id: 1 }).lean()).map((n) => n._id));
  }

  function editionSetting(editionId: string): Promise<EditionSettingDoc | null> {
    return EditionSetting.findById(editionId).lean();
  }

  /** Whether the edition's certificates come on completion, and with which template (none given: the course's or the default). */
  async function saveEditionSetting(editionId: string, input: { autoIssue: boolean; templateId?: string | undefined }, byUserId: string): Promise<void> {
    await EditionSetting.updateOne(
      { _id: editionId },
      {
        $set: { autoIssue: input.autoIssue, updatedBy: byUserId, updatedAt: new Date(), ...(input.templateId ? { templateId: input.templateId } : {}) },
        ...(input.templateId ? {} : { $unset: { templateId: 1 } }),
      },
      { upsert: true },
    );
  }

  /** One page of the audit log, newest first, and how many entries it has in all. */
  async function auditPage(page: number, pageSize: number): Promise<{ entries: AuditDoc[]; total: number }> {
    const [entries, total] = await Promise.all([
      Audit.find({})
        .sort({ at: -1, _id: -1 })
        .skip((page - 1) * pageSize)
        .limit(pageSize)
        .lean(),
      Audit.countDocuments({}),
    ]);
    return { entries, total };
  }

  return { holdersIn, issuedIn, byCodes, factsOf, namesConfirmed, editionSetting, saveEditionSetting, auditPage };
}
