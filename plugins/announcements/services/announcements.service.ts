import mongoose, { type Model } from 'mongoose';
import type { ModelCache, PluginContext, Role, SessionUser } from '../../../src/index.ts';
import { notFound } from '../../../src/index.ts';
import { AnnouncementPublished, type Audience, type AnnouncementView, type AnnouncementsService } from '../contract.ts';
import type { AnnouncementDoc } from '../models/announcement.model.ts';

const toView = (d: AnnouncementDoc): AnnouncementView => ({
  id: d._id.toString(),
  title: d.title,
  body: d.body,
  audience: d.audience,
  authorName: d.authorName,
  publishedAt: d.publishedAt,
});

/** Audiences a person belongs to: everyone, plus each of their roles (admins read everything). */
function audiencesOf(roles: readonly Role[]): Audience[] | null {
  return roles.includes('admin') ? null : ['everyone', ...roles];
}

/**
 * `cache` keeps the announcements as pages show them, per instance, read again once any instance
 * publishes or withdraws one (every home page shows them; FerretDB answers the query by decoding
 * every announcement ever posted). The model is a cached one: each write renews it.
 */
export function createAnnouncementsService(ctx: PluginContext, Announcement: Model<AnnouncementDoc>, cache: ModelCache) {
  function visibleTo(user: { roles: Role[] }, limit: number): Promise<AnnouncementView[]> {
    const audiences = audiencesOf(user.roles);
    return cache.get(`${audiences?.join(',') ?? '*'}:${limit}`, async () => {
      // sanitizeFilter is on: the $in we write ourselves is marked trusted (its values are our own enum).
      const filter = audiences ? { withdrawnAt: null, audience: mongoose.trusted({ $in: audiences }) } : { withdrawnAt: null };
      const docs = await Announcement.find(filter).sort({ publishedAt: -1 }).limit(limit).lean();
      return docs.map(toView);
    });
  }

  async function publish(input: { title: string; body: string; audience: Audience }, author: SessionUser): Promise<AnnouncementView> {
    const doc = await Announcement.create({ ...input, authorId: author.id, authorName: author.name, publishedAt: new Date() });
    await ctx.emit(AnnouncementPublished, { id: doc.id, title: doc.title, audience: doc.audience, authorId: author.id });
    return toView(doc);
  }

  async function withdraw(id: string): Promise<void> {
    if (!mongoose.isValidObjectId(id)) throw notFound('No such announcement.', { key: 'announcements:errors.notFound' });
    const result = await Announcement.updateOne({ _id: id, withdrawnAt: null }, { $set: { withdrawnAt: new Date() } });
    if (result.matchedCount === 0) throw notFound('No such announcement, or it was already withdrawn.', { key: 'announcements:errors.notFoundOrWithdrawn' });
  }

  const service: AnnouncementsService = { visibleTo };
  return { ...service, publish, withdraw };
}
