/**
 * What the enrolment plugin tells people by e-mail: an application received, the decision on it
 * (with the staff member's message), a seat from the waiting list, a move to another edition, an
 * invitation when staff add them, and a reminder before an edition starts.
 *
 * Each message is recorded in the host's outbox by the request (or job) that made the fact, after
 * the fact's own write. Its key names the fact: `enrolment.<kind>:<enrolmentId>:<round>`, where the
 * round counts the times the person left the edition before (an enrolment is re-used when someone
 * withdrawn comes back, and the comeback is a new fact). Two requests racing to make the same fact
 * (a double click; FerretDB lets both conditional updates "succeed") compute the same key, so the
 * person gets one message. Reminders are keyed by the edition's start date instead, so a changed
 * date is reminded again and an unchanged one never twice.
 *
 * A message that cannot be recorded (the database went away between the fact and its message) is
 * logged, never an error of the request: the fact is already written, and refusing the answer would
 * only make the person do it again.
 */
import type { TFunction } from 'i18next';
import type { Model } from 'mongoose';
import type { Logger } from 'pino';
import { formatDate, isDuplicateKey, isObjectId, localized, type MailRecipient, type MailService, type UsersService } from '../../../src/index.ts';
import type { CourseCatalogService, CourseSummary } from '../../courses/contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc, InvitationDoc } from '../models/enrolment.model.ts';
import type { PersonDoc } from '../models/person.model.ts';

export const REMINDER_TOPIC = 'enrolment.reminders';
/** The job queue of invitations asked for on a CSV import's confirmation: `{ batchId, by }`, keyed by the batch. */
export const IMPORT_INVITATIONS_QUEUE = 'import-invitations';
const DAY_MS = 24 * 3600_000;

export interface NoticeDeps {
  mail: MailService;
  users: () => UsersService;
  catalog: () => CourseCatalogService;
  models: { Edition: Model<EditionDoc>; Enrolment: Model<EnrolmentDoc>; Person: Model<PersonDoc>; Invitation: Model<InvitationDoc> };
  logger: Logger;
  /** Days before an edition's start when its people are reminded. */
  reminderDays: number;
}

export type Decision = 'accepted' | 'waitlisted' | 'rejected';

export interface EnrolmentNotices {
  applied(enrolment: EnrolmentDoc): Promise<void>;
  /** `enrolment` as written by the decision (its status says whether an acceptance got a seat). */
  decided(enrolment: EnrolmentDoc, decision: Decision, message: string | undefined): Promise<void>;
  promoted(enrolment: EnrolmentDoc): Promise<void>;
  /** `from` as it was before the move; `to` the enrolment in the other edition. */
  moved(from: EnrolmentDoc, to: EnrolmentDoc): Promise<void>;
  /**
   * Staff added the person (form or CSV) and asked for an invitation: someone without an account
   * gets one (set-your-password link, naming the edition), someone with an account a notice.
   * Throws when it cannot be recorded (a job retries it; a request logs it).
   */
  invited(enrolment: EnrolmentDoc, by: string, person?: { name?: string | undefined }): Promise<'invitation' | 'notice' | 'none'>;
  /** Reminds everyone enrolled in the editions that start within `reminderDays`; returns the messages recorded. */
  remind(editions: readonly EditionDoc[], now?: Date): Promise<number>;
}

/** Times the person left this edition before: the part of a key that tells a comeback from a retry. */
export const roundOf = (e: Pick<EnrolmentDoc, 'history'>) => e.history.filter((h) => h.status === 'withdrawn').length;

/** Whole days from one UTC calendar day to another (editions start on a day, not at an hour). */
const calendarDaysBetween = (from: Date, to: Date) =>
  Math.round(
    (Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()) - Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate())) / DAY_MS,
  );
const day = formatDate;

/**
 * "Starts today", "tomorrow", else "in N days": today and tomorrow are words of their own, not the
 * plural forms for 0 and 1 (Russian's "one" form also serves 21 and 31 days).
 */
function reminderLine(t: TFunction, f: Record<string, unknown>, days: number): string {
  if (days <= 0) return t('enrolment:mail.reminder.today', f);
  if (days === 1) return t('enrolment:mail.reminder.tomorrow', f);
  return t('enrolment:mail.reminder.body', { ...f, count: days });
}

