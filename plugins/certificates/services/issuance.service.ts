/**
 * Issuing, reissuing and revoking certificates, and reading them back.
 *
 * Invariants without transactions (docs/architecture.md, data rules):
 *  - one current certificate per enrolment: the first issuance inserts a claim whose `_id` is the
 *    enrolment id; concurrent or repeated issuance finds the claim and returns its certificate;
 *  - the claim holds the code and the snapshot *before* rendering, so an issuance cut short is
 *    completed later with the same code, printing the same bytes (rendering is deterministic);
 *  - a certificate record is inserted once (`_id` = code) and never changed; replacement and
 *    revocation are facts inserted once (`<code>:replaced`, `<code>:revoked`);
 *  - the PDF is stored in GridFS and its SHA-256 recorded, so a later download is byte-identical
 *    and an uploaded copy can be checked.
 *
 * Over 400 lines: issuing, reissuing and revoking share the claim-then-record steps that keep the
 * invariants below; apart, each would need the others' internals (its records are in records.ts).
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mongoose, { type Connection, type Model } from 'mongoose';
import type { Logger } from 'pino';
import {
  conflict,
  HttpError,
  isDuplicateKey,
  localized,
  notFound,
  upsertOne,
  type EventRef,
  type MailService,
  type PluginJobs,
  type UsersService,
} from '../../../src/index.ts';
import type { CourseCatalogService, ProgressService } from '../../courses/contract.ts';
import type { EditionSummary, EnrolmentDirectoryService, EnrolmentSummary } from '../../enrolment/contract.ts';
import { generateCode, normaliseCode, verificationUrl } from '../code.ts';
import { CertificateIssued, CertificateReissued, CertificateRevoked, type CompletionRule } from '../contract.ts';
import type {
  AuditDoc,
  CertificateDoc,
  CertificateSnapshot,
  ClaimDoc,
  EditionSettingDoc,
  FactDoc,
  PrintedNameDoc,
  WaitingDoc,
} from '../models/certificate.model.ts';
import { renderCertificate, unprintableTexts, type CertificateTemplate } from '../render/index.ts';
import { createCertificateRecords } from './records.ts';

export interface CertificateModels {
  Certificate: Model<CertificateDoc>;
  Claim: Model<ClaimDoc>;
  Fact: Model<FactDoc>;
  PrintedName: Model<PrintedNameDoc>;
  EditionSetting: Model<EditionSettingDoc>;
  Audit: Model<AuditDoc>;
  Waiting: Model<WaitingDoc>;
}

/** Where templates come from (the template service). */
export interface TemplateSource {
  templateFor(courseId: string, preferredTemplateId?: string): Promise<{ templateId: string; version: number }>;
  load(templateId: string, version: number): Promise<CertificateTemplate>;
  /** Whether the version's PDFs go with the learner's e-mail; absent: they do. */
  attachPdf?(templateId: string, version: number): Promise<boolean>;
}

type Emit = <P>(event: EventRef<P>, payload: P) => Promise<void>;

export interface IssuanceDeps {
  connection: Connection;
  baseUrl: string;
  logger: Logger;
  emit: Emit;
  enrolments: () => EnrolmentDirectoryService;
  catalog: () => CourseCatalogService;
  progress: () => ProgressService;
  users: () => UsersService;
  templates: () => TemplateSource;
  /** E-mail to the learner when a certificate is issued, reissued or revoked; absent: nobody is told. */
  mail?: MailService | undefined;
  /** The plugin's queues: the second reminder to confirm a printed name is a job (`NAME_REMINDER_QUEUE`); absent: one reminder only. */
  jobs?: Pick<PluginJobs, 'enqueue'> | undefined;
  /** Other ways than online to have completed an edition, contributed by other plugins (attendance); absent: online only. */
  rules?: () => readonly CompletionRule[];
}

/** How a person completed an edition: `online` (the course, in Olive), or the id of the rule that counts them (`attendance`). */
export interface Completion {
  how: string;
  at: Date;
}

/** The error that says a person has no account yet (the staff route and the bulk job tell it apart). */
export const NO_ACCOUNT = 'NO_ACCOUNT';

/** The host queue of second reminders to confirm a printed name (`certificates.name-reminder`), keyed by enrolment. */
export const NAME_REMINDER_QUEUE = 'name-reminder';
/** Days between the first reminder to confirm a printed name and the second (and last). */
export const NAME_REMINDER_DAYS = 3;

export type Via = CertificateDoc['via'];

/**
 * A dated edition's certificates wait for its end date (the day it ends, from midnight UTC), unless
 * staff chose "certificates before the end" for it. Self-paced editions never wait.
 */
