/**
 * Seats and the waiting list. Never more enrolled people than seats: a seat is claimed by
 * inserting `<edition>:<n>` with n ≤ capacity (unique `_id`), and one enrolment holds at most one
 * seat (unique `enrolmentId`). The seat is claimed *before* the person is marked enrolled, so a
 * count of enrolled people never exceeds the seats held. Whoever frees a seat promotes the waiting
 * list in order right away; `promoteWaiting()` is also safe to call at any time (it only fills
 * free seats).
 */
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { isDuplicateKey, isObjectId } from '../../../src/index.ts';
import { EnrolmentPromoted } from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import { eventOf, historyEntry, type EnrolmentModels, type EnrolmentServiceDeps } from './records.ts';

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

export function createSeats(models: Pick<EnrolmentModels, 'Edition' | 'Enrolment' | 'Seat'>, deps: Pick<EnrolmentServiceDeps, 'emit' | 'logger' | 'notices'>) {
  const { Edition, Enrolment, Seat } = models;
  const { emit, logger, notices } = deps;

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

  const promote = (id: mongoose.Types.ObjectId | string) =>
    Enrolment.updateOne(
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
      await Enrolment.updateOne(
        { _id: enrolment._id, status: 'enrolled' },
        { $set: { status: 'waitlisted', waitlistedAt: new Date() }, $push: { history: historyEntry('waitlisted', 'waitlisted', undefined) } },
      );
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
    const ids = seats.map((s) => s.enrolmentId).filter(isObjectId);
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

  return { claimSeat, giveBack, releaseSeat, announcePromotion, promote, settle, promoteWaiting, repairSeats, seatsTaken, waitlistPosition };
}

export type Seats = ReturnType<typeof createSeats>;
