/**
 * Rosters and donor reports: who is in an edition and where they stand, and how many people took
 * part in and completed the programme's editions, by gender, region and organisation type.
 *
 * Figures are computed in code from projections (a few small reads per edition), not with
 * `$group`: FerretDB computes only the first accumulator of a `$group` (docs/design-notes.md), and
 * at a programme's scale (editions of tens to hundreds of people) reading the enrolments of the
 * chosen editions is cheap. Progress comes from the courses plugin, one `editionProgress` call per
 * edition (never one per learner).
 */
import mongoose from 'mongoose';
import { badRequest, searchFold, type UsersService } from '../../../src/index.ts';
import type { CourseCatalogService, CourseSummary, DueDatesService, DueState, LearnerProgress, ProgressService } from '../../courses/contract.ts';
import type { EnrolmentStatus } from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import type { PersonDoc } from '../models/person.model.ts';
import type { EnrolmentModels } from './enrolment.service.ts';
import { GENDERS, ORGANISATION_TYPES, REGIONS, regionOf } from './profile.ts';

export interface ReportDeps {
  models: EnrolmentModels;
  progress: () => ProgressService;
  catalog: () => CourseCatalogService;
  users: () => UsersService;
  dueDates: () => DueDatesService;
}

// ---- Roster --------------------------------------------------------------------------------------

export const ROSTER_SORTS = ['name', 'status', 'progress', 'lastActivity'] as const;
export type RosterSort = (typeof ROSTER_SORTS)[number];
export type SortDirection = 'asc' | 'desc';

/** The direction a column sorts in when first clicked: names A→Z, the most advanced and most recent first. */
export const DEFAULT_DIRECTION: Record<RosterSort, SortDirection> = { name: 'asc', status: 'asc', progress: 'desc', lastActivity: 'desc' };

export interface RosterQuery {
  /** Only people with this status; all when undefined. */
  status?: EnrolmentStatus | undefined;
  /** Free text matched against name, e-mail and organisation (case- and accent-insensitive). */
  search?: string | undefined;
  sort: RosterSort;
  dir: SortDirection;
}

export interface RosterRow {
  enrolmentId: string;
  email: string;
  /** From the person's profile, else from their account; '' when neither says. */
  name: string;
  /** False for people pre-enrolled by e-mail who have no account yet. */
  hasAccount: boolean;
  organisation: string;
  organisationType: string;
  /** ISO alpha-2, '' when unknown. */
  country: string;
  status: EnrolmentStatus;
  /** 1-based, for waitlisted people only. */
  waitlistPosition: number | null;
  percent: number;
  completedAt?: Date | undefined;
  lastActivityAt?: Date | undefined;
  /** When the person got their current place (enrolled people only). */
  enrolledSince?: Date | undefined;
  /** How many of the course's due dates are in each state for this person (enrolled people with an account, when the course has due dates). */
  due?: Record<DueState, number> | undefined;
  /** The account, and the day the due dates count from (those who take the course). */
  userId?: string | undefined;
  dueFrom?: Date | undefined;
}

/** The order statuses take when sorting by status: those holding or wanting a place first. */
const STATUS_ORDER: EnrolmentStatus[] = ['enrolled', 'pending', 'waitlisted', 'withdrawn', 'rejected'];

const time = (d: Date | undefined) => d?.getTime() ?? null;

/** Compares two optional values; missing values always go last, whatever the direction. */
function compareOptional<T>(a: T | null, b: T | null, dir: SortDirection, cmp: (x: T, y: T) => number): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return dir === 'asc' ? cmp(a, b) : -cmp(a, b);
}

