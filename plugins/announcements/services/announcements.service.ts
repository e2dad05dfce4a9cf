import type { TFunction } from 'i18next';
import mongoose, { type Model } from 'mongoose';
import type { ModelCache, PluginContext, Role, SessionUser } from '../../../src/index.ts';
import { notFound } from '../../../src/index.ts';
import type { EditionSummary, EnrolmentDirectoryService, EnrolmentStatus } from '../../enrolment/contract.ts';
import { AnnouncementPublished, type Audience, type AnnouncementView, type AnnouncementsService } from '../contract.ts';
import { AUDIENCES, type AnnouncementDoc } from '../models/announcement.model.ts';

/** The job that mails an edition's announcement to its participants, once per announcement. */
export const EDITION_MAIL_QUEUE = 'edition-mail';
/** The notice topic people may turn off on their notification settings page. */
export const EDITION_MAIL_TOPIC = 'announcements.edition';
/** Edition announcements the home page looks through for a person's editions (the newest). */
const RECENT_EDITION_NOTICES = 200;

const toView = (d: AnnouncementDoc): AnnouncementView => ({
  id: d._id.toString(),
  title: d.title,
  body: d.body,
  audience: d.audience,
  editionId: d.editionId ?? undefined,
  editionTitle: d.editionTitle ?? undefined,
  includeWaiting: d.includeWaiting ?? false,
  authorName: d.authorName,
  publishedAt: d.publishedAt,
});

/** Audiences a person belongs to: everyone, plus each of their roles (admins read every role's). */
function audiencesOf(roles: readonly Role[]): readonly Audience[] {
  return roles.includes('admin') ? AUDIENCES : ['everyone', ...roles];
}

/** Those who hold a place read an edition's announcements; people waiting only those that include them. */
export function readsEditionNotice(status: EnrolmentStatus | undefined, includeWaiting: boolean | undefined): boolean {
  return status === 'enrolled' || (!!includeWaiting && (status === 'waitlisted' || status === 'pending'));
}

/** Whom an edition's announcement is mailed to. */
export const recipientStatuses = (includeWaiting: boolean): EnrolmentStatus[] => (includeWaiting ? ['enrolled', 'waitlisted', 'pending'] : ['enrolled']);

const paragraphsOf = (body: string) =>
  body
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean);

/**
 * `cache` keeps the announcements as pages show them, per instance, read again once any instance
 * publishes or withdraws one (every home page shows them; FerretDB answers the query by decoding
 * every announcement ever posted). The model is a cached one: each write renews it.
 */
