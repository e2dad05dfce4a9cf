import { Counter } from 'prom-client';
import { z } from 'zod';
import { allow, DashboardPanels, definePlugin, Navigation, Users } from '../../src/index.ts';
import { AnnouncementPublished, Announcements } from './contract.ts';
import { announcementSchema, type AnnouncementDoc } from './models/announcement.model.ts';
import { mountAnnouncementRoutes } from './routes/announcements.routes.ts';
import { createAnnouncementsService } from './services/announcements.service.ts';

/**
 * Announcements: programme staff post notices ("Fellowship 2027: visa letters are out"), everyone
 * reads those meant for them on a page and on their home page. Small on purpose: it is the
 * template for writing a plugin (see README, "Writing a plugin").
 */
export default definePlugin({
  name: 'announcements',
  version: '1.0.0',
  description: 'Notices from programme staff, shown on a page and on the home page.',
  config: z.object({
    pageSize: z.number().int().min(1).max(200).default(20),
    panelSize: z.number().int().min(1).max(20).default(3),
  }),

  register(ctx) {
    const { model: Announcement, cache } = ctx.cachedModel<AnnouncementDoc>('announcement', announcementSchema);
    const service = createAnnouncementsService(ctx, Announcement, cache);
    ctx.provide(Announcements, service);

    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    mountAnnouncementRoutes(ctx, service);

    ctx.contribute(Navigation, { label: 'announcements:nav', href: '/announcements', policy: allow.signedIn, order: 20 });
    ctx.contribute(DashboardPanels, {
      id: 'announcements',
      order: 10,
      async render(req) {
        const items = await service.visibleTo(req.user!, ctx.config.panelSize);
        return { view: 'announcements/panel', locals: { items } };
      },
    });

    // The listener: count what is published, for operators watching /metrics.
    const published = new Counter({
      name: 'olive_announcements_published_total',
      help: 'Announcements published, by audience',
      labelNames: ['audience'] as const,
      registers: [ctx.metrics],
    });
    ctx.on(AnnouncementPublished, (event) => {
      published.inc({ audience: event.audience });
      ctx.logger.info({ announcement: event.id, audience: event.audience }, 'announcement published');
    });

    return {
      async seed(seed) {
        const items =
          await seed.readFixture<{ title: string; body: string; audience: AnnouncementDoc['audience']; author: string; daysAgo: number }[]>(
            'announcements.json',
          );
        for (const item of items) {
          // Seeding is idempotent: an announcement with this title is only added once.
          if (await Announcement.exists({ title: item.title })) continue;
          const author = await ctx.get(Users).findByEmail(item.author);
          if (!author) throw new Error(`announcements fixture: no demo account ${item.author}`);
          await Announcement.create({
            title: item.title,
            body: item.body,
            audience: item.audience,
            authorId: author.id,
            authorName: author.name,
            publishedAt: new Date(Date.now() - item.daysAgo * 86400000),
          });
        }
      },
    };
  },
});