export function createEnrolmentNotices(deps: NoticeDeps): EnrolmentNotices {
  const {
    mail,
    logger,
    models: { Edition, Enrolment, Person, Invitation },
  } = deps;

  async function editionOf(id: string): Promise<EditionDoc | null> {
    return isObjectId(id) ? Edition.findById(id).lean() : null;
  }

  /** Where the message goes and the name it greets: the account when there is one, else the profile or the address. */
  async function recipientOf(
    e: Pick<EnrolmentDoc, 'email' | 'userId'>,
    edition: EditionDoc,
    fallbackName?: string,
  ): Promise<{ to: MailRecipient; name: string }> {
    const account = e.userId ? await deps.users().findById(e.userId) : await deps.users().findByEmail(e.email);
    if (account) return { to: { userId: account.id }, name: account.name };
    const person = await Person.findById(e.email, { givenName: 1, familyName: 1 }).lean();
    const name = [person?.givenName, person?.familyName].filter(Boolean).join(' ') || fallbackName || e.email.split('@')[0]!;
    // Someone without an account has no language of their own yet: the edition's is the best guess.
    return { to: { email: e.email, name, locale: edition.language }, name };
  }

  /** The values every enrolment message uses, in the recipient's language. */
  function facts(edition: EditionDoc, course: CourseSummary | null, lang: string) {
    return { edition: edition.title, course: localized(course?.title, lang), date: edition.startsAt && !edition.selfPaced ? day(lang, edition.startsAt) : '' };
  }

  const staffMessage = (t: TFunction, message: string | undefined) => (message?.trim() ? [t('enrolment:mail.staffMessage', { message: message.trim() })] : []);

  type Build = (t: TFunction, lang: string, f: ReturnType<typeof facts>) => { subject: string; paragraphs: string[]; action?: { label: string; url: string } };

  /** Records one message about an enrolment; true when this call recorded it. */
  async function record(e: EnrolmentDoc, key: string, build: Build, options: { edition?: EditionDoc; topic?: string } = {}): Promise<boolean> {
    const edition = options.edition ?? (await editionOf(e.editionId));
    if (!edition) return false;
    const [course, recipient] = await Promise.all([deps.catalog().findById(edition.courseId), recipientOf(e, edition)]);
    const result = await mail.send({
      key,
      to: recipient.to,
      category: 'notice',
      ...(options.topic ? { topic: options.topic } : {}),
      compose: (t, lang) => {
        const content = build(t, lang, facts(edition, course, lang));
        return { ...content, paragraphs: [t('mail.greeting', { name: recipient.name }), ...content.paragraphs] };
      },
    });
    return result.created;
  }

  /** `record` for a request that made the fact: a failure is logged, never the request's (see the module comment). */
  async function send(kind: string, e: EnrolmentDoc, key: string, build: Build): Promise<void> {
    try {
      await record(e, key, build);
    } catch (err) {
      logger.error({ err, enrolment: e._id.toString(), kind }, 'enrolment e-mail not recorded');
    }
  }

  const editionLink = (t: TFunction, editionId: string) => ({ label: t('enrolment:mail.openEdition'), url: `/enrolment/editions/${editionId}` });
  const keyOf = (kind: string, e: EnrolmentDoc) => `enrolment.${kind}:${e._id.toString()}:${roundOf(e)}`;

  return {
    async applied(e) {
      await send('applied', e, keyOf('applied', e), (t, _lang, f) => ({
        subject: t('enrolment:mail.applied.subject', f),
        paragraphs: [t('enrolment:mail.applied.body', f)],
        action: { label: t('enrolment:mail.applied.action'), url: `/enrolment/editions/${e.editionId}` },
      }));
    },

    async decided(e, decision, message) {
      // An acceptance without a free seat is an acceptance onto the waiting list: one message says both.
      const variant = decision === 'accepted' && e.status === 'waitlisted' ? 'acceptedWaiting' : decision;
      // Keyed by what it says: accepted onto the waiting list, then into a seat, is two messages.
      await send(decision, e, keyOf(variant, e), (t, _lang, f) => ({
        subject: t(`enrolment:mail.${variant}.subject`, f),
        paragraphs: [t(`enrolment:mail.${variant}.body`, f), ...staffMessage(t, message)],
        action: decision === 'rejected' ? { label: t('enrolment:mail.myLearning'), url: '/enrolment/my' } : editionLink(t, e.editionId),
      }));
    },

    async promoted(e) {
      await send('promoted', e, keyOf('promoted', e), (t, _lang, f) => ({
        subject: t('enrolment:mail.promoted.subject', f),
        paragraphs: [t('enrolment:mail.promoted.body', f)],
        action: editionLink(t, e.editionId),
      }));
    },

    async moved(from, to) {
      const previous = await editionOf(from.editionId);
      await send('moved', to, `enrolment.moved:${from._id.toString()}:${roundOf(from)}`, (t, _lang, f) => ({
        subject: t('enrolment:mail.moved.subject', f),
        paragraphs: [t(`enrolment:mail.moved.${to.status === 'enrolled' ? 'body' : 'bodyWaiting'}`, { ...f, from: previous?.title ?? '' })],
        action: editionLink(t, to.editionId),
      }));
    },

    async invited(e, by, person = {}) {
      const edition = await editionOf(e.editionId);
      if (!edition || (e.status !== 'enrolled' && e.status !== 'waitlisted')) return 'none';
      const waiting = e.status === 'waitlisted';
      const id = `${e._id.toString()}:${roundOf(e)}`;
      // Which message the person gets is decided once: a run again (a retried import job) must
      // not send a notice to the account the first run's invitation created.
      let kind = (await Invitation.findById(id).lean())?.kind;
      if (!kind) {
        const account = e.userId ? await deps.users().findById(e.userId) : await deps.users().findByEmail(e.email);
        kind = account ? 'notice' : 'invitation';
        try {
          await Invitation.create({ _id: id, kind, by, at: new Date() });
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          kind = (await Invitation.findById(id).lean())?.kind ?? kind;
        }
      }
      if (kind === 'invitation') {
        const course = await deps.catalog().findById(edition.courseId);
        const { name } = await recipientOf(e, edition, person.name);
        const result = await deps.users().invite(
          { email: e.email, name, locale: edition.language },
          {
            by,
            key: `enrolment:${id}`,
            // A fixed t carries its language (`lng`); the host picks it from the new account's locale.
            context: (t) =>
              t(
                `enrolment:mail.invited.${waiting ? 'contextWaiting' : 'context'}`,
                facts(edition, course, (t as unknown as { lng?: string }).lng ?? edition.language),
              ),
          },
        );
        if (result.sent || !result.created) return 'invitation';
        // A new account that signs in through its organisation gets no password link: a notice then.
      }
      const created = await record(
        e,
        keyOf('invited', e),
        (t, _lang, f) => ({
          subject: t('enrolment:mail.invited.subject', f),
          paragraphs: [t(`enrolment:mail.invited.${waiting ? 'bodyWaiting' : 'body'}`, f)],
          action: editionLink(t, e.editionId),
        }),
        { edition },
      );
      return created ? 'notice' : 'none';
    },

    async remind(editions, now = new Date()) {
      const horizon = now.getTime() + deps.reminderDays * DAY_MS;
      let recorded = 0;
      for (const edition of editions) {
        if (edition.status !== 'published' || edition.selfPaced || !edition.startsAt) continue;
        const start = edition.startsAt.getTime();
        // Every edition starting within the window, not only those whose due time is this hour:
        // a reminder missed while the app was down is sent at the next run, until the start.
        if (start <= now.getTime() || start > horizon) continue;
        const enrolled = await Enrolment.find({ editionId: edition._id.toString(), status: 'enrolled' }).lean();
        for (const e of enrolled) {
          const key = `enrolment.reminder:${e._id.toString()}:${edition.startsAt.toISOString()}`;
          if (await recordedBefore(key)) continue;
          const sent = await record(
            e,
            key,
            (t, _lang, f) => ({
              subject: t('enrolment:mail.reminder.subject', f),
              paragraphs: [
                reminderLine(t, f, calendarDaysBetween(now, edition.startsAt!)),
                edition.place
                  ? t('enrolment:mail.reminder.place', { place: edition.place }) + (edition.online ? ` ${t('enrolment:mail.reminder.alsoOnline')}` : '')
                  : t('enrolment:mail.reminder.online'),
              ],
              action: editionLink(t, e.editionId),
            }),
            { edition, topic: REMINDER_TOPIC },
          );
          if (sent) recorded++;
        }
      }
      return recorded;
    },
  };

  /** A reminder already in the outbox (an `_id` look-up): the hourly run skips composing it again. */
  async function recordedBefore(key: string): Promise<boolean> {
    try {
      await mail.get(key);
      return true;
    } catch (err) {
      if ((err as { status?: number }).status === 404) return false;
      throw err;
    }
  }
}