export function createAnnouncementsService(
  ctx: PluginContext,
  Announcement: Model<AnnouncementDoc>,
  cache: ModelCache,
  directory: () => EnrolmentDirectoryService | undefined,
) {
  function general(roles: readonly Role[], limit: number): Promise<AnnouncementView[]> {
    const audiences = audiencesOf(roles);
    return cache.get(`${audiences.join(',')}:${limit}`, async () => {
      // sanitizeFilter is on: the $in we write ourselves is marked trusted (its values are our own enum).
      const docs = await Announcement.find({ withdrawnAt: null, audience: mongoose.trusted({ $in: audiences }) })
        .sort({ publishedAt: -1 })
        .limit(limit)
        .lean();
      return docs.map(toView);
    });
  }

  /** The newest announcements to editions, whoever they are for (one read per instance between writes). */
  function recentToEditions(): Promise<AnnouncementView[]> {
    return cache.get('editions:recent', async () => {
      const docs = await Announcement.find({ withdrawnAt: null, audience: 'edition' }).sort({ publishedAt: -1 }).limit(RECENT_EDITION_NOTICES).lean();
      return docs.map(toView);
    });
  }

  /** An edition's announcements, newest first. */
  function ofEdition(editionId: string, limit = 50): Promise<AnnouncementView[]> {
    return cache.get(`edition:${editionId}:${limit}`, async () => {
      const docs = await Announcement.find({ withdrawnAt: null, audience: 'edition', editionId }).sort({ publishedAt: -1 }).limit(limit).lean();
      return docs.map(toView);
    });
  }

  /** What of an edition's announcements this reader sees: all when they run it, else by their place in it. */
  function readableIn(items: AnnouncementView[], status: EnrolmentStatus | undefined, runs: boolean): AnnouncementView[] {
    return runs ? items : items.filter((a) => readsEditionNotice(status, a.includeWaiting));
  }

  async function visibleTo(user: { id?: string | undefined; roles: Role[] }, limit: number): Promise<AnnouncementView[]> {
    const mine = await general(user.roles, limit);
    const dir = directory();
    if (!user.id || !dir) return mine;
    const recent = await recentToEditions();
    if (!recent.length) return mine;
    // The person's enrolments by key (a query by edition would read every enrolment on FerretDB).
    const status = new Map((await dir.enrolmentsOfUser(user.id)).map((e) => [e.editionId, e.status]));
    const theirs = recent.filter((a) => readsEditionNotice(status.get(a.editionId!), a.includeWaiting));
    return [...mine, ...theirs].sort((a, b) => b.publishedAt.getTime() - a.publishedAt.getTime()).slice(0, limit);
  }

  async function publish(input: { title: string; body: string; audience: Audience }, author: SessionUser): Promise<AnnouncementView> {
    const doc = await Announcement.create({ ...input, authorId: author.id, authorName: author.name, publishedAt: new Date() });
    await ctx.emit(AnnouncementPublished, { id: doc.id, title: doc.title, audience: doc.audience, authorId: author.id });
    return toView(doc);
  }

  /**
   * An announcement to an edition's participants: shown on the edition's page and their home page,
   * and mailed to each of them by a job (the request only records it, so a mail server away fails
   * nothing; the job's messages are keyed by announcement and enrolment, so a retry sends none twice).
   */
  async function publishToEdition(
    input: { title: string; body: string; includeWaiting: boolean },
    edition: EditionSummary,
    author: SessionUser,
  ): Promise<AnnouncementView> {
    const doc = await Announcement.create({
      title: input.title,
      body: input.body,
      audience: 'edition',
      editionId: edition.id,
      editionTitle: edition.title,
      includeWaiting: input.includeWaiting,
      authorId: author.id,
      authorName: author.name,
      publishedAt: new Date(),
    });
    await ctx.jobs.enqueue(EDITION_MAIL_QUEUE, { announcementId: doc.id }, { key: doc.id });
    await ctx.emit(AnnouncementPublished, { id: doc.id, title: doc.title, audience: 'edition', authorId: author.id, editionId: edition.id });
    return toView(doc);
  }

  /** The job: one message to each participant (and people waiting, if included) with an address. */
  async function mailEditionAnnouncement(announcementId: string): Promise<number> {
    const dir = directory();
    if (!dir || !mongoose.isValidObjectId(announcementId)) return 0;
    const doc = await Announcement.findById(announcementId).lean();
    // Withdrawn before the job ran: who was not written to yet is not written to.
    if (!doc || doc.withdrawnAt || doc.audience !== 'edition' || !doc.editionId) return 0;
    const people = await dir.enrolmentsOf(doc.editionId, recipientStatuses(!!doc.includeWaiting));
    const compose = (t: TFunction) => ({
      subject: t('announcements:mail.subject', { edition: doc.editionTitle, title: doc.title }),
      paragraphs: [t('announcements:mail.intro', { name: doc.authorName, edition: doc.editionTitle }), doc.title, ...paragraphsOf(doc.body)],
      action: { label: t('announcements:mail.open'), url: `/enrolment/editions/${doc.editionId}` },
      footnote: t('announcements:mail.why'),
    });
    let sent = 0;
    for (const person of people) {
      // People pre-enrolled without an account are written to at the address on their enrolment.
      const result = await ctx.mail.send({
        key: `announcements.edition:${announcementId}:${person.id}`,
        to: person.userId ? { userId: person.userId } : { email: person.email },
        category: 'notice',
        topic: EDITION_MAIL_TOPIC,
        compose,
      });
      if (result.created) sent++;
    }
    return sent;
  }

  async function find(id: string): Promise<AnnouncementView | null> {
    if (!mongoose.isValidObjectId(id)) return null;
    const doc = await Announcement.findOne({ _id: id, withdrawnAt: null }).lean();
    return doc ? toView(doc) : null;
  }

  async function withdraw(id: string): Promise<void> {
    if (!mongoose.isValidObjectId(id)) throw notFound('No such announcement.', { key: 'announcements:errors.notFound' });
    const result = await Announcement.updateOne({ _id: id, withdrawnAt: null }, { $set: { withdrawnAt: new Date() } });
    if (result.matchedCount === 0) throw notFound('No such announcement, or it was already withdrawn.', { key: 'announcements:errors.notFoundOrWithdrawn' });
  }

  const service: AnnouncementsService = { visibleTo };
  return { ...service, publish, publishToEdition, mailEditionAnnouncement, ofEdition, readableIn, find, withdraw };
}
