/**
 * Each person's dates: the editions they are enrolled in or applied to (from the first day to the
 * last, with the enrolment deadline while an application waits), and what other plugins add
 * through `CalendarSources`; shown on "My calendar" and served as iCalendar (RFC 5545), to
 * download for one edition or to subscribe to through a private, revocable feed address.
 */
import crypto from 'node:crypto';
import type { TFunction } from 'i18next';
import ical from 'ical-generator';
import type { Model } from 'mongoose';
import { localized } from '../../../src/index.ts';
import type { CourseSummary } from '../../courses/contract.ts';
import type { CalendarDate, CalendarPerson, CalendarSource } from '../contract.ts';
import type { CalendarFeedDoc } from '../models/calendar-feed.model.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import type { EnrolmentService } from './enrolment.service.ts';

const DAY = 24 * 60 * 60 * 1000;

/** Midnight (UTC) of a date's day: editions are whole days in UTC. */
const dayOf = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

/** A feed token: 32 random bytes, base64url (43 characters). */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const hashOf = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

/** The private feed addresses: one valid token per person, stored only as its hash (see the model). */
export function createCalendarFeeds(Feed: Model<CalendarFeedDoc>) {
  /** When the person's current address was made, or null when they have none. */
  async function current(userId: string): Promise<{ createdAt: Date } | null> {
    const doc = await Feed.findById(`user:${userId}`).lean();
    return doc ? { createdAt: doc.createdAt } : null;
  }

  /** A new address for the person (the token, shown to them once); the previous one stops working. */
  async function renew(userId: string): Promise<string> {
    const token = crypto.randomBytes(32).toString('base64url');
    const tokenHash = hashOf(token);
    const createdAt = new Date();
    await Feed.create({ _id: `token:${tokenHash}`, userId, tokenHash, createdAt });
    // The person's document names the one valid hash: from this write on, the old token is refused.
    const before = await Feed.findOneAndUpdate(
      { _id: `user:${userId}` },
      { $set: { userId, tokenHash, createdAt } },
      { upsert: true, returnDocument: 'before' },
    ).lean();
    if (before && before.tokenHash !== tokenHash) await Feed.deleteOne({ _id: `token:${before.tokenHash}` });
    return token;
  }

  /** The person a token is valid for, or null (malformed, unknown, or replaced by a newer address). */
  async function personOf(token: string): Promise<string | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const tokenHash = hashOf(token);
    const entry = await Feed.findById(`token:${tokenHash}`).lean();
    if (!entry) return null;
    const owner = await Feed.findById(`user:${entry.userId}`).lean();
    return owner?.tokenHash === tokenHash ? entry.userId : null;
  }

  return { current, renew, personOf };
}

export type CalendarFeeds = ReturnType<typeof createCalendarFeeds>;

/**
 * An edition's dates: its days (not for self-paced editions, which have none), and its enrolment
 * deadline when `withDeadline`. Texts in `t`'s language.
 */
export function editionDates(
  edition: EditionDoc,
  course: Pick<CourseSummary, 'title' | 'languages'> | null,
  t: TFunction,
  lang: string,
  options: { withDeadline: boolean; status?: EnrolmentDoc['status'] | undefined },
): CalendarDate[] {
  const id = edition._id.toString();
  const path = `/enrolment/editions/${id}`;
  const courseName = localized(course?.title, lang, course?.languages[0]);
  const about = [t('enrolment:calendar.courseOf', { course: courseName })];
  if (options.status) about.push(t('enrolment:calendar.yourPlace', { status: t(`enrolment:status.${options.status}`) }));
  const dates: CalendarDate[] = [];
  if (!edition.selfPaced && edition.startsAt) {
    dates.push({
      uid: `edition-${id}`,
      kind: 'edition',
      kindLabel: t('enrolment:calendar.kind.edition'),
      start: dayOf(edition.startsAt),
      end: edition.endsAt && edition.endsAt > edition.startsAt ? dayOf(edition.endsAt) : undefined,
      summary: edition.title,
      description: about.join('\n'),
      location: edition.place || undefined,
      path,
      updatedAt: edition.updatedAt,
    });
  }
  if (options.withDeadline && edition.enrolmentDeadline) {
    dates.push({
      uid: `deadline-${id}`,
      kind: 'deadline',
      kindLabel: t('enrolment:calendar.kind.deadline'),
      start: dayOf(edition.enrolmentDeadline),
      summary: t('enrolment:calendar.deadlineOf', { edition: edition.title }),
      description: about.join('\n'),
      path,
      updatedAt: edition.updatedAt,
    });
  }
  return dates;
}

