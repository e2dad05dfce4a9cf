/**
 * The enrolment plugin's contract: what other plugins (certificates, SSO) may import.
 *
 * An edition is one run of a course (a cohort): "Fellowship 2027, Holmenkollen". People enrol in
 * editions; progress in a course is recorded per edition (the edition's id is the `editionId` of
 * the courses plugin's progress records).
 */
import { defineEvent, defineExtensionPoint, defineService, type DashboardPanel, type SessionUser } from '../../src/index.ts';

/** How people get into an edition. */
export const ENROLMENT_METHODS = ['open', 'key', 'application', 'invitation', 'closed'] as const;
export type EnrolmentMethod = (typeof ENROLMENT_METHODS)[number];

export const EDITION_STATUSES = ['draft', 'published', 'cancelled', 'archived'] as const;
export type EditionStatus = (typeof EDITION_STATUSES)[number];

/**
 * - pending: applied, waiting for a decision by staff;
 * - enrolled: holds a seat (or the edition has no seat limit);
 * - waitlisted: waits for a seat, promoted in order when one frees;
 * - rejected: an application staff turned down;
 * - withdrawn: left (themselves or by staff), or moved to another edition.
 */
export const ENROLMENT_STATUSES = ['pending', 'enrolled', 'waitlisted', 'rejected', 'withdrawn'] as const;
export type EnrolmentStatus = (typeof ENROLMENT_STATUSES)[number];

export interface EditionSummary {
  id: string;
  courseId: string;
  title: string;
  /** Self-paced editions have no dates and stay open. */
  selfPaced: boolean;
  startsAt?: Date | undefined;
  endsAt?: Date | undefined;
  /** Staff opened the material before the start (pre-reading), from this day. */
  materialOpensAt?: Date | undefined;
  /**
   * Certificates may be issued before the end date (staff chose so); otherwise a dated edition's
   * certificates wait for its end date, automatic ones then issued by the certificates plugin's job.
   */
  certificatesBeforeEnd?: boolean | undefined;
  enrolmentDeadline?: Date | undefined;
  /** Where it takes place; empty when online only. */
  place: string;
  online: boolean;
  /** Seats; null means no limit. */
  capacity: number | null;
  language: string;
  method: EnrolmentMethod;
  trainerIds: string[];
  /** Whom participants write to about this edition (optional; staff set it on the edition form). */
  contactEmail?: string | undefined;
  status: EditionStatus;
}

