/**
 * Editions, enrolments, seats and the waiting list: the heart of the enrolment plugin.
 *
 * The invariants hold with single-document writes and unique indexes only (DESIGN.md data rules,
 * FerretDB has no transactions and applies updates read-then-write):
 *  - one enrolment per person and edition: unique (editionId, email);
 *  - never more enrolled people than seats: a seat is claimed by inserting `<edition>:<n>` with
 *    n ≤ capacity (unique `_id`), and one enrolment holds at most one seat (unique `enrolmentId`).
 *    The seat is claimed *before* the person is marked enrolled, so a count of enrolled people
 *    never exceeds the seats held.
 * Whoever frees a seat (withdrawal, rejection, move, capacity raised) promotes the waiting list in
 * order right away; `promoteWaiting()` is also safe to call at any time (it only fills free seats).
 */
import crypto from 'node:crypto';
import mongoose, { type Model } from 'mongoose';
import type { Logger } from 'pino';
import { badRequest, conflict, findByKeys, forbidden, HttpError, isDuplicateKey, notFound, readEachOncePerPage, stampedCache, type EventRef, type SessionUser, type UsersService } from '../../../src/index.ts';
import type { ProgressService } from '../../courses/contract.ts';
import {
  EnrolmentApproved, EnrolmentCreated, EnrolmentMoved, EnrolmentPromoted, EnrolmentRejected, EnrolmentWaitlisted, EnrolmentWithdrawn,
  type EditionSummary, type EnrolmentDirectoryService, type EnrolmentEvent, type EnrolmentStatus, type EnrolmentSummary,
} from '../contract.ts';
import type { ApplicationQuestion, EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc, EnrolmentHistoryEntry, MembershipDoc, SeatDoc } from '../models/enrolment.model.ts';
import type { PersonDoc } from '../models/person.model.ts';
import { createMemberships } from './memberships.ts';
import type { EnrolmentNotices } from './notices.ts';

export interface EnrolmentModels {
  Edition: Model<EditionDoc>;
  Enrolment: Model<EnrolmentDoc>;
  Seat: Model<SeatDoc>;
  Person: Model<PersonDoc>;
  Membership: Model<MembershipDoc>;
}

type Emit = <P>(event: EventRef<P>, payload: P) => Promise<void>;