export function sortRoster(rows: RosterRow[], sort: RosterSort, dir: SortDirection, lang = 'en'): RosterRow[] {
  const collator = new Intl.Collator(lang, { sensitivity: 'base' });
  const byName = (a: RosterRow, b: RosterRow) => compareOptional(a.name || null, b.name || null, 'asc', collator.compare) || a.email.localeCompare(b.email);
  const primary: Record<RosterSort, (a: RosterRow, b: RosterRow) => number> = {
    name: (a, b) => compareOptional(a.name || null, b.name || null, dir, collator.compare) || (dir === 'asc' ? 1 : -1) * a.email.localeCompare(b.email),
    status: (a, b) => {
      const s = STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status);
      const signed = dir === 'asc' ? s : -s;
      return signed || (a.waitlistPosition ?? 0) - (b.waitlistPosition ?? 0);
    },
    progress: (a, b) => (dir === 'asc' ? 1 : -1) * (a.percent - b.percent) || compareOptional(time(a.completedAt), time(b.completedAt), 'asc', (x, y) => x - y),
    lastActivity: (a, b) => compareOptional(time(a.lastActivityAt), time(b.lastActivityAt), dir, (x, y) => x - y),
  };
  return [...rows].sort((a, b) => primary[sort](a, b) || byName(a, b));
}

/** Search as everywhere (searchFold): "jose" finds "José", "محمد" finds "مُحَمَّد". */
export function filterRoster(rows: RosterRow[], query: Pick<RosterQuery, 'status' | 'search'>): RosterRow[] {
  const words = searchFold(query.search ?? '')
    .split(/\s+/)
    .filter(Boolean);
  return rows.filter((r) => {
    if (query.status && r.status !== query.status) return false;
    if (!words.length) return true;
    const haystack = searchFold(`${r.name} ${r.email} ${r.organisation}`);
    return words.every((w) => haystack.includes(w));
  });
}

/** The moment the person's current place began: the last change into "enrolled". */
export function enrolledSince(e: Pick<EnrolmentDoc, 'status' | 'history' | 'createdAt'>): Date | undefined {
  if (e.status !== 'enrolled') return undefined;
  const entry = [...e.history].reverse().find((h) => h.status === 'enrolled');
  return entry?.at ?? e.createdAt;
}

/**
 * The day a person's due dates count from (the courses plugin's `AccessDecision.dueFrom`): a dated
 * edition's first day; in a self-paced edition, which has no dates, the day the person was enrolled.
 */
export function dueFrom(
  edition: Pick<EditionDoc, 'selfPaced' | 'startsAt'>,
  enrolment: Pick<EnrolmentDoc, 'status' | 'history' | 'createdAt'>,
): Date | undefined {
  return !edition.selfPaced && edition.startsAt ? edition.startsAt : enrolledSince(enrolment);
}

// ---- Reports --------------------------------------------------------------------------------------

export interface ReportFilter {
  courseId?: string | undefined;
  year?: number | undefined;
}

export interface Figures {
  participants: number;
  completions: number;
}

export interface BreakdownRow extends Figures {
  /** The category: a code of GENDERS, REGIONS or ORGANISATION_TYPES, 'unknown', or a stored value we do not know. */
  key: string;
  known: boolean;
}

export interface EditionFigures extends Figures {
  id: string;
  title: string;
  courseId: string;
  course: CourseSummary | null;
  selfPaced: boolean;
  startsAt?: Date | undefined;
  endsAt?: Date | undefined;
  status: EditionDoc['status'];
}

export interface Report {
  filter: ReportFilter;
  editions: EditionFigures[];
  totals: Figures;
  byGender: BreakdownRow[];
  byRegion: BreakdownRow[];
  byOrganisationType: BreakdownRow[];
  /** Courses that have editions in the report (for the filter). */
  courses: CourseSummary[];
  /** Years with editions or enrolments (for the filter), most recent first. */
  years: number[];
}

/** Editions that count in reports: published (running or past) and archived; never drafts or cancelled ones. */
const REPORTED_STATUSES: EditionDoc['status'][] = ['published', 'archived'];

/** Undated editions (self-paced) are counted by the year people enrolled; dated ones by their start year. */
const isDated = (e: Pick<EditionDoc, 'selfPaced' | 'startsAt'>) => !e.selfPaced && !!e.startsAt;

function breakdown(known: readonly string[], counts: Map<string, Figures>, alwaysKnown: boolean): BreakdownRow[] {
  const rows: BreakdownRow[] = known
    .map((key) => ({ key, known: true, ...(counts.get(key) ?? { participants: 0, completions: 0 }) }))
    .filter((r) => alwaysKnown || r.participants > 0);
  for (const [key, f] of counts) if (!known.includes(key)) rows.push({ key, known: false, ...f });
  return rows;
}