/** The enrolment plugin's own source: the editions the person is enrolled in, applied to or waits for. */
export function enrolmentCalendarSource(service: EnrolmentService, course: (id: string) => Promise<CourseSummary | null>): CalendarSource {
  return {
    id: 'enrolment.editions',
    async datesOf(person: CalendarPerson, t: TFunction, lang: string) {
      const mine = (await service.memberships.enrolmentsOf({ userId: person.userId })).filter((e) => ['enrolled', 'pending', 'waitlisted'].includes(e.status));
      const editions = await service.editionsById(mine.map((e) => e.editionId));
      const dates: CalendarDate[] = [];
      for (const e of mine) {
        const edition = editions.get(e.editionId);
        // Drafts are not announced yet; a cancelled edition's dates leave the calendar.
        if (!edition || edition.status === 'draft' || edition.status === 'cancelled') continue;
        const waiting = e.status !== 'enrolled';
        dates.push(...editionDates(edition, await course(edition.courseId), t, lang, { withDeadline: waiting, status: e.status }));
      }
      return dates;
    },
  };
}

/** Every source's dates for the person, soonest first (a source that fails is left out and logged). */
export async function personDates(
  sources: readonly CalendarSource[],
  person: CalendarPerson,
  t: TFunction,
  lang: string,
  onError: (err: unknown, source: string) => void,
): Promise<CalendarDate[]> {
  const all: CalendarDate[] = [];
  for (const source of sources) {
    try {
      all.push(...(await source.datesOf(person, t, lang)));
    } catch (err) {
      onError(err, source.id);
    }
  }
  return all.sort((a, b) => a.start.getTime() - b.start.getTime() || a.summary.localeCompare(b.summary));
}

/** Whether a date's last day is today or later. */
export const isUpcoming = (d: CalendarDate, now = new Date()) => (d.end ?? d.start).getTime() >= dayOf(now).getTime();

/**
 * The dates as an iCalendar file: all-day events (DTEND the day after the last, as RFC 5545 has
 * it), a UID stable across downloads and feed refreshes (`<uid>@<BASE_URL's host>`), DTSTAMP and
 * LAST-MODIFIED from when the edition last changed, the place as LOCATION and Olive's page as URL.
 */
export function toICalendar(dates: readonly CalendarDate[], options: { name: string; baseUrl: string; refreshHours?: number }): string {
  const host = new URL(options.baseUrl).hostname;
  const now = new Date();
  const calendar = ical({
    name: options.name,
    prodId: { company: 'Olive', product: 'Calendar', language: 'EN' },
    ...(options.refreshHours ? { ttl: options.refreshHours * 3600 } : {}),
  });
  for (const d of dates) {
    const last = d.end ?? d.start;
    calendar.createEvent({
      id: `${d.uid}@${host}`,
      allDay: true,
      start: dayOf(d.start),
      end: new Date(dayOf(last).getTime() + DAY),
      summary: d.summary,
      description: d.description ?? null,
      location: d.location ?? null,
      url: d.path ? new URL(d.path, options.baseUrl).href : null,
      stamp: d.updatedAt ?? now,
      lastModified: d.updatedAt ?? null,
    });
  }
  return calendar.toString();
}
