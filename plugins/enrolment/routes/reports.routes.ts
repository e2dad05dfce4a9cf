/**
 * An edition's roster (staff, admins and the edition's own trainers, read-only) and the donor
 * reports (staff and admins), each as a page and as CSV. Filters and sorting are query parameters,
 * so every view is a plain link that works without JavaScript and can be bookmarked.
 */
import type { Request } from 'express';
import { z } from 'zod';
import {
  allow,
  badRequest,
  checkInput,
  englishT,
  formatDate,
  formatList,
  localized,
  notFound,
  objectIdSchema,
  sendCsv,
  type PluginContext,
} from '../../../src/index.ts';
import { CourseCatalog, CourseDueDates, DUE_STATES, type DueState } from '../../courses/contract.ts';
import { ENROLMENT_STATUSES } from '../contract.ts';
import { CHART_COLOURS, horizontalBarChart, type ChartRow } from '../services/charts.ts';
import type { EnrolmentService } from '../services/enrolment.service.ts';
import { countryName } from '../services/profile.ts';
import {
  DEFAULT_DIRECTION,
  filterRoster,
  ROSTER_SORTS,
  sortRoster,
  type BreakdownRow,
  type Report,
  type ReportService,
  type RosterQuery,
  type RosterRow,
  type RosterSort,
} from '../services/report.service.ts';
import { courseTitle, formatDay } from './learner.routes.ts';

const rosterQuerySchema = z.object({
  // Unknown values fall back to the unfiltered, default-sorted roster: a stale bookmark still opens.
  status: z.enum(ENROLMENT_STATUSES).optional().catch(undefined),
  q: z.string().trim().max(200).optional().catch(undefined),
  sort: z.enum(ROSTER_SORTS).catch('name'),
  dir: z.enum(['asc', 'desc']).optional().catch(undefined),
});

function rosterQuery(req: Request): RosterQuery {
  const raw = rosterQuerySchema.parse(req.query ?? {});
  return { status: raw.status, search: raw.q || undefined, sort: raw.sort, dir: raw.dir ?? DEFAULT_DIRECTION[raw.sort] };
}

const reportQuerySchema = z.object({
  course: z.preprocess((v) => (v === '' ? undefined : v), objectIdSchema('enrolment:errors.report.course').optional()),
  year: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce
      .number({ error: 'enrolment:errors.report.year' })
      .int('enrolment:errors.report.year')
      .min(1990, 'enrolment:errors.report.year')
      .max(2100, 'enrolment:errors.report.year')
      .optional(),
  ),
});

function reportFilter(req: Request) {
  const parsed = checkInput(reportQuerySchema, req.query);
  if (!parsed.ok) {
    // A query string, not a form: the error page says what is wrong (the first problem; JSON and logs get all).
    const problems = Object.values(parsed.fields);
    throw badRequest(problems.map((p) => englishT(req)(p.key, p.params)).join(' '), undefined, problems[0]);
  }
  return { courseId: parsed.data.course, year: parsed.data.year };
}

/** A CSV file name part: letters, digits and dashes only (titles can hold anything). */
export function fileNamePart(text: string): string {
  const ascii = text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return ascii.slice(0, 80).replace(/-+$/, '') || 'edition';
}

const isoDay = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : '');

/** Dates in the roster as on every page (src/core/formats.ts). */
const shortDay = (req: Request, d: Date | undefined) => formatDate(req.language, d);