function add(counts: Map<string, Figures>, key: string, completed: boolean) {
  const f = counts.get(key) ?? { participants: 0, completions: 0 };
  f.participants += 1;
  if (completed) f.completions += 1;
  counts.set(key, f);
}

// ---- The service ---------------------------------------------------------------------------------

export function createReportService(deps: ReportDeps) {
  const { Edition, Enrolment, Person } = deps.models;

  async function peopleByEmail(emails: string[]): Promise<Map<string, PersonDoc>> {
    if (!emails.length) return new Map();
    const people = await Person.find({ _id: mongoose.trusted({ $in: emails }) }).lean();
    return new Map(people.map((p) => [p._id, p]));
  }

  /**
   * Everyone in an edition (all statuses), with their profile, progress and place on the waiting
   * list. One read each for enrolments, profiles and progress; account names are looked up only
   * for people whose profile carries no name (one `findById` each).
   */
  async function roster(edition: EditionDoc): Promise<RosterRow[]> {
    const editionId = edition._id.toString();
    const [enrolments, progress] = await Promise.all([
      Enrolment.find({ editionId }, { email: 1, userId: 1, status: 1, waitlistedAt: 1, history: 1, createdAt: 1 }).lean(),
      deps.progress().editionProgress(edition.courseId, editionId),
    ]);
    const people = await peopleByEmail(enrolments.map((e) => e.email));
    // Due dates for those who take the course (enrolled, with an account): one read per progress collection.
    const startOf = new Map(enrolments.flatMap((e) => (e.userId && dueFrom(edition, e) ? [[e._id.toString(), dueFrom(edition, e)!] as const] : [])));
    const starts = enrolments.flatMap((e) => (startOf.has(e._id.toString()) ? [{ learnerId: e.userId!, dueFrom: startOf.get(e._id.toString())! }] : []));
    const due = await deps.dueDates().editionDueDates(edition.courseId, editionId, starts);
    const waiting = enrolments
      .filter((e) => e.status === 'waitlisted')
      .sort((a, b) => (a.waitlistedAt?.getTime() ?? 0) - (b.waitlistedAt?.getTime() ?? 0) || a._id.toString().localeCompare(b._id.toString()));
    const position = new Map(waiting.map((e, i) => [e._id.toString(), i + 1]));

    const accountNames = new Map<string, string>();
    const users = deps.users();
    const nameless = [...new Set(enrolments.filter((e) => e.userId && !profileName(people.get(e.email))).map((e) => e.userId!))];
    await Promise.all(
      nameless.map(async (id) => {
        const user = await users.findById(id);
        if (user) accountNames.set(id, user.name);
      }),
    );

    return enrolments.map((e): RosterRow => {
      const person = people.get(e.email);
      const p: LearnerProgress | undefined = e.userId ? progress.get(e.userId) : undefined;
      return {
        enrolmentId: e._id.toString(),
        email: e.email,
        name: profileName(person) || (e.userId ? (accountNames.get(e.userId) ?? '') : ''),
        hasAccount: !!e.userId,
        organisation: person?.organisation ?? '',
        organisationType: person?.organisationType ?? '',
        country: person?.country ?? '',
        status: e.status,
        waitlistPosition: position.get(e._id.toString()) ?? null,
        percent: p?.percent ?? 0,
        completedAt: p?.completedAt,
        lastActivityAt: p?.lastActivityAt,
        enrolledSince: enrolledSince(e),
        due: e.userId ? due.get(e.userId)?.counts : undefined,
        userId: e.userId,
        dueFrom: startOf.get(e._id.toString()),
      };
    });
  }

  /**
   * The donor report. Participants are the people enrolled (holding a place) in an edition;
   * completions are those of them whose completion of the course is recorded in that edition.
   * Breakdowns count participations: someone in two editions counts in both.
   */
  async function report(filter: ReportFilter): Promise<Report> {
    const all = await Edition.find({ status: mongoose.trusted({ $in: REPORTED_STATUSES }) })
      .sort({ startsAt: -1, _id: 1 })
      .lean();
    const courseIds = [...new Set(all.map((e) => e.courseId))];
    const catalog = deps.catalog();
    const courseList = (await Promise.all(courseIds.map((id) => catalog.findById(id)))).filter((c): c is CourseSummary => !!c);
    const courses = new Map(courseList.map((c) => [c.id, c]));
    if (filter.courseId !== undefined && !courses.has(filter.courseId))
      throw badRequest('No course with editions to report on has this id: choose one from the list.', undefined, {
        key: 'enrolment:errors.report.noSuchCourse',
      });

    const editions = all.filter((e) => !filter.courseId || e.courseId === filter.courseId);
    const inYear = filter.year === undefined ? editions : editions.filter((e) => !isDated(e) || e.startsAt!.getUTCFullYear() === filter.year);
    const enrolments = inYear.length
      ? await Enrolment.find(
          { editionId: mongoose.trusted({ $in: inYear.map((e) => e._id.toString()) }), status: 'enrolled' },
          { editionId: 1, email: 1, userId: 1, createdAt: 1 },
        ).lean()
      : [];
    const byId = new Map(inYear.map((e) => [e._id.toString(), e]));
    const counted = enrolments.filter((en) => {
      const edition = byId.get(en.editionId)!;
      return filter.year === undefined || isDated(edition) || en.createdAt.getUTCFullYear() === filter.year;
    });
    const people = await peopleByEmail([...new Set(counted.map((e) => e.email))]);

    // Completions: one progress read per edition that has participants.
    const withPeople = inYear.filter((e) => counted.some((en) => en.editionId === e._id.toString()));
    const progressOf = new Map<string, Map<string, LearnerProgress>>();
    await Promise.all(
      withPeople.map(async (e) => {
        progressOf.set(e._id.toString(), await deps.progress().editionProgress(e.courseId, e._id.toString()));
      }),
    );

    const perEdition = new Map<string, Figures>();
    const gender = new Map<string, Figures>();
    const region = new Map<string, Figures>();
    const orgType = new Map<string, Figures>();
    for (const en of counted) {
      const completed = !!(en.userId && progressOf.get(en.editionId)?.get(en.userId)?.completedAt);
      const person = people.get(en.email);
      add(perEdition, en.editionId, completed);
      add(gender, person?.gender || 'undisclosed', completed);
      add(region, (person && regionOf(person.country)) || 'unknown', completed);
      add(orgType, person?.organisationType || 'unknown', completed);
    }

    // The filter's years: every start year, and for self-paced editions each year since their first enrolment.
    const thisYear = new Date().getUTCFullYear();
    const years = new Set<number>([thisYear]);
    for (const e of editions) if (isDated(e)) years.add(e.startsAt!.getUTCFullYear());
    const undated = editions.filter((e) => !isDated(e)).map((e) => e._id.toString());
    if (undated.length) {
      const first = await Enrolment.find({ editionId: mongoose.trusted({ $in: undated }) }, { createdAt: 1 })
        .sort({ createdAt: 1 })
        .limit(1)
        .lean();
      for (let y = first[0]?.createdAt.getUTCFullYear() ?? thisYear; y <= thisYear; y++) years.add(y);
    }

    const editionFigures = inYear.map((e): EditionFigures => ({
      id: e._id.toString(),
      title: e.title,
      courseId: e.courseId,
      course: courses.get(e.courseId) ?? null,
      selfPaced: e.selfPaced,
      startsAt: e.startsAt ?? undefined,
      endsAt: e.endsAt ?? undefined,
      status: e.status,
      ...(perEdition.get(e._id.toString()) ?? { participants: 0, completions: 0 }),
    }));
    return {
      filter,
      editions: editionFigures,
      totals: { participants: counted.length, completions: [...perEdition.values()].reduce((n, f) => n + f.completions, 0) },
      byGender: breakdown(GENDERS, gender, true),
      byRegion: breakdown(REGIONS, region, true),
      byOrganisationType: breakdown(ORGANISATION_TYPES, orgType, true),
      courses: courseList,
      years: [...years].sort((a, b) => b - a),
    };
  }

  return { roster, report };
}

/** "Given Family" from a profile, '' when it has no name. */
export function profileName(person: Pick<PersonDoc, 'givenName' | 'familyName'> | undefined): string {
  return person ? `${person.givenName} ${person.familyName}`.trim() : '';
}

export type ReportService = ReturnType<typeof createReportService>;
