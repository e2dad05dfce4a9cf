/**
 * An edition's sessions, the ticks of who was present, the edition's completion rule and what it
 * makes of each person's ticks. Every write is a single small document: a session, a tick (one per
 * enrolment × session, an upsert by key), the edition's settings; nothing needs a transaction.
 */
import crypto from 'node:crypto';
import type { Model } from 'mongoose';
import {
  conflict,
  findByKeys,
  forbidden,
  HttpError,
  insertOnce,
  nameCollator,
  notFound,
  upsertOne,
  type PluginContext,
  type SessionUser,
} from '../../../src/index.ts';
import { EnrolmentDirectory, runsEdition, type EditionSummary } from '../../enrolment/contract.ts';
import type { AttendanceConfig } from '../config.ts';
import type { AttendanceOfPerson } from '../contract.ts';
import { markKey, type MarkDoc, type RuleKind, type SessionDoc, type SettingDoc } from '../models/attendance.model.ts';

const DAY = 86_400_000;

export interface AttendanceModels {
  Session: Model<SessionDoc>;
  Mark: Model<MarkDoc>;
  Setting: Model<SettingDoc>;
}

export interface Participant {
  enrolmentId: string;
  email: string;
  /** The account's name; for people pre-enrolled by e-mail, the name their imported profile gives, else ''. */
  name: string;
  /** Pre-enrolled people have no account until they create one with their address. */
  hasAccount: boolean;
}

export interface Rule {
  rule: RuleKind;
  percent: number;
}

export const DEFAULT_RULE: Rule = { rule: 'all', percent: 100 };

/** Midnight UTC of that day. */
export const utcDay = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

export const isStaff = (user: SessionUser) => user.roles.includes('admin') || user.roles.includes('staff');

/**
 * What a rule makes of one person's ticks. Sessions in day order; the day they qualified is the
 * day of the session that brought them to the rule's count.
 */
export function assess(
  enrolmentId: string,
  sessions: Pick<SessionDoc, '_id' | 'day'>[],
  present: (sessionId: string) => boolean,
  rule: Rule,
): AttendanceOfPerson {
  const total = sessions.length;
  const attendedSessions = sessions.filter((s) => present(s._id));
  const attended = attendedSessions.length;
  const needed = rule.rule === 'all' ? total : Math.ceil((rule.percent * total) / 100);
  const qualifies = total > 0 && attended >= Math.max(needed, 1);
  return {
    enrolmentId,
    attended,
    sessions: total,
    percent: total ? Math.floor((attended * 100) / total) : 0,
    qualifies,
    ...(qualifies ? { qualifiedOn: attendedSessions[Math.max(needed, 1) - 1]!.day } : {}),
  };
}