export function mountReportRoutes(ctx: PluginContext, service: EnrolmentService, reports: ReportService) {
  async function loadRoster(req: Request) {
    const edition = await service.requireEdition(String(req.params.id));
    service.requireRosterAccess(req.user!, edition);
    const query = rosterQuery(req);
    const everyone = await reports.roster(edition);
    const rows = sortRoster(filterRoster(everyone, query), query.sort, query.dir, req.language);
    return { edition, query, everyone, rows };
  }

  const statusText = (req: Request, r: Pick<RosterRow, 'status' | 'waitlistPosition'>) =>
    r.status === 'waitlisted' && r.waitlistPosition
      ? req.t('enrolment:roster.waitlistedAt', { position: r.waitlistPosition })
      : req.t(`enrolment:status.${r.status}`);

  /** A person's due dates in a word: "2 on time, 1 late, 1 overdue" (the states that have any). */
  const dueText = (req: Request, counts: Record<DueState, number> | undefined) =>
    counts &&
    formatList(
      req.language,
      DUE_STATES.filter((s) => counts[s]).map((s) => req.t(`enrolment:roster.dueCounts.${s}`, { count: counts[s] })),
    );

  // One person's due dates, one by one: what the roster counts. Same access as the roster.
  ctx.router.get('/manage/editions/:id/due/:enrolmentId', allow.signedIn, async (req, res) => {
    const edition = await service.requireEdition(String(req.params.id));
    service.requireRosterAccess(req.user!, edition);
    const person = (await reports.roster(edition)).find((r) => r.enrolmentId === String(req.params.enrolmentId));
    if (!person) throw notFound('No such person in this edition.', { key: 'enrolment:errors.noSuchEnrolment' });
    const course = await ctx.get(CourseCatalog).findById(edition.courseId);
    const standing =
      person.userId && person.dueFrom
        ? await ctx.get(CourseDueDates).standingOf(person.userId, edition.courseId, edition._id.toString(), person.dueFrom)
        : null;
    const main = course?.languages[0];
    res.render('enrolment/due-dates', {
      title: req.t('enrolment:dueDates.title', { name: person.name || person.email }),
      edition,
      person,
      courseTitle: courseTitle(req, course),
      start: person.dueFrom && formatDate(req.language, person.dueFrom),
      selfPaced: edition.selfPaced || !edition.startsAt,
      items: (standing?.items ?? []).map((d) => ({
        ...d,
        shownTitle: localized(d.title, req.language, main),
        dueText: formatDate(req.language, d.dueOn),
        doneText: d.doneAt ? formatDate(req.language, d.doneAt) : '',
      })),
    });
  });

  // Signed in, then the edition decides: staff, admins and its own trainers (read-only for them).
  ctx.router.get('/manage/editions/:id/roster', allow.signedIn, async (req, res) => {
    const { edition, query, everyone, rows } = await loadRoster(req);
    const course = await ctx.get(CourseCatalog).findById(edition.courseId);
    const params = (over: Record<string, string | undefined>) => {
      const p = new URLSearchParams();
      const all = { status: query.status, q: query.search, sort: query.sort, dir: query.dir, ...over };
      for (const [k, v] of Object.entries(all)) if (v) p.set(k, v);
      return p.toString();
    };
    const base = `/enrolment/manage/editions/${edition._id}/roster`;
    const counts = Object.fromEntries(ENROLMENT_STATUSES.map((s) => [s, everyone.filter((r) => r.status === s).length]));
    res.render('enrolment/roster', {
      title: req.t('enrolment:roster.title', { edition: edition.title }),
      edition,
      courseTitle: courseTitle(req, course),
      query,
      statuses: ENROLMENT_STATUSES,
      counts,
      total: everyone.length,
      isStaff: req.user!.roles.includes('staff') || req.user!.roles.includes('admin'),
      // The due-dates column only for a course that has any.
      hasDue: everyone.some((r) => r.due),
      csvHref: `${base}.csv?${params({})}`,
      sortHref: (col: RosterSort) =>
        `${base}?${params({ sort: col, dir: query.sort === col ? (query.dir === 'asc' ? 'desc' : 'asc') : DEFAULT_DIRECTION[col] })}`,
      rows: rows.map((r) => ({
        ...r,
        countryName: countryName(r.country, req.language),
        statusText: statusText(req, r),
        completed: shortDay(req, r.completedAt),
        lastActivity: shortDay(req, r.lastActivityAt),
        since: shortDay(req, r.enrolledSince),
        dueText: dueText(req, r.due),
      })),
    });
  });

  ctx.router.get('/manage/editions/:id/roster.csv', allow.signedIn, async (req, res) => {
    const { edition, everyone, rows } = await loadRoster(req);
    const t = (key: string) => req.t(`enrolment:roster.csv.${key}`);
    // As on the page: due-date columns (how many of the person's due dates stand where) only for a course that has any.
    const dueStates = everyone.some((r) => r.due) ? DUE_STATES : [];
    sendCsv(
      res,
      `roster-${fileNamePart(edition.title)}.csv`,
      [
        ...['name', 'account', 'email', 'organisation', 'country', 'status', 'waitlistPosition', 'progress', 'completed', 'lastActivity', 'enrolledSince'].map(
          t,
        ),
        ...dueStates.map((s) => t(`due.${s}`)),
      ],
      rows.map((r) => [
        r.name,
        r.hasAccount ? t('hasAccount') : t('noAccount'),
        r.email,
        r.organisation,
        countryName(r.country, req.language),
        req.t(`enrolment:status.${r.status}`),
        r.waitlistPosition ?? '',
        r.percent,
        isoDay(r.completedAt),
        isoDay(r.lastActivityAt),
        isoDay(r.enrolledSince),
        ...dueStates.map((s) => (r.due ? r.due[s] : '')),
      ]),
    );
  });

  // ---- Donor reports ----

  // Gender and organisation type share the profile's labels; regions are the reports' own.
  const labelKey = { gender: 'enrolment:gender', organisationType: 'enrolment:organisationType', region: 'enrolment:reports.region' } as const;
  const label = (req: Request, dimension: keyof typeof labelKey, row: BreakdownRow) =>
    row.known ? req.t(`${labelKey[dimension]}.${row.key}`) : row.key === 'unknown' ? req.t('enrolment:reports.unknown') : row.key;

  function labelled(req: Request, report: Report) {
    const dims = [
      ['gender', report.byGender],
      ['region', report.byRegion],
      ['organisationType', report.byOrganisationType],
    ] as const;
    return dims.map(([dimension, rows]) => ({ dimension, rows: rows.map((r) => ({ ...r, label: label(req, dimension, r) })) }));
  }

  ctx.router.get('/reports', allow.roles('staff'), async (req, res) => {
    const filter = reportFilter(req);
    const report = await reports.report(filter);
    const series = [
      { name: req.t('enrolment:reports.participants'), colour: CHART_COLOURS[0] },
      { name: req.t('enrolment:reports.completions'), colour: CHART_COLOURS[1] },
    ];
    const chart = (id: string, title: string, rows: ChartRow[]) =>
      horizontalBarChart({ id, title, series, rows, emptyText: req.t('enrolment:reports.noData') });
    const breakdowns = labelled(req, report).map((b) => ({
      ...b,
      title: req.t(`enrolment:reports.by.${b.dimension}`),
      svg: chart(
        `chart-${b.dimension}`,
        req.t(`enrolment:reports.by.${b.dimension}`),
        b.rows.map((r) => ({ label: r.label, values: [r.participants, r.completions] })),
      ),
    }));
    const editions = report.editions.map((e) => ({
      ...e,
      courseTitle: courseTitle(req, e.course),
      when:
        e.selfPaced || !e.startsAt ? req.t('enrolment:reports.selfPaced') : [formatDay(req, e.startsAt), formatDay(req, e.endsAt)].filter(Boolean).join(' – '),
    }));
    const query = new URLSearchParams();
    if (filter.courseId) query.set('course', filter.courseId);
    if (filter.year) query.set('year', String(filter.year));
    res.render('enrolment/reports', {
      title: req.t('enrolment:reports.title'),
      report,
      filter,
      courses: report.courses.map((c) => ({ id: c.id, title: courseTitle(req, c) })),
      editions,
      editionsSvg: chart(
        'chart-editions',
        req.t('enrolment:reports.by.edition'),
        editions.map((e) => ({ label: e.title, values: [e.participants, e.completions] })),
      ),
      breakdowns,
      csvHref: `/enrolment/reports.csv${query.size ? `?${query}` : ''}`,
    });
  });

  ctx.router.get('/reports.csv', allow.roles('staff'), async (req, res) => {
    const filter = reportFilter(req);
    const report = await reports.report(filter);
    const t = (key: string) => req.t(`enrolment:reports.csv.${key}`);
    const rows: (string | number)[][] = report.editions.map((e) => [
      t('edition'),
      e.title,
      courseTitle(req, e.course),
      e.selfPaced || !e.startsAt ? '' : isoDay(e.startsAt),
      e.participants,
      e.completions,
    ]);
    rows.push([t('total'), t('allEditions'), '', '', report.totals.participants, report.totals.completions]);
    for (const { dimension, rows: list } of labelled(req, report)) {
      for (const r of list) rows.push([req.t(`enrolment:reports.csv.${dimension}`), r.label, '', '', r.participants, r.completions]);
    }
    const parts = [
      'report',
      filter.year ? String(filter.year) : '',
      filter.courseId ? fileNamePart(courseTitle(req, report.courses.find((c) => c.id === filter.courseId) ?? null)) : '',
    ].filter(Boolean);
    sendCsv(res, `${parts.join('-')}.csv`, ['breakdown', 'category', 'course', 'starts', 'participants', 'completions'].map(t), rows);
  });
}
