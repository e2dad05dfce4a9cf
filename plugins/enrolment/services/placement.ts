/**
 * Putting people into editions and out of them: self-enrolment (open or with a key), applications
 * and staff's decisions, staff adding people (by hand or by import), withdrawal, moves between
 * editions, and matching pre-enrolments to an account. One enrolment per person and edition holds
 * through a unique (editionId, email) index; FerretDB applies conditional updates read-then-write,
 * so every step that races another ends by settling the enrolment's seat (`seats.settle`).
 */
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { badRequest, conflict, invalidFields, isDuplicateKey, notFound, type SessionUser } from '../../../src/index.ts';
import {
  EnrolmentApproved,
  EnrolmentCreated,
  EnrolmentMoved,
  EnrolmentRejected,
  EnrolmentWaitlisted,
  EnrolmentWithdrawn,
  type EnrolmentStatus,
} from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import { enrolmentWindow, type Editions } from './editions.ts';
import type { createMemberships } from './memberships.ts';
import { normaliseEmail } from './profile.ts';
import { closedEdition, eventOf, historyEntry, objectIdOr404, refusal, type Actor, type EnrolmentModels, type EnrolmentServiceDeps } from './records.ts';
import type { Seats } from './seats.ts';

/** Compares an enrolment key without leaking its length or content through timing. */
/** Someone else's change came first. */
const changedMeanwhile = () => conflict('Someone changed this enrolment meanwhile: reload the page.', undefined, { key: 'enrolment:errors.changedMeanwhile' });

function sameKey(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given.trim()).digest();
  const b = crypto.createHash('sha256').update(expected.trim()).digest();
  return crypto.timingSafeEqual(a, b);
}

