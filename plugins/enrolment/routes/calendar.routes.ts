/**
 * "My calendar": a person's dates as a page, as an .ics download, and as a private feed address
 * that calendar apps (Outlook, Google Calendar) subscribe to; and each edition's dates as .ics.
 *
 * The feed answers without a session, only for a valid token (`?key=`, so that the request log,
 * which leaves out query strings, never holds it): anything else is the same 404. Its answers are
 * `private, no-store`, so no proxy keeps a person's dates, and nothing about the person is logged.
 */
import type { Request, Response } from 'express';
import type { TFunction } from 'i18next';
import { allow, notFound, safeFileName, UN_LANGUAGES, Users, type PluginContext } from '../../../src/index.ts';
import { CourseCatalog } from '../../courses/contract.ts';
import { CalendarSources, type CalendarDate, type CalendarPerson } from '../contract.ts';
import { editionDates, isUpcoming, personDates, toICalendar, type CalendarFeeds } from '../services/calendar.ts';
import type { EnrolmentService } from '../services/enrolment.service.ts';
import { normaliseEmail } from '../services/enrolment.service.ts';

/** How often calendar apps are asked to read the feed again. */
const FEED_REFRESH_HOURS = 6;

const noStore = (res: Response) => res.set({ 'Cache-Control': 'private, no-store', 'X-Robots-Tag': 'noindex' });

function sendICalendar(res: Response, fileName: string, body: string) {
  noStore(res);
  res.set({ 'Content-Type': 'text/calendar; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.attachment(safeFileName(fileName, 'calendar.ics'));
  res.send(body);
}

/** `req.t` in another language (the person's own, for the feed read without a session). */
function translatorIn(req: Request, lang: string): TFunction {
  return ((key: string, options?: Record<string, unknown>) => req.t(key, { ...options, lng: lang })) as unknown as TFunction;
}

export function mountCalendarRoutes(ctx: PluginContext, service: EnrolmentService, feeds: CalendarFeeds) {
  const catalog = () => ctx.get(CourseCatalog);
  const datesOf = (person: CalendarPerson, t: TFunction, lang: string): Promise<CalendarDate[]> =>
    personDates(ctx.extensions(CalendarSources), person, t, lang, (err, source) => ctx.logger.error({ err, source }, 'a calendar source failed'));
  const me = (req: Request): CalendarPerson => ({ userId: req.user!.id, email: normaliseEmail(req.user!.email) });

  async function renderCalendar(req: Request, res: Response, newAddress?: string) {
    const dates = await datesOf(me(req), req.t, req.language);
    const feed = await feeds.current(req.user!.id);
    res.render('enrolment/calendar', {
      title: req.t('enrolment:calendar.title'),
      upcoming: dates.filter((d) => isUpcoming(d)),
      past: dates.filter((d) => !isUpcoming(d)).reverse(),
      feed,
      newAddress: newAddress ? `${ctx.host.baseUrl}/enrolment/calendar/feed.ics?key=${newAddress}` : null,
    });
  }

  ctx.router.get('/calendar', allow.signedIn, async (req, res) => {
    await renderCalendar(req, res);
  });

  // A new private address; the one before stops working. Shown in this answer only (it is stored hashed).
  ctx.router.post('/calendar/address', allow.signedIn, async (req, res) => {
    const token = await feeds.renew(req.user!.id);
    noStore(res);
    await renderCalendar(req, res, token);
  });

  // The person's dates as one file, for those who import rather than subscribe.
  ctx.router.get('/calendar.ics', allow.signedIn, async (req, res) => {
    const dates = await datesOf(me(req), req.t, req.language);
    sendICalendar(
      res,
      `${req.t('enrolment:calendar.fileName')}.ics`,
      toICalendar(dates, { name: req.t('enrolment:calendar.feedName'), baseUrl: ctx.host.baseUrl }),
    );
  });

  ctx.router.get('/calendar/feed.ics', allow.public, async (req, res) => {
    const key = typeof req.query.key === 'string' ? req.query.key : '';
    const userId = key ? await feeds.personOf(key) : null;
    const users = ctx.get(Users);
    const user = userId && !(await users.isDisabled(userId)) ? await users.findById(userId) : null;
    if (!user) throw notFound('No such calendar.', { key: 'enrolment:errors.noSuchCalendar' });
    // The person's own language: a calendar app sends no cookie and its own Accept-Language.
    const lang = user.locale && (UN_LANGUAGES as readonly string[]).includes(user.locale) ? user.locale : req.language;
    const t = translatorIn(req, lang);
    const dates = await datesOf({ userId: user.id, email: normaliseEmail(user.email) }, t, lang);
    sendICalendar(
      res,
      `${t('enrolment:calendar.fileName')}.ics`,
      toICalendar(dates, { name: t('enrolment:calendar.feedName'), baseUrl: ctx.host.baseUrl, refreshHours: FEED_REFRESH_HOURS }),
    );
  });

  // One edition's dates (its days and enrolment deadline), from its public page.
  ctx.router.get('/editions/:id/calendar.ics', allow.public, async (req, res) => {
    const edition = await service.requireEdition(String(req.params.id));
    const course = await catalog().findById(edition.courseId);
    if (edition.status === 'draft' || !course || course.status !== 'published') throw notFound('No such edition.', { key: 'enrolment:errors.noSuchEdition' });
    const dates = editionDates(edition, course, req.t, req.language, { withDeadline: true });
    sendICalendar(res, `${edition.title}.ics`, toICalendar(dates, { name: edition.title, baseUrl: ctx.host.baseUrl }));
  });
}