export function createAttendanceService(ctx: PluginContext<AttendanceConfig>, models: AttendanceModels) {
  const { Session, Mark, Setting } = models;
  const directory = () => ctx.get(EnrolmentDirectory);

  /** The edition, if this person runs it; 404 when there is none, 403 when they do not, 409 for a self-paced one (no sessions to attend). */
  async function requireEdition(id: string, user: SessionUser): Promise<EditionSummary> {
    const edition = await directory().edition(id);
    if (!edition) throw notFound('No such edition.', { key: 'attendance:errors.noEdition' });
    if (!runsEdition(user, edition))
      throw forbidden('Only programme staff and the edition’s trainers keep its attendance.', { key: 'attendance:errors.forbidden' });
    if (edition.selfPaced) throw conflict('A self-paced edition has no sessions to attend.', undefined, { key: 'attendance:errors.selfPaced' });
    return edition;
  }

  async function settingOf(editionId: string): Promise<SettingDoc | null> {
    return Setting.findById(editionId).lean();
  }

  async function ruleOf(editionId: string): Promise<Rule> {
    const s = await settingOf(editionId);
    return s ? { rule: s.rule, percent: s.percent } : DEFAULT_RULE;
  }

  /** The days of an edition, one session each, when it is short enough for that to make sense. */
  function defaultDays(edition: EditionSummary): Date[] {
    if (!edition.startsAt) return [];
    const start = utcDay(edition.startsAt);
    const end = utcDay(edition.endsAt ?? edition.startsAt);
    const count = Math.round((end.getTime() - start.getTime()) / DAY) + 1;
    if (count < 1 || count > ctx.config.maxDefaultSessions) return [];
    return Array.from({ length: count }, (_, i) => new Date(start.getTime() + i * DAY));
  }

  /**
   * The edition's sessions, made by default on the first visit (one per day from its start to its
   * end). Keys are the days, so two first visits at once make each session once; the settings then
   * say it was done, so sessions staff remove do not come back.
   */
  async function sessionsOf(edition: EditionSummary): Promise<{ active: SessionDoc[]; removed: SessionDoc[] }> {
    const setting = await settingOf(edition.id);
    if (!setting?.defaultsMadeAt) {
      const now = new Date();
      await Promise.all(
        defaultDays(edition).map((day) =>
          insertOnce(Session, {
            _id: `${edition.id}-${isoDay(day).replaceAll('-', '')}`,
            editionId: edition.id,
            title: '',
            day,
            createdAt: now,
            removedAt: null,
          }),
        ),
      );
      await upsertOne(
        Setting,
        { _id: edition.id },
        { $set: { defaultsMadeAt: now, updatedAt: now }, $setOnInsert: { rule: DEFAULT_RULE.rule, percent: DEFAULT_RULE.percent } },
      );
    }
    // Sessions are few per edition; this filter reads the collection (only _id is indexed on FerretDB).
    const all = await Session.find({ editionId: edition.id }).lean();
    all.sort((a, b) => a.day.getTime() - b.day.getTime() || a.createdAt.getTime() - b.createdAt.getTime() || a._id.localeCompare(b._id));
    return { active: all.filter((s) => !s.removedAt), removed: all.filter((s) => s.removedAt) };
  }

  async function requireSession(edition: EditionSummary, sessionId: string): Promise<SessionDoc> {
    const session = await Session.findById(sessionId).lean();
    if (!session || session.editionId !== edition.id) throw notFound('No such session.', { key: 'attendance:errors.noSession' });
    return session;
  }

  async function addSession(edition: EditionSummary, input: { title: string; day: Date }): Promise<SessionDoc> {
    const doc: SessionDoc = {
      _id: `${edition.id}-${crypto.randomBytes(6).toString('hex')}`,
      editionId: edition.id,
      title: input.title,
      day: input.day,
      createdAt: new Date(),
      removedAt: null,
    };
    await Session.create(doc);
    return doc;
  }

  async function updateSession(edition: EditionSummary, sessionId: string, input: { title: string; day: Date }) {
    await requireSession(edition, sessionId);
    await Session.updateOne({ _id: sessionId }, { $set: { title: input.title, day: input.day } });
  }

  /** Ticks recorded present at a session (any enrolment): what removing it would hide. */
  async function presentAt(edition: EditionSummary, sessionId: string): Promise<number> {
    const people = await participants(edition);
    const marks = await findByKeys(
      Mark,
      people.map((p) => markKey(p.enrolmentId, sessionId)),
    );
    return marks.filter((m) => m.present).length;
  }

  /**
   * Removes a session from the edition's list and its rule. Its ticks are kept (restoring the
   * session brings them back); a session with ticks is only removed when the person confirmed it
   * knowing how many (409 HAS_TICKS otherwise).
   */
  async function removeSession(edition: EditionSummary, sessionId: string, confirmed: boolean): Promise<{ ticks: number }> {
    const session = await requireSession(edition, sessionId);
    if (session.removedAt) return { ticks: 0 };
    const ticks = await presentAt(edition, sessionId);
    if (ticks > 0 && !confirmed) {
      throw new HttpError(
        409,
        'HAS_TICKS',
        'This session has ticks recorded: confirm to remove it.',
        { ticks },
        {
          key: 'attendance:sessions.hasTicks',
          params: { count: ticks },
        },
      );
    }
    await Session.updateOne({ _id: sessionId }, { $set: { removedAt: new Date() } });
    return { ticks };
  }

  async function restoreSession(edition: EditionSummary, sessionId: string) {
    await requireSession(edition, sessionId);
    await Session.updateOne({ _id: sessionId }, { $set: { removedAt: null } });
  }

  /** Everyone enrolled, with the account's name (or the imported profile's), sorted by name (or e-mail) in the reader's collation. */
  async function participants(edition: EditionSummary, lang = 'en'): Promise<Participant[]> {
    const enrolments = await directory().enrolmentsOf(edition.id, ['enrolled']);
    const names = await directory().namesOf(enrolments);
    const people = enrolments.map((e) => ({ enrolmentId: e.id, email: e.email, ...names.get(e.id)! }));
    const collator = nameCollator(lang);
    return people.sort((a, b) => collator.compare(a.name || a.email, b.name || b.email) || a.email.localeCompare(b.email));
  }

  /** Who was present where: the ticks of these people at these sessions, by `markKey`. */
  async function marksOf(enrolmentIds: string[], sessionIds: string[]): Promise<Map<string, boolean>> {
    const keys = enrolmentIds.flatMap((e) => sessionIds.map((s) => markKey(e, s)));
    const marks = await findByKeys(Mark, keys);
    return new Map(marks.map((m) => [m._id, m.present]));
  }

  /**
   * Writes these ticks, each its own document (an upsert by key), so two people saving at once
   * lose nothing of each other's: each writes only the cells it changed.
   */
  async function saveMarks(editionId: string, changes: { enrolmentId: string; sessionId: string; present: boolean }[], byUserId: string): Promise<number> {
    const at = new Date();
    await Promise.all(
      changes.map((c) =>
        upsertOne(
          Mark,
          { _id: markKey(c.enrolmentId, c.sessionId) },
          { $set: { editionId, enrolmentId: c.enrolmentId, sessionId: c.sessionId, present: c.present, byUserId, at } },
        ),
      ),
    );
    return changes.length;
  }

  /** Whether staff set the edition's rule (else it is the default: every session). */
  async function hasRule(editionId: string): Promise<boolean> {
    return !!(await settingOf(editionId))?.updatedBy;
  }

  async function setRule(editionId: string, rule: Rule, byUserId: string) {
    await upsertOne(
      Setting,
      { _id: editionId },
      { $set: { rule: rule.rule, percent: rule.rule === 'all' ? 100 : rule.percent, updatedAt: new Date(), updatedBy: byUserId } },
    );
  }

  /** Each of these enrolments' attendance against the edition's rule, over its sessions (removed ones do not count). */
  async function attendanceOf(editionId: string, enrolmentIds: string[]): Promise<AttendanceOfPerson[]> {
    const edition = await directory().edition(editionId);
    if (!edition || edition.selfPaced) return [];
    const [{ active }, rule] = await Promise.all([sessionsOf(edition), ruleOf(editionId)]);
    const marks = await marksOf(
      enrolmentIds,
      active.map((s) => s._id),
    );
    return enrolmentIds.map((id) => assess(id, active, (s) => marks.get(markKey(id, s)) === true, rule));
  }

  /** The certificates plugin's completion rule: those who qualify by attendance, with the day they did. */
  async function completedOf(editionId: string, enrolmentIds: string[]): Promise<Map<string, Date>> {
    const done = new Map<string, Date>();
    // Only editions whose attendance is kept: an edition nobody opened here completes online only.
    if (!(await settingOf(editionId))) return done;
    for (const a of await attendanceOf(editionId, enrolmentIds)) if (a.qualifies && a.qualifiedOn) done.set(a.enrolmentId, a.qualifiedOn);
    return done;
  }

  return {
    requireEdition,
    ruleOf,
    sessionsOf,
    requireSession,
    addSession,
    updateSession,
    removeSession,
    restoreSession,
    presentAt,
    participants,
    marksOf,
    saveMarks,
    setRule,
    hasRule,
    attendanceOf,
    completedOf,
  };
}

export type AttendanceService = ReturnType<typeof createAttendanceService>;