export interface EnrolmentServiceDeps {
  emit: Emit;
  logger: Logger;
  /** The courses plugin's progress service, to carry progress over when someone is moved. */
  progress: () => ProgressService;
  /** The host's accounts: staff may add people by e-mail who already have an account. */
  users: () => UsersService;
  /** E-mail to the people concerned; absent where nobody is told (the demo data, tests of the rules alone). */
  notices?: EnrolmentNotices | undefined;
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export const toEditionSummary = (d: EditionDoc): EditionSummary => ({
  id: d._id.toString(),
  courseId: d.courseId,
  title: d.title,
  selfPaced: d.selfPaced,
  startsAt: d.startsAt ?? undefined,
  endsAt: d.endsAt ?? undefined,
  enrolmentDeadline: d.enrolmentDeadline ?? undefined,
  place: d.place,
  online: d.online,
  capacity: d.capacity ?? null,
  language: d.language,
  method: d.method,
  trainerIds: [...d.trainerIds],
  status: d.status,
});

export const toEnrolmentSummary = (d: EnrolmentDoc): EnrolmentSummary => ({
  id: d._id.toString(),
  editionId: d.editionId,
  courseId: d.courseId,
  email: d.email,
  userId: d.userId ?? undefined,
  status: d.status,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

/** Why a person can or cannot enrol in an edition by themselves right now. */
export type EnrolmentWindow = { open: true } | { open: false; reason: 'notPublished' | 'closed' | 'invitationOnly' | 'deadlinePassed' | 'ended' };

export function enrolmentWindow(edition: Pick<EditionDoc, 'status' | 'method' | 'enrolmentDeadline' | 'endsAt' | 'selfPaced'>, now = new Date()): EnrolmentWindow {
  if (edition.status !== 'published') return { open: false, reason: 'notPublished' };
  if (edition.method === 'closed') return { open: false, reason: 'closed' };
  if (edition.method === 'invitation') return { open: false, reason: 'invitationOnly' };
  if (edition.enrolmentDeadline && now > edition.enrolmentDeadline) return { open: false, reason: 'deadlinePassed' };
  if (!edition.selfPaced && edition.endsAt && now > edition.endsAt) return { open: false, reason: 'ended' };
  return { open: true };
}

/** Compares an enrolment key without leaking its length or content through timing. */
function sameKey(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given.trim()).digest();
  const b = crypto.createHash('sha256').update(expected.trim()).digest();
  return crypto.timingSafeEqual(a, b);
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

export interface EditionInput {
  courseId: string;
  title: string;
  description: string;
  selfPaced: boolean;
  startsAt?: Date | undefined;
  endsAt?: Date | undefined;
  enrolmentDeadline?: Date | undefined;
  place: string;
  online: boolean;
  capacity: number | null;
  language: string;
  method: EditionDoc['method'];
  enrolmentKey?: string | undefined;
  questions: ApplicationQuestion[];
  trainerIds: string[];
  status: EditionDoc['status'];
}

/** Who acted: a staff member (their id), or the person themselves / the system (undefined). */
type Actor = string | undefined;

export function createEnrolmentService(models: EnrolmentModels, deps: EnrolmentServiceDeps) {
  const { Edition, Enrolment, Seat, Person } = models;
  const { emit, logger, notices } = deps;
  const memberships = createMemberships(models.Membership, Enrolment);
  /** Every writer of editions goes through `editionCache.changing` (see publishedEditions). */
  const editionCache = stampedCache(Edition.db, 'enrolment.editions', { logger });

  /**
   * The published editions, soonest first (then by id): every learner's home page lists those open
   * for enrolment, and FerretDB answers this query by decoding every edition. Kept per instance
   * until an edition changes on any instance. Shared: callers must not modify what they get.
   */
  function publishedEditions(): Promise<EditionDoc[]> {
    return editionCache.get('published', async () => Edition.find({ status: 'published' }).sort({ startsAt: 1, _id: 1 }).lean<EditionDoc[]>());
  }

  /**
   * Every edition of a course, whatever its status (newest start first): the course's enrolment
   * page and the access decision for people not enrolled read them. Kept like `publishedEditions`.
   */
  function editionsOfCourse(courseId: string): Promise<EditionDoc[]> {
    return editionCache.get(`course:${courseId}`, async () => Edition.find({ courseId }).sort({ startsAt: -1, _id: 1 }).lean<EditionDoc[]>());
  }

  /** Runs a write of editions (create, update, trainers), then has every instance read them again. */
  function changingEditions<R>(write: () => PromiseLike<R>): Promise<R> {
    return editionCache.changing(write);
  }

  const oid = (id: string, what: string) => {
    if (!mongoose.isValidObjectId(id) || !/^[0-9a-f]{24}$/i.test(id)) throw notFound(`No such ${what}.`);
    return new mongoose.Types.ObjectId(id);
  };

  async function requireEdition(id: string): Promise<EditionDoc> {
    const doc = await Edition.findById(oid(id, 'edition')).lean();
    if (!doc) throw notFound('No such edition.');
    return doc;
  }

  /**
   * Editions by id, in one query; on a page, each read once for all its parts (the home page's
   * panels and the access decision all want the learner's editions).
   */
  function editionsById(ids: readonly string[]): Promise<Map<string, EditionDoc>> {
    return readEachOncePerPage('enrolment.edition', ids.filter((id) => /^[0-9a-f]{24}$/i.test(id)), async (missing) =>
      new Map((await findByKeys(Edition, missing.map((id) => new mongoose.Types.ObjectId(id)))).map((e) => [e._id.toString(), e])));
  }

  async function requireEnrolment(id: string): Promise<EnrolmentDoc> {
    const doc = await Enrolment.findById(oid(id, 'enrolment')).lean();
    if (!doc) throw notFound('No such enrolment.');
    return doc;
  }

  const eventOf = (e: EnrolmentDoc, status: EnrolmentStatus, byUserId?: string, message?: string): EnrolmentEvent => ({
    enrolmentId: e._id.toString(), editionId: e.editionId, courseId: e.courseId, email: e.email, userId: e.userId ?? undefined,
    status, byUserId, message,
  });

  const historyEntry = (status: EnrolmentStatus, action: string, by: Actor, message?: string): EnrolmentHistoryEntry => ({
    at: new Date(), status, action, ...(by ? { byUserId: by } : {}), ...(message ? { message } : {}),
  });

  // ---- Seats ----------------------------------------------------------------------------------------

  /**
   * Claims a free seat of the edition for this enrolment. `held`: the enrolment holds a seat (no
   * limit, claimed now, or already held); `seatId` is set only when *this call* inserted the seat,
   * and only such a seat may be given back when what follows fails (never one another request
   * claimed for the same person). Free seats are tried in random order so that concurrent claimants
   * rarely collide; a collision is a duplicate key and simply moves on to the next seat.
   */
  async function claimSeat(edition: Pick<EditionDoc, '_id' | 'capacity'>, enrolmentId: string): Promise<{ held: boolean; seatId?: string }> {
    if (edition.capacity == null) return { held: true };
    const editionId = edition._id.toString();
    for (let round = 0; round < 3; round++) {
      const taken = await Seat.find({ editionId }, { seat: 1, enrolmentId: 1 }).lean();
      if (taken.some((s) => s.enrolmentId === enrolmentId)) return { held: true };
      const used = new Set(taken.map((s) => s.seat));
      const free: number[] = [];
      for (let n = 1; n <= edition.capacity; n++) if (!used.has(n)) free.push(n);
      if (!free.length) return { held: false };
      for (const n of shuffle(free)) {
        const seatId = `${editionId}:${n}`;
        try {
          await Seat.create({ _id: seatId, editionId, seat: n, enrolmentId, claimedAt: new Date() });
          return { held: true, seatId };
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          // Either someone took this seat, or this enrolment got one meanwhile (a concurrent promotion).
          if (await Seat.exists({ enrolmentId })) return { held: true };
        }
      }
    }
    return { held: false };
  }

  /** Gives back the seat this call claimed (and only that one). */
  async function giveBack(claim: { seatId?: string }, enrolmentId: string): Promise<void> {
    if (claim.seatId) await Seat.deleteOne({ _id: claim.seatId, enrolmentId });
  }

  async function releaseSeat(enrolmentId: string): Promise<boolean> {
    const { deletedCount } = await Seat.deleteMany({ enrolmentId });
    return deletedCount > 0;
  }

  /** A waiting person got a seat: the event, and the person is told. */
  async function announcePromotion(w: EnrolmentDoc): Promise<void> {
    await emit(EnrolmentPromoted, eventOf(w, 'enrolled'));
    await notices?.promoted(w);
  }

  const promote = (id: mongoose.Types.ObjectId | string) => Enrolment.updateOne(
    { _id: id, status: 'waitlisted' },
    { $set: { status: 'enrolled' }, $unset: { waitlistedAt: 1 }, $push: { history: historyEntry('enrolled', 'promoted', undefined) } },
  );

  /**
   * Brings one enrolment's status and seat back in line after a race (FerretDB applies conditional
   * updates read-then-write, so two requests on one enrolment can both "succeed"): an enrolled
   * person without a seat gets one, or goes back to the waiting list when none is free; someone
   * no longer enrolled who still holds a seat gives it to the waiting list.
   */
  async function settle(enrolmentId: string): Promise<void> {
    const [enrolment, seat] = await Promise.all([Enrolment.findById(enrolmentId).lean(), Seat.exists({ enrolmentId })]);
    if (!enrolment) return;
    const edition = await Edition.findById(enrolment.editionId, { capacity: 1 }).lean();
    if (!edition || edition.capacity == null) return;
    if (enrolment.status === 'enrolled' && !seat) {
      if ((await claimSeat(edition, enrolmentId)).held) return;
      logger.warn({ enrolment: enrolmentId, edition: enrolment.editionId }, 'enrolled without a free seat after a race: back on the waiting list');
      await Enrolment.updateOne({ _id: enrolment._id, status: 'enrolled' }, { $set: { status: 'waitlisted', waitlistedAt: new Date() }, $push: { history: historyEntry('waitlisted', 'waitlisted', undefined) } });
    } else if (enrolment.status !== 'enrolled' && seat && enrolment.status !== 'waitlisted') {
      await releaseSeat(enrolmentId);
      await promoteWaiting(enrolment.editionId);
    }
  }

  /**
   * Fills free seats from the waiting list, first come first served. Safe to call at any time and
   * concurrently: each seat is won by one insert, and only the promoter that won it announces the
   * promotion; a person who left the list meanwhile gives the seat straight back.
   */
  async function promoteWaiting(editionId: string): Promise<number> {
    const edition = await Edition.findById(editionId).lean();
    if (!edition || edition.capacity == null || edition.status === 'cancelled') return 0;
    let promoted = 0;
    for (;;) {
      const waiting = await Enrolment.find({ editionId, status: 'waitlisted' }).sort({ waitlistedAt: 1, _id: 1 }).limit(20).lean();
      if (!waiting.length) return promoted;
      let progressed = false;
      for (const w of waiting) {
        const id = w._id.toString();
        const claim = await claimSeat(edition, id);
        if (!claim.held) return promoted;
        if (!claim.seatId) continue; // someone else is promoting this person right now
        progressed = true;
        const res = await promote(w._id);
        if (res.modifiedCount === 0) {
          // They withdrew meanwhile: give back what we claimed.
          const now = await Enrolment.findById(w._id, { status: 1 }).lean();
          if (now?.status !== 'enrolled') await giveBack(claim, id);
          continue;
        }
        promoted++;
        await announcePromotion(w);
        await settle(id);
      }
      if (!progressed) return promoted;
    }
  }

  /**
   * Puts an edition's seats right after a crash between two writes or a race: seats held by nobody
   * enrolled are given back, people holding a seat while listed as waiting are marked enrolled,
   * enrolled people without a seat get one (or go back to the waiting list), then free seats go to
   * the waiting list. Run when staff open an edition and at start.
   */
  async function repairSeats(editionId: string): Promise<void> {
    const edition = await Edition.findById(editionId, { capacity: 1 }).lean();
    if (!edition || edition.capacity == null) return;
    const [seats, enrolled] = await Promise.all([
      Seat.find({ editionId }).lean(),
      Enrolment.find({ editionId, status: 'enrolled' }, { _id: 1 }).sort({ createdAt: 1 }).lean(),
    ]);
    const ids = seats.map((s) => s.enrolmentId).filter((id) => /^[0-9a-f]{24}$/i.test(id));
    const enrolments = await Enrolment.find({ _id: mongoose.trusted({ $in: ids }) }, { status: 1 }).lean();
    const status = new Map(enrolments.map((e) => [e._id.toString(), e.status]));
    const graceMs = 60_000; // a seat claimed a moment ago may belong to an enrolment being written
    for (const seat of seats) {
      const s = status.get(seat.enrolmentId);
      if (s === 'enrolled') continue;
      if (s === 'waitlisted') {
        const res = await promote(seat.enrolmentId);
        const w = await Enrolment.findById(seat.enrolmentId).lean();
        if (res.modifiedCount && w) await announcePromotion(w);
        continue;
      }
      if (Date.now() - seat.claimedAt.getTime() < graceMs) continue;
      logger.warn({ edition: editionId, seat: seat.seat, enrolment: seat.enrolmentId }, 'seat held by no enrolled person: released');
      await Seat.deleteOne({ _id: seat._id });
    }
    const seated = new Set(seats.map((s) => s.enrolmentId));
    for (const e of enrolled) if (!seated.has(e._id.toString())) await settle(e._id.toString());
    await promoteWaiting(editionId);
  }

  async function seatsTaken(editionId: string): Promise<number> {
    return Seat.countDocuments({ editionId });
  }

  /** 1-based position on the waiting list, or null when not waiting. */
  async function waitlistPosition(enrolment: Pick<EnrolmentDoc, '_id' | 'editionId' | 'status' | 'waitlistedAt'>): Promise<number | null> {
    if (enrolment.status !== 'waitlisted') return null;
    const ahead = await Enrolment.find({ editionId: enrolment.editionId, status: 'waitlisted' }, { waitlistedAt: 1 }).sort({ waitlistedAt: 1, _id: 1 }).lean();
    const index = ahead.findIndex((e) => e._id.equals(enrolment._id));
    return index < 0 ? null : index + 1;
  }

  // ---- Placing a person --------------------------------------------------------------------------

  /**
   * Puts a person into an edition: a seat if one is free and nobody is waiting before them,
   * otherwise the waiting list. Re-activates a withdrawn enrolment; an existing active one is
   * returned as it is (idempotent). Returns the enrolment as stored; `placed` when this call put the
   * person in (created or re-activated the enrolment), so that what follows a placement (an
   * invitation) happens once however often the request is sent.
   */
  async function place(edition: EditionDoc, input: {
    email: string; userId?: string | undefined; source: string; by: Actor; action: string;
    motivation?: string | undefined; answers?: { questionId: string; answer: string }[] | undefined; message?: string | undefined;
    /** Applications wait for a decision instead of taking a seat. */
    pending?: boolean;
  }): Promise<{ enrolment: EnrolmentDoc; created: boolean; placed: boolean }> {
    const editionId = edition._id.toString();
    const email = normaliseEmail(input.email);
    const existing = (await memberships.enrolmentsOf({ email })).find((e) => e.editionId === editionId);
    if (existing && existing.status !== 'withdrawn') return { enrolment: existing, created: false, placed: false };

    const id = existing?._id ?? new mongoose.Types.ObjectId();
    // The person's lists point to the enrolment before it exists (see MembershipDoc): a crash in
    // between leaves an entry readers skip, never an enrolment its person cannot find.
    const pointer = { _id: id, editionId, courseId: edition.courseId };
    await memberships.add({ email }, pointer);
    if (input.userId) await memberships.add({ userId: input.userId }, pointer);
    let seated = false;
    let claim: { held: boolean; seatId?: string } = { held: false };
    if (!input.pending) {
      const someoneWaiting = edition.capacity != null && await Enrolment.exists({ editionId, status: 'waitlisted' });
      if (!someoneWaiting) claim = await claimSeat(edition, id.toString());
      seated = claim.held;
    }
    const status: EnrolmentStatus = input.pending ? 'pending' : seated ? 'enrolled' : 'waitlisted';
    const now = new Date();
    const fields = {
      status,
      source: input.source,
      ...(input.userId ? { userId: input.userId } : {}),
      ...(input.motivation !== undefined ? { motivation: input.motivation } : {}),
      ...(input.answers ? { answers: input.answers } : {}),
      ...(status === 'waitlisted' ? { waitlistedAt: now } : {}),
    };
    const entry = historyEntry(status, input.action, input.by, input.message);
    let doc: EnrolmentDoc | null;
    let created = false;
    if (existing) {
      doc = await Enrolment.findOneAndUpdate(
        { _id: id, status: 'withdrawn' },
        { $set: fields, $unset: { movedToEditionId: 1, decisionMessage: 1, ...(status === 'waitlisted' ? {} : { waitlistedAt: 1 }) }, $push: { history: entry } },
        { returnDocument: 'after' },
      ).lean();
      if (!doc) {
        // Re-activated concurrently by someone else: theirs stands, the seat we claimed goes back.
        await giveBack(claim, id.toString());
        await settle(id.toString());
        return { enrolment: await Enrolment.findById(id).lean() as EnrolmentDoc, created: false, placed: false };
      }
    } else {
      try {
        doc = (await Enrolment.create({ _id: id, editionId, courseId: edition.courseId, email, answers: [], history: [entry], ...fields })).toObject();
        created = true;
      } catch (err) {
        await giveBack(claim, id.toString());
        if (!isDuplicateKey(err)) throw err;
        // Enrolled concurrently (a double click, two tabs): the first one stands.
        return { enrolment: await Enrolment.findOne({ editionId, email }).lean() as EnrolmentDoc, created: false, placed: false };
      }
    }
    await emit(EnrolmentCreated, eventOf(doc, status, input.by));
    if (status === 'pending') await notices?.applied(doc);
    // Two re-activations of one withdrawn enrolment may both have written (FerretDB): line up seat and status.
    if (existing) await settle(id.toString());
    if (status === 'waitlisted') {
      await emit(EnrolmentWaitlisted, eventOf(doc, status, input.by));
      // A seat may be free with everyone before us already served: fill it in order.
      await promoteWaiting(editionId);
      doc = await Enrolment.findById(id).lean() as EnrolmentDoc;
    }
    return { enrolment: doc, created, placed: true };
  }

  // ---- What people do ------------------------------------------------------------------------------

  /** Self-enrolment in an open edition, or with the edition's key. */
  async function selfEnrol(user: SessionUser, editionId: string, key?: string): Promise<EnrolmentDoc> {
    const edition = await requireEdition(editionId);
    const window = enrolmentWindow(edition);
    if (!window.open) throw new HttpError(409, 'ENROLMENT_CLOSED', `Enrolment in this edition is not open (${window.reason}).`, { reason: window.reason });
    if (edition.method === 'application') throw new HttpError(409, 'APPLICATION_REQUIRED', 'This edition takes applications: apply instead.');
    if (edition.method === 'key') {
      if (!key || !edition.enrolmentKey || !sameKey(key, edition.enrolmentKey)) throw new HttpError(403, 'WRONG_KEY', 'This enrolment key is not right.');
    }
    await linkAccount(user.id, user.email);
    const { enrolment } = await place(edition, {
      email: user.email, userId: user.id, source: edition.method === 'key' ? 'key' : 'self', by: undefined, action: 'enrolled',
    });
    return enrolment;
  }

  /** An application with its motivation and answers; it waits for staff. */
  async function apply(user: SessionUser, editionId: string, input: { motivation: string; answers: Record<string, string> }): Promise<EnrolmentDoc> {
    const edition = await requireEdition(editionId);
    const window = enrolmentWindow(edition);
    if (!window.open) throw new HttpError(409, 'ENROLMENT_CLOSED', `Applications for this edition are not open (${window.reason}).`, { reason: window.reason });
    if (edition.method !== 'application') throw new HttpError(409, 'NOT_BY_APPLICATION', 'This edition does not take applications.');
    const missing = edition.questions.filter((q) => q.required && !input.answers[q.id]?.trim());
    if (missing.length) {
      throw new HttpError(400, 'VALIDATION_FAILED', 'Answer every required question.', { fields: Object.fromEntries(missing.map((q) => [`answers.${q.id}`, 'Answer this question.'])) });
    }
    const answers = edition.questions.filter((q) => input.answers[q.id]?.trim()).map((q) => ({ questionId: q.id, answer: input.answers[q.id]!.trim() }));
    await linkAccount(user.id, user.email);
    const { enrolment, created } = await place(edition, {
      email: user.email, userId: user.id, source: 'application', by: undefined, action: 'applied', pending: true,
      motivation: input.motivation.trim(), answers,
    });
    if (!created && enrolment.status !== 'pending' && enrolment.history.at(-1)?.action !== 'applied') {
      throw conflict('You already have a place or an application in this edition.');
    }
    return enrolment;
  }

  /**
   * Staff add a person by e-mail (invitation, bulk import): enrolled, or waitlisted if the
   * edition is full. The person may have no account yet: they are matched at their first sign-in.
   */
  async function addByStaff(editionId: string, input: { email: string; source: 'staff' | 'import'; message?: string }, by: string): Promise<{ enrolment: EnrolmentDoc; created: boolean; placed: boolean }> {
    const edition = await requireEdition(editionId);
    if (edition.status === 'cancelled' || edition.status === 'archived') throw new HttpError(409, 'EDITION_CLOSED', 'This edition is cancelled or archived: nobody can be added.');
    const email = normaliseEmail(input.email);
    const person = await Person.findById(email, { userId: 1 }).lean();
    const userId = person?.userId ?? (await deps.users().findByEmail(email))?.id;
    return place(edition, { email, userId, source: input.source, by, action: input.source === 'import' ? 'imported' : 'invited', message: input.message });
  }

  /** Staff decide on an application (or on anyone waiting): accept, reject or put on the waiting list. */
  async function decide(enrolmentId: string, decision: 'accept' | 'reject' | 'waitlist', message: string | undefined, by: string): Promise<EnrolmentDoc> {
    const enrolment = await requireEnrolment(enrolmentId);
    const edition = await requireEdition(enrolment.editionId);
    const allowedFrom: Record<typeof decision, EnrolmentStatus[]> = {
      accept: ['pending', 'waitlisted'],
      reject: ['pending', 'waitlisted', 'enrolled'],
      waitlist: ['pending'],
    };
    if (!allowedFrom[decision].includes(enrolment.status)) {
      throw new HttpError(409, 'WRONG_STATUS', `This person is ${enrolment.status}: they cannot be ${decision === 'accept' ? 'accepted' : decision === 'reject' ? 'rejected' : 'waitlisted'} now.`);
    }
    const id = enrolment._id.toString();
    const setStatus = async (status: EnrolmentStatus, action: string, extra: Record<string, unknown> = {}) => {
      const doc = await Enrolment.findOneAndUpdate(
        { _id: enrolment._id, status: enrolment.status },
        { $set: { status, decisionMessage: message ?? '', ...extra }, ...(status === 'waitlisted' ? {} : { $unset: { waitlistedAt: 1 } }), $push: { history: historyEntry(status, action, by, message) } },
        { returnDocument: 'after' },
      ).lean();
      if (!doc) throw conflict('Someone changed this enrolment meanwhile: reload the page.');
      return doc;
    };

    if (decision === 'reject') {
      const doc = await setStatus('rejected', 'rejected');
      if (await releaseSeat(id)) await promoteWaiting(enrolment.editionId);
      await emit(EnrolmentRejected, eventOf(doc, 'rejected', by, message));
      await notices?.decided(doc, 'rejected', message);
      return doc;
    }
    if (decision === 'waitlist') {
      const doc = await setStatus('waitlisted', 'waitlisted', { waitlistedAt: new Date() });
      await emit(EnrolmentWaitlisted, eventOf(doc, 'waitlisted', by, message));
      // Seats may be free: the waiting list (this person included) moves up at once.
      await promoteWaiting(enrolment.editionId);
      const after = (await Enrolment.findById(enrolment._id).lean()) ?? doc;
      // Promoted at once: their message is the seat, not the waiting list they left a moment ago.
      if (after.status === 'waitlisted') await notices?.decided(after, 'waitlisted', message);
      return after;
    }
    // Accept: a seat if one is free, otherwise the waiting list (in the order of acceptance).
    if (edition.status === 'cancelled' || edition.status === 'archived') throw new HttpError(409, 'EDITION_CLOSED', 'This edition is cancelled or archived.');
    const claim = await claimSeat(edition, id);
    const seated = claim.held;
    if (!seated && enrolment.status === 'waitlisted') throw new HttpError(409, 'EDITION_FULL', 'The edition is full: this person stays on the waiting list until a seat frees.');
    let doc: EnrolmentDoc;
    try {
      doc = await setStatus(seated ? 'enrolled' : 'waitlisted', 'accepted', seated ? {} : { waitlistedAt: new Date() });
    } catch (err) {
      await giveBack(claim, id);
      throw err;
    }
    await emit(EnrolmentApproved, eventOf(doc, doc.status, by, message));
    if (!seated) await emit(EnrolmentWaitlisted, eventOf(doc, 'waitlisted', by, message));
    await notices?.decided(doc, 'accepted', message);
    // A withdrawal racing this decision may have taken the seat back: line them up again.
    await settle(id);
    return (await Enrolment.findById(enrolment._id).lean()) ?? doc;
  }

  /** The person leaves (themselves, or staff withdraw them); their seat goes to the waiting list. */
  async function withdraw(enrolmentId: string, by: Actor, message?: string, extra: Record<string, unknown> = {}): Promise<EnrolmentDoc> {
    const enrolment = await requireEnrolment(enrolmentId);
    if (enrolment.status === 'withdrawn' || enrolment.status === 'rejected') {
      throw new HttpError(409, 'WRONG_STATUS', `This enrolment is already ${enrolment.status}.`);
    }
    const doc = await Enrolment.findOneAndUpdate(
      { _id: enrolment._id, status: enrolment.status },
      { $set: { status: 'withdrawn', ...extra }, $unset: { waitlistedAt: 1 }, $push: { history: historyEntry('withdrawn', extra.movedToEditionId ? 'moved' : 'withdrawn', by, message) } },
      { returnDocument: 'after' },
    ).lean();
    if (!doc) throw conflict('Someone changed this enrolment meanwhile: reload the page.');
    await releaseSeat(enrolmentId);
    await emit(EnrolmentWithdrawn, eventOf(doc, 'withdrawn', by, message));
    // A decision racing this withdrawal may have claimed a seat meanwhile: give it back too.
    await settle(enrolmentId);
    await promoteWaiting(enrolment.editionId);
    return doc;
  }

  /**
   * Staff move a person to another edition of the same course: placed there (seat or waiting list),
   * withdrawn here, and their progress carried over so nothing they did is lost.
   */
  async function move(enrolmentId: string, toEditionId: string, by: string): Promise<EnrolmentDoc> {
    const from = await requireEnrolment(enrolmentId);
    const target = await requireEdition(toEditionId);
    if (target._id.toString() === from.editionId) throw badRequest('Choose another edition than the current one.');
    if (target.courseId !== from.courseId) throw badRequest('People can only be moved to an edition of the same course.');
    if (target.status === 'cancelled' || target.status === 'archived') throw new HttpError(409, 'EDITION_CLOSED', 'The chosen edition is cancelled or archived.');
    if (from.status === 'withdrawn' || from.status === 'rejected') throw new HttpError(409, 'WRONG_STATUS', `This enrolment is ${from.status}: there is nobody to move.`);
    if (from.status === 'pending') throw new HttpError(409, 'WRONG_STATUS', 'This application has not been decided yet: accept it before moving the person.');
    const { enrolment: moved } = await place(target, {
      email: from.email, userId: from.userId, source: 'moved', by, action: 'moved-in', motivation: from.motivation, answers: from.answers,
    });
    if (moved.status === 'pending' || moved.status === 'rejected') throw conflict('This person already has an application in the chosen edition: decide on it there.');
    if (from.userId) await deps.progress().carryOver(from.userId, from.courseId, from.editionId, target._id.toString());
    await withdraw(enrolmentId, by, undefined, { movedToEditionId: target._id.toString() });
    await emit(EnrolmentMoved, { ...eventOf(moved, moved.status, by), fromEditionId: from.editionId, fromEnrolmentId: enrolmentId });
    await notices?.moved(from, moved);
    return moved;
  }

  /**
   * Matches pre-enrolments (made by e-mail before the person had an account) to the account.
   * Called when an account is created and at every sign-in, so it also heals a missed event.
   */
  async function linkAccount(userId: string, email: string): Promise<number> {
    const normalised = normaliseEmail(email);
    // By key, not by a query on `email` (see MembershipDoc): this runs at every sign-in.
    const [unlinked, person] = await Promise.all([
      memberships.enrolmentsOf({ email: normalised }).then((list) => list.filter((e) => !e.userId)),
      Person.findById(normalised, { userId: 1 }).lean(),
    ]);
    for (const e of unlinked) {
      await memberships.add({ userId }, e);
      // Only ever set once, always to the account of this address: two sign-ins at once write the same value.
      await Enrolment.updateOne({ _id: e._id }, { $set: { userId } });
    }
    if (person && !person.userId) await Person.updateOne({ _id: normalised }, { $set: { userId } });
    if (unlinked.length) logger.info({ user: userId, enrolments: unlinked.length }, 'pre-enrolments matched to the account');
    return unlinked.length;
  }

  // ---- Editions -------------------------------------------------------------------------------------

  async function createEdition(input: EditionInput, by: string): Promise<EditionDoc> {
    const doc = await changingEditions(() => Edition.create({ ...input, createdBy: by }));
    return doc.toObject();
  }

  async function updateEdition(id: string, input: EditionInput): Promise<EditionDoc> {
    const before = await requireEdition(id);
    if (input.courseId !== before.courseId && await Enrolment.exists({ editionId: id })) {
      throw conflict('People are enrolled in this edition: it cannot move to another course.');
    }
    if (input.capacity != null) {
      const enrolled = await Enrolment.countDocuments({ editionId: id, status: 'enrolled' });
      if (enrolled > input.capacity) {
        throw new HttpError(400, 'VALIDATION_FAILED', 'Some fields need attention.', { fields: { capacity: `${enrolled} people are enrolled: the edition needs at least ${enrolled} seats (withdraw people first to have fewer).` } });
      }
    }
    const unset = Object.fromEntries(['startsAt', 'endsAt', 'enrolmentDeadline', 'enrolmentKey'].filter((k) => input[k as keyof EditionInput] === undefined).map((k) => [k, 1]));
    const set = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const doc = await changingEditions(async () => {
      const updated = await Edition.findByIdAndUpdate(id, { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}) }, { returnDocument: 'after', runValidators: true }).lean();
      if (!updated) throw notFound('No such edition.');
      return updated;
    });
    if (doc.capacity == null) {
      // No limit any more: everyone waiting is in.
      for (const w of await Enrolment.find({ editionId: id, status: 'waitlisted' }).sort({ waitlistedAt: 1 }).lean()) {
        if ((await promote(w._id)).modifiedCount) await announcePromotion(w);
      }
    } else if (before.capacity == null) {
      // A limit where there was none: the people already enrolled take the first seats.
      await repairSeats(id);
    } else if (doc.capacity > before.capacity) {
      // More seats: the waiting list moves up at once.
      await promoteWaiting(id);
    }
    return doc;
  }

  const directory: EnrolmentDirectoryService = {
    async edition(id) {
      if (!/^[0-9a-f]{24}$/i.test(id)) return null;
      const d = await Edition.findById(id).lean();
      return d ? toEditionSummary(d) : null;
    },
    async enrolment(id) {
      if (!/^[0-9a-f]{24}$/i.test(id)) return null;
      const d = await Enrolment.findById(id).lean();
      return d ? toEnrolmentSummary(d) : null;
    },
    async editionsOfCourse(courseId) {
      return (await Edition.find({ courseId }).sort({ startsAt: 1, _id: 1 }).lean()).map(toEditionSummary);
    },
    async enrolmentOf(userId, editionId) {
      const d = (await memberships.enrolmentsOf({ userId })).find((e) => e.editionId === editionId);
      return d ? toEnrolmentSummary(d) : null;
    },
    async enrolmentsOf(editionId, statuses) {
      const filter: Record<string, unknown> = { editionId };
      if (statuses?.length) filter.status = mongoose.trusted({ $in: statuses });
      return (await Enrolment.find(filter).sort({ createdAt: 1 }).lean()).map(toEnrolmentSummary);
    },
  };

  /** Who may manage an edition: programme staff and admins. Its trainers may see its roster. */
  function canSeeRoster(user: SessionUser, edition: Pick<EditionDoc, 'trainerIds'>): boolean {
    return user.roles.includes('admin') || user.roles.includes('staff') || (user.roles.includes('trainer') && edition.trainerIds.includes(user.id));
  }

  function requireRosterAccess(user: SessionUser, edition: Pick<EditionDoc, 'trainerIds'>): void {
    if (!canSeeRoster(user, edition)) throw forbidden('Only programme staff and the edition’s trainers can see its participants.');
  }

  return {
    models, directory, memberships,
    requireEdition, editionsById, publishedEditions, editionsOfCourse, changingEditions, requireEnrolment, createEdition, updateEdition,
    selfEnrol, apply, addByStaff, decide, withdraw, move, linkAccount,
    claimSeat, promoteWaiting, repairSeats, seatsTaken, waitlistPosition,
    canSeeRoster, requireRosterAccess,
  };
}

export type EnrolmentService = ReturnType<typeof createEnrolmentService>;