export function createPlacement(
  models: Pick<EnrolmentModels, 'Enrolment' | 'Person'>,
  deps: EnrolmentServiceDeps,
  parts: { editions: Editions; seats: Seats; memberships: ReturnType<typeof createMemberships> },
) {
  const { Enrolment, Person } = models;
  const { emit, logger, notices } = deps;
  const { memberships } = parts;
  const { requireEdition } = parts.editions;
  const { claimSeat, giveBack, releaseSeat, settle, promoteWaiting } = parts.seats;

  async function requireEnrolment(id: string): Promise<EnrolmentDoc> {
    const doc = await Enrolment.findById(objectIdOr404(id, 'enrolment')).lean();
    if (!doc) throw notFound('No such enrolment.', { key: 'enrolment:errors.noSuchEnrolment' });
    return doc;
  }

  // ---- Placing a person --------------------------------------------------------------------------

  /**
   * Puts a person into an edition: a seat if one is free and nobody is waiting before them,
   * otherwise the waiting list. Re-activates a withdrawn enrolment; an existing active one is
   * returned as it is (idempotent). Returns the enrolment as stored; `placed` when this call put the
   * person in (created or re-activated the enrolment), so that what follows a placement (an
   * invitation) happens once however often the request is sent.
   */
  async function place(
    edition: EditionDoc,
    input: {
      email: string;
      userId?: string | undefined;
      source: string;
      by: Actor;
      action: string;
      motivation?: string | undefined;
      answers?: { questionId: string; answer: string }[] | undefined;
      message?: string | undefined;
      /** Applications wait for a decision instead of taking a seat. */
      pending?: boolean;
    },
  ): Promise<{ enrolment: EnrolmentDoc; created: boolean; placed: boolean }> {
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
      const someoneWaiting = edition.capacity != null && (await Enrolment.exists({ editionId, status: 'waitlisted' }));
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
        {
          $set: fields,
          $unset: { movedToEditionId: 1, decisionMessage: 1, ...(status === 'waitlisted' ? {} : { waitlistedAt: 1 }) },
          $push: { history: entry },
        },
        { returnDocument: 'after' },
      ).lean();
      if (!doc) {
        // Re-activated concurrently by someone else: theirs stands, the seat we claimed goes back.
        await giveBack(claim, id.toString());
        await settle(id.toString());
        return { enrolment: (await Enrolment.findById(id).lean()) as EnrolmentDoc, created: false, placed: false };
      }
    } else {
      try {
        doc = (await Enrolment.create({ _id: id, editionId, courseId: edition.courseId, email, answers: [], history: [entry], ...fields })).toObject();
        created = true;
      } catch (err) {
        await giveBack(claim, id.toString());
        if (!isDuplicateKey(err)) throw err;
        // Enrolled concurrently (a double click, two tabs): the first one stands.
        return { enrolment: (await Enrolment.findOne({ editionId, email }).lean()) as EnrolmentDoc, created: false, placed: false };
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
      doc = (await Enrolment.findById(id).lean()) as EnrolmentDoc;
    }
    return { enrolment: doc, created, placed: true };
  }

  // ---- What people do ------------------------------------------------------------------------------

  /** Self-enrolment in an open edition, or with the edition's key. */
  async function selfEnrol(user: SessionUser, editionId: string, key?: string): Promise<EnrolmentDoc> {
    const edition = await requireEdition(editionId);
    const window = enrolmentWindow(edition);
    if (!window.open)
      throw refusal(409, 'ENROLMENT_CLOSED', `Enrolment in this edition is not open (${window.reason}).`, `enrolment:window.${window.reason}`, undefined, {
        reason: window.reason,
      });
    if (edition.method === 'application')
      throw refusal(409, 'APPLICATION_REQUIRED', 'This edition takes applications: apply instead.', 'enrolment:errors.applicationRequired');
    if (edition.method === 'key') {
      if (!key || !edition.enrolmentKey || !sameKey(key, edition.enrolmentKey))
        throw refusal(403, 'WRONG_KEY', 'This enrolment key is not right.', 'enrolment:errors.wrongKey');
    }
    await linkAccount(user.id, user.email);
    const { enrolment } = await place(edition, {
      email: user.email,
      userId: user.id,
      source: edition.method === 'key' ? 'key' : 'self',
      by: undefined,
      action: 'enrolled',
    });
    return enrolment;
  }

  /** An application with its motivation and answers; it waits for staff. */
  async function apply(user: SessionUser, editionId: string, input: { motivation: string; answers: Record<string, string> }): Promise<EnrolmentDoc> {
    const edition = await requireEdition(editionId);
    const window = enrolmentWindow(edition);
    if (!window.open)
      throw refusal(409, 'ENROLMENT_CLOSED', `Applications for this edition are not open (${window.reason}).`, `enrolment:window.${window.reason}`, undefined, {
        reason: window.reason,
      });
    if (edition.method !== 'application')
      throw refusal(409, 'NOT_BY_APPLICATION', 'This edition does not take applications.', 'enrolment:errors.notByApplication');
    const missing = edition.questions.filter((q) => q.required && !input.answers[q.id]?.trim());
    if (missing.length) {
      throw invalidFields(
        Object.fromEntries(missing.map((q) => [`answers.${q.id}`, { key: 'enrolment:apply.answerRequired' }])),
        'Answer every required question.',
        { key: 'enrolment:errors.answerEvery' },
      );
    }
    const answers = edition.questions.filter((q) => input.answers[q.id]?.trim()).map((q) => ({ questionId: q.id, answer: input.answers[q.id]!.trim() }));
    await linkAccount(user.id, user.email);
    const { enrolment, created } = await place(edition, {
      email: user.email,
      userId: user.id,
      source: 'application',
      by: undefined,
      action: 'applied',
      pending: true,
      motivation: input.motivation.trim(),
      answers,
    });
    if (!created && enrolment.status !== 'pending' && enrolment.history.at(-1)?.action !== 'applied') {
      throw conflict('You already have a place or an application in this edition.', undefined, { key: 'enrolment:errors.alreadyPlaced' });
    }
    return enrolment;
  }

  /**
   * Staff add a person by e-mail (invitation, bulk import): enrolled, or waitlisted if the
   * edition is full. The person may have no account yet: they are matched at their first sign-in.
   */
  async function addByStaff(
    editionId: string,
    input: { email: string; source: 'staff' | 'import'; message?: string },
    by: string,
  ): Promise<{ enrolment: EnrolmentDoc; created: boolean; placed: boolean }> {
    const edition = await requireEdition(editionId);
    if (edition.status === 'cancelled' || edition.status === 'archived') throw closedEdition();
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
      throw refusal(
        409,
        'WRONG_STATUS',
        `This person is ${enrolment.status}: they cannot be ${decision === 'accept' ? 'accepted' : decision === 'reject' ? 'rejected' : 'waitlisted'} now.`,
        `enrolment:errors.cannotDecide.${decision}.${enrolment.status}`,
      );
    }
    const id = enrolment._id.toString();
    const setStatus = async (status: EnrolmentStatus, action: string, extra: Record<string, unknown> = {}) => {
      const doc = await Enrolment.findOneAndUpdate(
        { _id: enrolment._id, status: enrolment.status },
        {
          $set: { status, decisionMessage: message ?? '', ...extra },
          ...(status === 'waitlisted' ? {} : { $unset: { waitlistedAt: 1 } }),
          $push: { history: historyEntry(status, action, by, message) },
        },
        { returnDocument: 'after' },
      ).lean();
      if (!doc) throw changedMeanwhile();
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
    if (edition.status === 'cancelled' || edition.status === 'archived')
      throw refusal(409, 'EDITION_CLOSED', 'This edition is cancelled or archived.', 'enrolment:errors.editionClosed');
    const claim = await claimSeat(edition, id);
    const seated = claim.held;
    if (!seated && enrolment.status === 'waitlisted')
      throw refusal(409, 'EDITION_FULL', 'The edition is full: this person stays on the waiting list until a seat frees.', 'enrolment:errors.editionFull');
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
      throw refusal(409, 'WRONG_STATUS', `This enrolment is already ${enrolment.status}.`, `enrolment:errors.already.${enrolment.status}`);
    }
    const doc = await Enrolment.findOneAndUpdate(
      { _id: enrolment._id, status: enrolment.status },
      {
        $set: { status: 'withdrawn', ...extra },
        $unset: { waitlistedAt: 1 },
        $push: { history: historyEntry('withdrawn', extra.movedToEditionId ? 'moved' : 'withdrawn', by, message) },
      },
      { returnDocument: 'after' },
    ).lean();
    if (!doc) throw changedMeanwhile();
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
    if (target._id.toString() === from.editionId)
      throw badRequest('Choose another edition than the current one.', undefined, { key: 'enrolment:errors.move.sameEdition' });
    if (target.courseId !== from.courseId)
      throw badRequest('People can only be moved to an edition of the same course.', undefined, { key: 'enrolment:errors.move.otherCourse' });
    if (target.status === 'cancelled' || target.status === 'archived')
      throw refusal(409, 'EDITION_CLOSED', 'The chosen edition is cancelled or archived.', 'enrolment:errors.move.targetClosed');
    if (from.status === 'withdrawn' || from.status === 'rejected')
      throw refusal(409, 'WRONG_STATUS', `This enrolment is ${from.status}: there is nobody to move.`, `enrolment:errors.move.nobody.${from.status}`);
    if (from.status === 'pending')
      throw refusal(409, 'WRONG_STATUS', 'This application has not been decided yet: accept it before moving the person.', 'enrolment:errors.move.undecided');
    const { enrolment: moved } = await place(target, {
      email: from.email,
      userId: from.userId,
      source: 'moved',
      by,
      action: 'moved-in',
      motivation: from.motivation,
      answers: from.answers,
    });
    if (moved.status === 'pending' || moved.status === 'rejected')
      throw conflict('This person already has an application in the chosen edition: decide on it there.', undefined, {
        key: 'enrolment:errors.move.applicationThere',
      });
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

  return { requireEnrolment, selfEnrol, apply, addByStaff, decide, withdraw, move, linkAccount };
}