export function waitsForEnd(edition: Pick<EditionSummary, 'selfPaced' | 'endsAt' | 'certificatesBeforeEnd'>, now = new Date()): boolean {
  return !edition.selfPaced && !edition.certificatesBeforeEnd && !!edition.endsAt && edition.endsAt.getTime() > now.getTime();
}

export const notEnded = () =>
  new HttpError(
    409,
    'NOT_ENDED',
    'This edition has not ended yet: its certificates are issued from its end date, unless the edition allows certificates before the end.',
    undefined,
    { key: 'certificates:errors.notEnded' },
  );

export interface CertificateStatus {
  certificate: CertificateDoc;
  state: 'valid' | 'replaced' | 'revoked';
  replacedBy?: string | undefined;
  revokedAt?: Date | undefined;
  reason?: string | undefined;
}

/** A calendar day as stored in snapshots (the UTC day of the date). */
const day = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : undefined);

export const PDF_BUCKET = 'certificates_pdf';

/** A code that names no certificate (or none this person may see), as the service and the pages say it. */
export const noSuchCertificate = () => notFound('No certificate has this code.', { key: 'certificates:errors.noSuchCertificate' });

export function createIssuanceService(models: CertificateModels, deps: IssuanceDeps) {
  const { Certificate, Claim, Fact, PrintedName, EditionSetting, Audit, Waiting } = models;
  const { logger } = deps;
  const bucket = () => new mongoose.mongo.GridFSBucket(deps.connection.db!, { bucketName: PDF_BUCKET });

  async function audit(action: AuditDoc['action'], actorId: string | undefined, fields: { code?: string; editionId?: string; details?: string } = {}) {
    await Audit.create({ at: new Date(), action, ...(actorId ? { actorId } : {}), ...fields });
  }

  /** The name to print: the one the learner confirmed, else their account name. */
  async function printedName(learnerId: string): Promise<{ name: string; nameAlt?: string | undefined; confirmed: boolean }> {
    const confirmed = await PrintedName.findById(learnerId).lean();
    if (confirmed) return { name: confirmed.name, nameAlt: confirmed.nameAlt || undefined, confirmed: true };
    const user = await deps.users().findById(learnerId);
    if (!user) throw notFound('The learner’s account no longer exists.', { key: 'certificates:errors.noLearnerAccount' });
    return { name: user.name, confirmed: false };
  }

  /**
   * Who of these enrolments (all of one edition) completed it, and how: online (the course's
   * progress, for people with an account) or by a contributed rule (attendance), which also counts
   * people without an account. Online comes first; a rule is asked only about the others.
   */
  async function completionsOf(edition: Pick<EditionSummary, 'id' | 'courseId'>, enrolments: readonly EnrolmentSummary[]): Promise<Map<string, Completion>> {
    const out = new Map<string, Completion>();
    if (!enrolments.length) return out;
    const progress = await deps.progress().editionProgress(edition.courseId, edition.id);
    for (const e of enrolments) {
      const at = e.userId ? progress.get(e.userId)?.completedAt : undefined;
      if (at) out.set(e.id, { how: 'online', at });
    }
    for (const rule of deps.rules?.() ?? []) {
      const rest = enrolments.filter((e) => !out.has(e.id)).map((e) => e.id);
      if (!rest.length) break;
      for (const [id, at] of await rule.completedOf(edition.id, rest)) if (rest.includes(id) && !out.has(id)) out.set(id, { how: rule.id, at });
    }
    return out;
  }

  /** Whether one enrolment completed its edition (online or by a rule), and how. */
  async function completionOf(enrolment: EnrolmentSummary): Promise<Completion | null> {
    if (enrolment.userId) {
      const progress = await deps.progress().progressOf(enrolment.userId, enrolment.courseId, enrolment.editionId);
      if (progress.completedAt) return { how: 'online', at: progress.completedAt };
    }
    for (const rule of deps.rules?.() ?? []) {
      const at = (await rule.completedOf(enrolment.editionId, [enrolment.id])).get(enrolment.id);
      if (at) return { how: rule.id, at };
    }
    return null;
  }

  /**
   * Opens an account for a person enrolled by address only, so that a certificate issued anyway
   * has a holder: the host's invitation (a single-use link to set a password, sent once per
   * enrolment), in the account's name from the person's imported profile. The enrolment plugin
   * links the enrolment to the new account (UserCreated, awaited by the host before this returns).
   */
  async function openAccount(enrolment: EnrolmentSummary, edition: EditionSummary, course: { title: Record<string, string> }, by: string | undefined) {
    const name = (await deps.enrolments().personName?.(enrolment.email)) || enrolment.email.split('@')[0]!;
    return deps.users().invite(
      { email: enrolment.email, name, locale: edition.language },
      {
        by: by ?? 'certificates',
        key: `certificates.account:${enrolment.id}`,
        context: (t) =>
          t('certificates:waitingAccount.context', {
            course: localized(course.title, String((t as unknown as { lng?: string }).lng ?? edition.language)),
            edition: edition.title,
          }),
      },
    );
  }

  /**
   * The certificate of a qualifying person without an account waits for them: a waiting record
   * (once per enrolment) and an invitation to create their account with the enrolment's address
   * (once per enrolment). Nothing is printed now: the certificate is issued when they have their
   * account and have confirmed their printed name (issueWaiting). True when this call recorded it.
   */
  async function awaitAccount(enrolmentId: string, input: { via: Via; byUserId?: string | undefined; jobId?: string | undefined }): Promise<boolean> {
    const enrolment = await deps.enrolments().enrolment(enrolmentId);
    if (!enrolment || enrolment.userId || enrolment.status !== 'enrolled') return false;
    const [edition, course] = await Promise.all([deps.enrolments().edition(enrolment.editionId), deps.catalog().findById(enrolment.courseId)]);
    if (!edition || !course) return false;
    let created = true;
    try {
      await Waiting.create({
        _id: enrolment.id,
        editionId: edition.id,
        email: enrolment.email,
        via: input.via,
        ...(input.byUserId ? { byUserId: input.byUserId } : {}),
        ...(input.jobId ? { jobId: input.jobId } : {}),
        at: new Date(),
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      created = false;
    }
    // Sent once per enrolment (the invitation's key), also when a run cut short comes here again.
    const { user, sent } = await openAccount(enrolment, edition, course, input.byUserId);
    // An account that signs in only through an organisation gets no password link: a notice then.
    if (!sent && deps.mail)
      await deps.mail.send({
        key: `certificates.waiting-account:${enrolment.id}`,
        to: { userId: user.id },
        category: 'notice',
        compose: (t, lang) => ({
          subject: t('certificates:waitingAccount.subject', { course: localized(course.title, lang) }),
          paragraphs: [
            t('mail.greeting', { name: user.name }),
            t('certificates:waitingAccount.context', { course: localized(course.title, lang), edition: edition.title }),
          ],
          action: { label: t('certificates:nameReminder.action'), url: '/certificates/name' },
        }),
      });
    if (created) logger.info({ enrolment: enrolment.id, edition: edition.id }, 'certificate waits for the person to create an account');
    return created;
  }

  /** The waiting records of an edition (people without an account whose certificate waits for them). */
  async function waitingIn(editionId: string): Promise<Set<string>> {
    return new Set((await Waiting.find({ editionId }, { _id: 1 }).lean()).map((w) => w._id));
  }

  function snapshotOf(input: {
    edition: EditionSummary;
    course: { title: Record<string, string>; hours: number };
    name: string;
    nameAlt?: string | undefined;
    code: string;
    issuedAt: Date;
  }): CertificateSnapshot {
    const { edition, course } = input;
    const place = edition.place ? edition.place : edition.online ? 'Online' : '';
    return {
      name: input.name,
      ...(input.nameAlt ? { nameAlt: input.nameAlt } : {}),
      course: { ...course.title },
      edition: { [edition.language]: edition.title, en: edition.title },
      ...(day(edition.startsAt) ? { startDate: day(edition.startsAt)! } : {}),
      ...(day(edition.endsAt) ? { endDate: day(edition.endsAt)! } : {}),
      ...(place ? { place: { en: place } } : {}),
      ...(course.hours ? { hours: course.hours } : {}),
      code: input.code,
      verificationUrl: verificationUrl(deps.baseUrl, input.code),
      issueDate: day(input.issuedAt)!,
    };
  }

  /**
   * Tells the learner by e-mail, with the verification link (and the PDF, when the template says
   * so). Called by whoever wrote the fact, once; the key (`certificates.<kind>:<code>`) makes a
   * second call one message anyway. A failure is logged: the certificate stands without its e-mail.
   */
  async function tell(kind: 'issued' | 'reissued' | 'revoked', c: CertificateDoc, extra: { reason?: string; replacedCode?: string } = {}): Promise<void> {
    const mail = deps.mail;
    if (!mail) return;
    try {
      const learner = await deps.users().findById(c.learnerId);
      if (!learner) return;
      const attach = kind !== 'revoked' && ((await deps.templates().attachPdf?.(c.templateId, c.templateVersion)) ?? true);
      await mail.send({
        key: `certificates.${kind}:${c._id}`,
        to: { userId: c.learnerId },
        category: 'notice',
        compose: (t, lang) => {
          const course = c.snapshot.course[lang] || c.snapshot.course.en || Object.values(c.snapshot.course)[0] || '';
          const editions = c.snapshot.edition ?? {};
          const edition = editions[lang] || editions.en || Object.values(editions)[0] || '';
          const values = { course, edition, code: c._id, oldCode: extra.replacedCode ?? '' };
          return {
            subject: t(`certificates:mail.${kind}.subject`, values),
            paragraphs: [
              t('mail.greeting', { name: learner.name }),
              t(`certificates:mail.${kind}.body`, values),
              ...(extra.reason ? [t('certificates:mail.reason', { reason: extra.reason })] : []),
            ],
            action: { label: t(`certificates:mail.${kind === 'revoked' ? 'status' : 'verify'}`), url: `/verify/${c._id}` },
            footnote: attach ? t('certificates:mail.attached') : t('certificates:mail.download'),
          };
        },
        ...(attach
          ? { attachments: [{ filename: `certificate-${c._id}.pdf`, contentType: 'application/pdf', bucket: PDF_BUCKET, fileId: String(c.fileId) }] }
          : {}),
      });
    } catch (err) {
      logger.error({ err, code: c._id, kind }, 'certificate e-mail not recorded');
    }
  }

  /**
   * Renders and stores the claim's certificate if it is not stored yet. Idempotent and race-safe.
   * `notify: false` records it without telling the learner (the demo data).
   */
  async function complete(claim: ClaimDoc, options: { notify?: boolean } = {}): Promise<{ certificate: CertificateDoc; created: boolean }> {
    const existing = await Certificate.findById(claim.code).lean();
    if (existing) return { certificate: existing, created: false };
    const template = await deps.templates().load(claim.templateId, claim.templateVersion);
    const pdf = await renderCertificate(template, claim.snapshot);
    const sha256 = crypto.createHash('sha256').update(pdf).digest('hex');
    const fileId = new mongoose.Types.ObjectId();
    await pipeline(Readable.from([pdf]), bucket().openUploadStreamWithId(fileId, `${claim.code}.pdf`, { metadata: { code: claim.code, sha256 } }));
    const doc: CertificateDoc = {
      _id: claim.code,
      enrolmentId: claim._id,
      editionId: claim.editionId,
      courseId: claim.courseId,
      learnerId: claim.learnerId,
      snapshot: claim.snapshot,
      templateId: claim.templateId,
      templateVersion: claim.templateVersion,
      sha256,
      fileId,
      size: pdf.length,
      via: claim.via,
      ...(claim.issuedBy ? { issuedBy: claim.issuedBy } : {}),
      issuedAt: claim.claimedAt,
      ...(claim.replaces ? { replaces: claim.replaces } : {}),
      ...(claim.jobId ? { jobId: claim.jobId } : {}),
    };
    try {
      await Certificate.create(doc);
    } catch (err) {
      // Someone completed the same claim meanwhile: theirs stands, our copy of the file goes.
      await bucket()
        .delete(fileId)
        .catch(() => undefined);
      if (!isDuplicateKey(err)) throw err;
      return { certificate: (await Certificate.findById(claim.code).lean())!, created: false };
    }
    // Announced by whoever wrote the record (exactly once), also when a claim cut short is completed later.
    if (claim.replaces) {
      const fact = await Fact.findById(`${claim.replaces}:replaced`).lean();
      const reason = fact?.reason ?? '';
      await audit('reissued', claim.issuedBy, { code: doc._id, editionId: doc.editionId, details: `replaces ${claim.replaces}: ${reason}` });
      await deps.emit(CertificateReissued, eventOf(doc, claim.issuedBy, { replacedCode: claim.replaces, reason }));
      if (options.notify !== false) await tell('reissued', doc, { reason, replacedCode: claim.replaces });
    } else {
      await audit('issued', claim.issuedBy, {
        code: doc._id,
        editionId: doc.editionId,
        details: [
          claim.via,
          ...(claim.nameUnconfirmed ? ['issued with an unconfirmed printed name'] : []),
          ...(claim.noAccount ? ['the person had no account: one was opened for them, the name of their imported profile printed'] : []),
        ].join('; '),
      });
      await deps.emit(CertificateIssued, eventOf(doc, claim.issuedBy, { via: claim.via }));
      if (options.notify !== false) await tell('issued', doc);
    }
    return { certificate: doc, created: true };
  }

  /** Claims whose certificate was never written (a crash, a failure while rendering): completed now. */
  async function completeUnfinished(olderThanMs = 60_000): Promise<number> {
    const claims = await Claim.find({ claimedAt: mongoose.trusted({ $lt: new Date(Date.now() - olderThanMs) }) }).lean();
    let completed = 0;
    for (const claim of claims) {
      if (await Certificate.exists({ _id: claim.code })) continue;
      try {
        if ((await complete(claim)).created) completed++;
      } catch (err) {
        logger.error({ err, enrolment: claim._id, code: claim.code }, 'unfinished certificate could not be completed');
      }
    }
    return completed;
  }

  /**
   * Issues the certificate of an enrolment, or returns the one it has. `requireCompletion` is the
   * default: completed online or by a contributed rule (attendance); staff may issue without a
   * recorded completion by saying so. A person without an account is refused (NO_ACCOUNT: their
   * certificate waits for them, see awaitAccount) unless `unconfirmedName` is 'issue' (staff issue
   * anyway): an account is then opened for them and the name of their imported profile printed.
   */
  async function issue(input: {
    enrolmentId: string;
    via: Via;
    byUserId?: string | undefined;
    jobId?: string | undefined;
    requireCompletion?: boolean;
    notify?: boolean;
    /** 'wait': refused (409 NAME_UNCONFIRMED, or NO_ACCOUNT) while the learner has not confirmed their printed name (or has no account); default: issued with the account name, and audited so. */
    unconfirmedName?: 'wait' | 'issue';
  }): Promise<{ certificate: CertificateDoc; created: boolean }> {
    const options = { notify: input.notify !== false };
    const claimed = await Claim.findById(input.enrolmentId).lean();
    if (claimed) return complete(claimed, options);

    const enrolment = await deps.enrolments().enrolment(input.enrolmentId);
    if (!enrolment) throw notFound('No such enrolment.', { key: 'certificates:errors.noSuchEnrolment' });
    if (enrolment.status !== 'enrolled')
      throw new HttpError(409, 'NOT_ENROLLED', 'Only people enrolled in the edition receive its certificate.', undefined, {
        key: 'certificates:errors.notEnrolled',
      });
    const [edition, course] = await Promise.all([deps.enrolments().edition(enrolment.editionId), deps.catalog().findById(enrolment.courseId)]);
    if (!edition || !course) throw notFound('The edition or its course no longer exists.', { key: 'certificates:errors.editionGone' });
    if (waitsForEnd(edition)) throw notEnded();
    if (input.requireCompletion !== false && !(await completionOf(enrolment)))
      throw new HttpError(409, 'NOT_COMPLETED', 'This person has not completed the course in this edition yet.', undefined, {
        key: 'certificates:errors.notCompleted',
      });
    let learnerId = enrolment.userId;
    if (!learnerId) {
      if (input.unconfirmedName !== 'issue')
        throw new HttpError(
          409,
          NO_ACCOUNT,
          'This person has no account yet: the certificate waits until they create one with their address and confirm the name to print.',
          undefined,
          { key: 'certificates:errors.noAccount' },
        );
      learnerId = (await openAccount(enrolment, edition, course, input.byUserId)).user.id;
    }
    const setting = await EditionSetting.findById(edition.id).lean();
    const { templateId, version } = await deps.templates().templateFor(course.id, setting?.templateId);
    const name = await printedName(learnerId);
    if (!name.confirmed && input.unconfirmedName === 'wait')
      throw new HttpError(409, 'NAME_UNCONFIRMED', 'The learner has not confirmed the name to print yet: the certificate waits for it.', undefined, {
        key: 'certificates:errors.nameUnconfirmed',
      });
    const code = generateCode();
    const issuedAt = new Date();
    const snapshot = snapshotOf({ edition, course, name: name.name, nameAlt: name.nameAlt, code, issuedAt });
    const template = await deps.templates().load(templateId, version);
    const unprintable = unprintableTexts(template, snapshot);
    if (unprintable.length) {
      const characters = [...new Set(unprintable.flatMap((u) => u.characters))].join(' ');
      throw new HttpError(
        400,
        'UNPRINTABLE',
        `These characters cannot be printed with the certificate fonts: ${characters} (in “${unprintable[0]!.text}”). Correct the name first.`,
        undefined,
        { key: 'certificates:errors.unprintableName', params: { characters, text: unprintable[0]!.text } },
      );
    }
    const claim: ClaimDoc = {
      _id: enrolment.id,
      code,
      snapshot,
      templateId,
      templateVersion: version,
      editionId: edition.id,
      courseId: course.id,
      learnerId,
      via: input.via,
      ...(input.byUserId ? { issuedBy: input.byUserId } : {}),
      ...(input.jobId ? { jobId: input.jobId } : {}),
      ...(name.confirmed ? {} : { nameUnconfirmed: true }),
      ...(enrolment.userId ? {} : { noAccount: true }),
      claimedAt: issuedAt,
    };
    try {
      await Claim.create(claim);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return complete((await Claim.findById(enrolment.id).lean())!, options);
    }
    return complete(claim, options);
  }

  function eventOf<X extends object>(c: CertificateDoc, byUserId: string | undefined, extra: X) {
    return { code: c._id, enrolmentId: c.enrolmentId, editionId: c.editionId, courseId: c.courseId, learnerId: c.learnerId, byUserId, ...extra };
  }

  async function requireCertificate(code: string): Promise<CertificateDoc> {
    const normal = normaliseCode(code);
    const doc = normal ? await Certificate.findById(normal).lean() : null;
    if (!doc) throw noSuchCertificate();
    return doc;
  }

  async function status(code: string): Promise<CertificateStatus | null> {
    const normal = normaliseCode(code);
    if (!normal) return null;
    // Facts have natural ids: three _id look-ups (the only kind FerretDB indexes) per verification.
    const [certificate, revoked, replaced] = await Promise.all([
      Certificate.findById(normal).lean(),
      Fact.findById(`${normal}:revoked`).lean(),
      Fact.findById(`${normal}:replaced`).lean(),
    ]);
    if (!certificate) return null;
    if (revoked) return { certificate, state: 'revoked', revokedAt: revoked.at, reason: revoked.reason };
    if (replaced && (await Certificate.exists({ _id: replaced.replacedBy })))
      return { certificate, state: 'replaced', replacedBy: replaced.replacedBy, reason: replaced.reason };
    return { certificate, state: 'valid' };
  }

  /**
   * Replaces a certificate by a new one (a corrected name): the old one is marked replaced, with the
   * reason; the enrolment's claim points to the new one. Refused when it is already replaced or revoked.
   */
  async function reissue(code: string, input: { name: string; nameAlt?: string | undefined; reason: string }, byUserId: string): Promise<CertificateDoc> {
    const old = await requireCertificate(code);
    const facts = await Fact.find({ code: old._id }).lean();
    if (facts.some((f) => f.kind === 'revoked'))
      throw conflict('This certificate is revoked: it cannot be reissued.', undefined, { key: 'certificates:errors.revokedNoReissue' });
    const replaced = facts.find((f) => f.kind === 'replaced');
    const claim = await Claim.findById(old.enrolmentId).lean();
    if (!claim) throw notFound('This certificate has no enrolment record.', { key: 'certificates:errors.noClaim' });
    const template = await deps.templates().load(claim.templateId, claim.templateVersion);
    let newCode = replaced?.replacedBy;
    if (replaced && (await Certificate.exists({ _id: newCode })))
      throw conflict(`This certificate was already replaced by ${newCode}.`, undefined, {
        key: 'certificates:errors.alreadyReplaced',
        params: { code: newCode },
      });
    const issuedAt = new Date();
    newCode ??= generateCode();
    const snapshot: CertificateSnapshot = {
      ...old.snapshot,
      name: input.name,
      code: newCode,
      verificationUrl: verificationUrl(deps.baseUrl, newCode),
      issueDate: day(issuedAt)!,
    };
    if (input.nameAlt) snapshot.nameAlt = input.nameAlt;
    else delete snapshot.nameAlt;
    const unprintable = unprintableTexts(template, snapshot);
    if (unprintable.length)
      throw new HttpError(400, 'UNPRINTABLE', `These characters cannot be printed: ${unprintable.flatMap((u) => u.characters).join(' ')}.`, undefined, {
        key: 'certificates:errors.unprintable',
        params: { characters: unprintable.flatMap((u) => u.characters).join(' ') },
      });
    if (!replaced) {
      try {
        await Fact.create({ _id: `${old._id}:replaced`, code: old._id, kind: 'replaced', reason: input.reason, byUserId, at: issuedAt, replacedBy: newCode });
      } catch (err) {
        if (isDuplicateKey(err))
          throw conflict('Someone reissued this certificate meanwhile: reload the page.', undefined, { key: 'certificates:errors.reissuedMeanwhile' });
        throw err;
      }
    }
    const next: ClaimDoc = { ...claim, code: newCode, snapshot, via: 'staff', issuedBy: byUserId, replaces: old._id, claimedAt: issuedAt };
    delete next.jobId;
    await Claim.replaceOne({ _id: claim._id }, next);
    const { certificate } = await complete(next);
    // A revocation of the old certificate that raced this reissue applies to its replacement too.
    const revokedMeanwhile = await Fact.findById(`${old._id}:revoked`).lean();
    if (revokedMeanwhile) await revoke(certificate._id, revokedMeanwhile.reason, revokedMeanwhile.byUserId).catch(() => undefined);
    return certificate;
  }

  async function revoke(code: string, reason: string, byUserId: string): Promise<void> {
    const cert = await requireCertificate(code);
    const replaced = await Fact.findById(`${cert._id}:replaced`).lean();
    if (replaced && (await Certificate.exists({ _id: replaced.replacedBy }))) {
      throw conflict(`This certificate was replaced by ${replaced.replacedBy}: revoke that one (the current certificate) instead.`, undefined, {
        key: 'certificates:errors.replacedRevokeCurrent',
        params: { code: replaced.replacedBy },
      });
    }
    try {
      await Fact.create({ _id: `${cert._id}:revoked`, code: cert._id, kind: 'revoked', reason, byUserId, at: new Date() });
    } catch (err) {
      if (isDuplicateKey(err)) throw conflict('This certificate is already revoked.', undefined, { key: 'certificates:errors.alreadyRevoked' });
      throw err;
    }
    await audit('revoked', byUserId, { code: cert._id, editionId: cert.editionId, details: reason });
    await deps.emit(CertificateRevoked, eventOf(cert, byUserId, { reason }));
    await tell('revoked', cert, { reason });
  }

  /** The stored PDF, exactly as issued. */
  function openPdf(certificate: CertificateDoc) {
    return bucket().openDownloadStream(certificate.fileId);
  }

  async function byHash(sha256: string): Promise<CertificateDoc | null> {
    return Certificate.findOne({ sha256 }).lean();
  }

  /** A learner's current certificates (replaced ones excluded), newest first. */
  async function ofLearner(learnerId: string): Promise<CertificateStatus[]> {
    const certs = await Certificate.find({ learnerId }).sort({ issuedAt: -1 }).lean();
    const out: CertificateStatus[] = [];
    for (const c of certs) {
      const s = await status(c._id);
      if (s && s.state !== 'replaced') out.push(s);
    }
    return out;
  }

  /**
   * The learner confirms the name to print. Certificates waiting for it (editions that issue on
   * completion) are issued at once.
   */
  async function confirmName(learnerId: string, name: string, nameAlt?: string): Promise<CertificateDoc[]> {
    await upsertOne(PrintedName, { _id: learnerId }, { $set: { name, nameAlt: nameAlt ?? '', confirmedAt: new Date() } });
    return issueWaiting(learnerId);
  }

  /** Issues the automatic certificates this learner earned but has not received (name not confirmed then). */
  async function issueWaiting(learnerId: string): Promise<CertificateDoc[]> {
    const issued: CertificateDoc[] = [];
    // Automatic certificates print the name the learner confirmed: without it, they keep waiting.
    if (!(await PrintedName.exists({ _id: learnerId }))) return issued;
    // Certificates that waited for this person to have an account (their enrolment's address is the account's).
    const account = await deps.users().findById(learnerId);
    const waiting = account ? await Waiting.find({ email: account.email.trim().toLowerCase() }).lean() : [];
    for (const w of waiting) {
      const enrolment = await deps.enrolments().enrolment(w._id);
      if (!enrolment || enrolment.userId !== learnerId) continue;
      try {
        const { certificate, created } = await issue({ enrolmentId: enrolment.id, via: w.via, byUserId: w.byUserId, unconfirmedName: 'wait' });
        if (created) issued.push(certificate);
        await Waiting.deleteOne({ _id: w._id });
      } catch (err) {
        logger.warn({ err, enrolment: enrolment.id }, 'waiting certificate not issued');
      }
    }
    const settings = await EditionSetting.find({ autoIssue: true }).lean();
    for (const s of settings) {
      const enrolment = await deps.enrolments().enrolmentOf(learnerId, s._id);
      if (!enrolment || enrolment.status !== 'enrolled' || (await Claim.exists({ _id: enrolment.id }))) continue;
      if (!(await completionOf(enrolment))) continue;
      const edition = await deps.enrolments().edition(enrolment.editionId);
      if (!edition || waitsForEnd(edition)) continue;
      try {
        issued.push((await issue({ enrolmentId: enrolment.id, via: 'completion', unconfirmedName: 'wait' })).certificate);
      } catch (err) {
        logger.warn({ err, enrolment: enrolment.id }, 'automatic certificate not issued');
      }
    }
    return issued;
  }

  /** On completion: issue if the edition says so and the learner confirmed their name (else it waits for that). */
  async function onCourseCompleted(e: { learnerId: string; editionId: string }): Promise<void> {
    const setting = await EditionSetting.findById(e.editionId).lean();
    if (!setting?.autoIssue) return;
    const dated = await deps.enrolments().edition(e.editionId);
    if (dated && waitsForEnd(dated)) {
      // Issued by the job that runs after the end date (issueAfterEnd).
      logger.info({ learner: e.learnerId, edition: e.editionId }, 'certificate waits for the end of the edition');
      return;
    }
    const enrolment = await deps.enrolments().enrolmentOf(e.learnerId, e.editionId);
    if (!enrolment) return;
    if (!(await PrintedName.exists({ _id: e.learnerId }))) {
      logger.info({ learner: e.learnerId, edition: e.editionId }, 'certificate waits for the learner to confirm their name');
      await remindName(enrolment.id, 1);
      // The second (and last) reminder, a few days later, unless the name is confirmed by then (one job per enrolment).
      await deps.jobs?.enqueue(
        NAME_REMINDER_QUEUE,
        { enrolmentId: enrolment.id },
        { key: enrolment.id, runAt: new Date(Date.now() + NAME_REMINDER_DAYS * 86_400_000) },
      );
      return;
    }
    await issue({ enrolmentId: enrolment.id, via: 'completion', unconfirmedName: 'wait' });
  }

  /**
   * Asks the learner by e-mail to confirm the name to print, with a link to the name page, when an
   * automatic certificate waits for it: reminder 1 on completion, 2 from the job a few days later.
   * The key (`certificates.name-reminder:<enrolmentId>:<n>`) makes each one message, however often
   * it is called; nothing is sent once the name is confirmed or the certificate issued.
   */
  async function remindName(enrolmentId: string, n: 1 | 2): Promise<boolean> {
    const mail = deps.mail;
    if (!mail) return false;
    const enrolment = await deps.enrolments().enrolment(enrolmentId);
    if (!enrolment?.userId || enrolment.status !== 'enrolled') return false;
    if ((await PrintedName.exists({ _id: enrolment.userId })) || (await Claim.exists({ _id: enrolmentId }))) return false;
    const [course, learner] = await Promise.all([deps.catalog().findById(enrolment.courseId), deps.users().findById(enrolment.userId)]);
    if (!course || !learner) return false;
    const learnerId = enrolment.userId;
    await mail.send({
      key: `certificates.name-reminder:${enrolmentId}:${n}`,
      to: { userId: learnerId },
      category: 'notice',
      compose: (t, lang) => {
        const title = localized(course.title, lang);
        return {
          subject: t('certificates:nameReminder.subject', { course: title }),
          paragraphs: [t('mail.greeting', { name: learner.name }), t('certificates:nameReminder.body', { course: title, name: learner.name })],
          action: { label: t('certificates:nameReminder.action'), url: '/certificates/name' },
        };
      },
    });
    return true;
  }

  /** The reminder job's work: the second reminder, if the certificate still waits for the name. */
  async function runNameReminder(payload: { enrolmentId: string }): Promise<void> {
    await remindName(String(payload.enrolmentId), 2);
  }

  /**
   * The recurring job's work: the automatic certificates of editions that ended since it last
   * looked, for everyone who completed the course meanwhile (those who complete later get theirs on
   * completion; those whose printed name waits get theirs when they confirm it). An edition is
   * marked done once every one of them was issued.
   */
  async function issueAfterEnd(now = new Date()): Promise<number> {
    let count = 0;
    for (const s of await EditionSetting.find({ autoIssue: true, endIssuedAt: null }).lean()) {
      const edition = await deps.enrolments().edition(s._id);
      if (!edition || edition.selfPaced || !edition.endsAt || edition.certificatesBeforeEnd || waitsForEnd(edition, now)) continue;
      const enrolled = await deps.enrolments().enrolmentsOf(edition.id, ['enrolled']);
      const completed = await completionsOf(edition, enrolled);
      let failed = false;
      for (const enrolment of enrolled) {
        if (!completed.has(enrolment.id) || (await Claim.exists({ _id: enrolment.id }))) continue;
        try {
          // Without an account, the certificate waits for the person (invited to create one).
          if (!enrolment.userId) {
            await awaitAccount(enrolment.id, { via: 'completion' });
            continue;
          }
          if (!(await PrintedName.exists({ _id: enrolment.userId }))) continue;
          if ((await issue({ enrolmentId: enrolment.id, via: 'completion' })).created) count++;
        } catch (err) {
          failed = true;
          logger.warn({ err, enrolment: enrolment.id }, 'certificate not issued after the end of the edition');
        }
      }
      if (!failed) await EditionSetting.updateOne({ _id: s._id }, { $set: { endIssuedAt: now } });
    }
    return count;
  }

  return {
    ...createCertificateRecords(models),
    issueAfterEnd,
    issue,
    completionsOf,
    completionOf,
    awaitAccount,
    waitingIn,
    complete,
    completeUnfinished,
    reissue,
    revoke,
    status,
    requireCertificate,
    openPdf,
    byHash,
    ofLearner,
    printedName,
    confirmName,
    issueWaiting,
    onCourseCompleted,
    remindName,
    runNameReminder,
    audit,
    bucket,
  };
}

export type IssuanceService = ReturnType<typeof createIssuanceService>;
