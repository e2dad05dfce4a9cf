import { Counter } from 'prom-client';
import { z } from 'zod';
import { allow, DashboardPanels, definePlugin, MailTopics, Navigation, Users } from '../../src/index.ts';
import { CourseCatalog } from '../courses/contract.ts';
import { EditionSections, EnrolmentDirectory, type EnrolmentDirectoryService } from '../enrolment/contract.ts';
import { AnnouncementPublished, Announcements } from './contract.ts';
import { announcementSchema, type AnnouncementDoc } from './models/announcement.model.ts';
import { mountAnnouncementRoutes } from './routes/announcements.routes.ts';
import { createAnnouncementsService, EDITION_MAIL_QUEUE, EDITION_MAIL_TOPIC } from './services/announcements.service.ts';

/**
 * Announcements: programme staff post notices ("Fellowship 2027: visa letters are out"), everyone
 * reads those meant for them on a page and on their home page. Small on purpose: it is the
 * template for writing a plugin (see README, "Writing a plugin").
 */
export default definePlugin({
  name: 'announcements',
  version: '1.0.0',
  description: 'Notices from programme staff, shown on a page and on the home page; notices to one edition’s participants, also by mail.',
  // Without the enrolment plugin there are no editions to write to: only the general notices remain.
  optional: [EnrolmentDirectory, CourseCatalog],
  config: z.object({
    pageSize: z.number().int().min(1).max(200).default(20),
    panelSize: z.number().int().min(1).max(20).default(3),
  }),

  register(ctx) {
    const { model: Announcement, cache } = ctx.cachedModel<AnnouncementDoc>('announcement', announcementSchema);
    // Optional: undefined when the enrolment plugin does not run.
    const absentAsUndefined = <T>(get: () => T): T | undefined => {
      try {
        return get();
      } catch {
        return undefined;
      }
    };
    const directory = (): EnrolmentDirectoryService | undefined => absentAsUndefined(() => ctx.get(EnrolmentDirectory));
    const catalog = () => absentAsUndefined(() => ctx.get(CourseCatalog));
    const service = createAnnouncementsService(ctx, Announcement, cache, directory);
    ctx.provide(Announcements, service);

    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    mountAnnouncementRoutes(ctx, service, directory);

    ctx.jobs.define<{ announcementId: string }>(EDITION_MAIL_QUEUE, {
      async run({ announcementId }) {
        const sent = await service.mailEditionAnnouncement(announcementId);
        ctx.logger.info({ announcement: announcementId, sent }, 'edition announcement mailed');
      },
    });
    ctx.contribute(MailTopics, { id: EDITION_MAIL_TOPIC, label: 'announcements:mail.topic' });

    // On an edition's page: its announcements, for its participants and for those who run it.
    ctx.contribute(EditionSections, {
      id: 'announcements',
      order: 10,
      async render(req, reader) {
        if (!req.user) return null;
        const items = service.readableIn(await service.ofEdition(reader.edition.id), reader.enrolment?.status, reader.runs);
        if (!reader.runs && !items.length) return null;
        return { view: 'announcements/edition-section', locals: { items, edition: reader.edition, runs: reader.runs } };
      },
    });

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
        const items = await seed.readFixture<
          {
            title: string;
            body: string;
            audience: AnnouncementDoc['audience'];
            /** Audience 'edition': the edition, by its course and the start of its title (titles carry the year). */
            edition?: { course: string; titleStartsWith: string };
            includeWaiting?: boolean;
            author: string;
            daysAgo: number;
          }[]
        >('announcements.json');
        for (const item of items) {
          // Seeding is idempotent: an announcement with this title is only added once.
          if (await Announcement.exists({ title: item.title })) continue;
          const author = await ctx.get(Users).findByEmail(item.author);
          if (!author) throw new Error(`announcements fixture: no demo account ${item.author}`);
          let edition: { editionId: string; editionTitle: string; includeWaiting: boolean } | undefined;
          if (item.audience === 'edition') {
            const course = item.edition && (await catalog()?.findBySlug(item.edition.course));
            const found = course && (await directory()?.editionsOfCourse(course.id))?.find((e) => e.title.startsWith(item.edition!.titleStartsWith));
            // Without the enrolment plugin's demo editions there is no one to write to.
            if (!found) continue;
            edition = { editionId: found.id, editionTitle: found.title, includeWaiting: !!item.includeWaiting };
          }
          // Demo notices are not mailed: the demo's people are examples, not inboxes.
          await Announcement.create({
            title: item.title,
            body: item.body,
            audience: item.audience,
            ...edition,
            authorId: author.id,
            authorName: author.name,
            publishedAt: new Date(Date.now() - item.daysAgo * 86400000),
          });
        }
      },
    };
  },
});