export interface EnrolmentSummary {
  id: string;
  editionId: string;
  courseId: string;
  /** The person's e-mail address: pre-enrolled people have no account (userId) yet. */
  email: string;
  userId?: string | undefined;
  status: EnrolmentStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface EnrolmentDirectoryService {
  edition(id: string): Promise<EditionSummary | null>;
  enrolment(id: string): Promise<EnrolmentSummary | null>;
  editionsOfCourse(courseId: string): Promise<EditionSummary[]>;
  /** This person's enrolment in this edition, whatever its status. */
  enrolmentOf(userId: string, editionId: string): Promise<EnrolmentSummary | null>;
  /** This person's enrolments in every edition, whatever their status (read by key: cheap on every page). */
  enrolmentsOfUser(userId: string): Promise<EnrolmentSummary[]>;
  /** Everyone in an edition with one of these statuses (all statuses when omitted). */
  enrolmentsOf(editionId: string, statuses?: EnrolmentStatus[]): Promise<EnrolmentSummary[]>;
  /** The name of the person with this address from their imported profile (given and family name), or null when none is known. */
  personName?(email: string): Promise<string | null>;
  /**
   * The names of these enrolments' people, by enrolment id: the account's name, else the imported
   * profile's, else '' (with whether there is an account). One read of accounts and one of profiles
   * for the whole list (an attendance grid, a certificates page).
   */
  namesOf(enrolments: readonly Pick<EnrolmentSummary, 'id' | 'email' | 'userId'>[]): Promise<Map<string, { name: string; hasAccount: boolean }>>;
}

export const EnrolmentDirectory = defineService<EnrolmentDirectoryService>('enrolment.directory');

/** Every enrolment event carries the same facts; `byUserId` is absent when the person acted themselves or the system did. */
export interface EnrolmentEvent {
  enrolmentId: string;
  editionId: string;
  courseId: string;
  email: string;
  userId?: string | undefined;
  status: EnrolmentStatus;
  byUserId?: string | undefined;
  message?: string | undefined;
}

export const EnrolmentCreated = defineEvent<EnrolmentEvent>('enrolment.enrolment.created');
/** An application accepted (the person is then enrolled or, if the edition is full, waitlisted). */
export const EnrolmentApproved = defineEvent<EnrolmentEvent>('enrolment.enrolment.approved');
export const EnrolmentRejected = defineEvent<EnrolmentEvent>('enrolment.enrolment.rejected');
export const EnrolmentWaitlisted = defineEvent<EnrolmentEvent>('enrolment.enrolment.waitlisted');
/** A waitlisted person got a seat that freed up. */
export const EnrolmentPromoted = defineEvent<EnrolmentEvent>('enrolment.enrolment.promoted');
export const EnrolmentWithdrawn = defineEvent<EnrolmentEvent>('enrolment.enrolment.withdrawn');
/** Staff moved a person to another edition of the course; the event names the new enrolment. */
export const EnrolmentMoved = defineEvent<EnrolmentEvent & { fromEditionId: string; fromEnrolmentId: string }>('enrolment.enrolment.moved');

/**
 * Sections of the learner's "My learning" page contributed by other plugins (the certificates
 * plugin lists the person's certificates there). Same shape as the home page's panels.
 */
export const MyLearningSections = defineExtensionPoint<DashboardPanel>('enrolment.myLearningSections');

/**
 * Who runs an edition (sees its roster, answers its questions, marks its attendance, writes to its
 * participants): programme staff and administrators run every edition, a trainer the editions
 * they are named trainers of. The one rule every plugin asks.
 */
export function runsEdition(user: SessionUser | undefined, edition: Pick<EditionSummary, 'trainerIds'>): boolean {
  if (!user) return false;
  return user.roles.includes('admin') || user.roles.includes('staff') || (user.roles.includes('trainer') && edition.trainerIds.includes(user.id));
}

/** Who reads an edition's page, as its sections see them. */
export interface EditionReader {
  edition: EditionSummary;
  /** The reader's enrolment in this edition, whatever its status (null: none, or not signed in). */
  enrolment: EnrolmentSummary | null;
  /** The reader runs this edition: staff, an administrator, or one of the edition's trainers. */
  runs: boolean;
}

/**
 * Sections of an edition's page (`/enrolment/editions/:id`) contributed by other plugins (the
 * edition's announcements, questions to its trainers), below what the enrolment plugin shows.
 * Same shape as the home page's panels, with the edition and the reader's place in it; a section
 * decides itself whom it shows to (render null to hide it).
 */
export interface EditionSection {
  id: string;
  order?: number;
  render(req: import('express').Request, reader: EditionReader): Promise<{ view: string; locals?: Record<string, unknown> } | null>;
}
export const EditionSections = defineExtensionPoint<EditionSection>('enrolment.editionSections');

/**
 * Links on an edition's manage page (`/enrolment/manage/editions/:id`) to other plugins' pages
 * about it (its attendance, its certificates), beside the roster and the import. `label` is a
 * catalogue key; `href` gives the page's path for this edition, or null when the page does not
 * apply to it (attendance for a self-paced edition).
 */
export interface EditionManageLink {
  id: string;
  order?: number;
  label: string;
  href(edition: EditionSummary): string | null;
}
export const EditionManageLinks = defineExtensionPoint<EditionManageLink>('enrolment.editionManageLinks');

/**
 * One date in a person's calendar ("My calendar" and its iCalendar feed): whole days, in UTC, as
 * editions are. Texts are in the language the source is asked for (the reader's, or for the feed
 * the person's saved one).
 */
export interface CalendarDate {
  /** Stable and unique across Olive (`<kind>-<id>`): calendar apps update an event with the same uid in place. */
  uid: string;
  /** What it is, shown as a badge: 'edition', 'deadline', 'due' (module or quiz), or a plugin's own. */
  kind: string;
  /** The kind's name in the reader's language. */
  kindLabel: string;
  /** The first day, and the last one (inclusive; absent for a single day). */
  start: Date;
  end?: Date | undefined;
  summary: string;
  description?: string | undefined;
  /** Where it takes place (an edition's place), empty when online or not a place. */
  location?: string | undefined;
  /** Olive's page about it, as a path (`/enrolment/editions/…`); the feed makes it absolute with BASE_URL. */
  path?: string | undefined;
  /** When what the date comes from last changed (the feed's DTSTAMP and LAST-MODIFIED). */
  updatedAt?: Date | undefined;
}

/** Whose dates: a person with an account. */
export interface CalendarPerson {
  userId: string;
  email: string;
}

/**
 * Sources of a person's dates, contributed by plugins (the enrolment plugin gives the editions the
 * person is enrolled in or applied to, with their enrolment deadlines). `t` and `lang` are the
 * language to write `summary`, `kindLabel` and `description` in.
 */
export interface CalendarSource {
  id: string;
  datesOf(person: CalendarPerson, t: import('i18next').TFunction, lang: string): Promise<CalendarDate[]>;
}

export const CalendarSources = defineExtensionPoint<CalendarSource>('enrolment.calendarSources');
