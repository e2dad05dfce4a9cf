/**
 * Editions, enrolments, seats and the waiting list: the heart of the enrolment plugin, composed of
 * its parts: `editions.ts` (editions and their cache), `seats.ts` (seats and the waiting list),
 * `placement.ts` (what people and staff do), `people.ts` (profiles), `overview.ts` (what staff
 * pages read), `directory.ts` (what other plugins read). Its collections stay inside it.
 *
 * The invariants hold with single-document writes and unique indexes only (docs/architecture.md,
 * data rules: FerretDB has no transactions and applies updates read-then-write): one enrolment per
 * person and edition (unique (editionId, email)); never more enrolled people than seats (see
 * `seats.ts`).
 */
import { forbidden, type SessionUser } from '../../../src/index.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import { runsEdition } from '../contract.ts';
import { createDirectory } from './directory.ts';
import { createEditions } from './editions.ts';
import { createMemberships } from './memberships.ts';
import { createOverview } from './overview.ts';
import { createPeople } from './people.ts';
import { createPlacement } from './placement.ts';
import type { EnrolmentModels, EnrolmentServiceDeps } from './records.ts';
import { createSeats } from './seats.ts';

export { enrolmentWindow, toEditionSummary, type EditionInput, type EnrolmentWindow } from './editions.ts';
export { toEnrolmentSummary } from './directory.ts';
export { normaliseEmail } from './profile.ts';
export type { EnrolmentModels, EnrolmentServiceDeps } from './records.ts';

export function createEnrolmentService(models: EnrolmentModels, deps: EnrolmentServiceDeps) {
  const memberships = createMemberships(models.Membership, models.Enrolment);
  const seats = createSeats(models, deps);
  const editions = createEditions(models, deps, seats);
  const placement = createPlacement(models, deps, { editions, seats, memberships });
  const directory = createDirectory(models, memberships, deps.users);
  const people = createPeople(models.Person);
  const overview = createOverview(models);

  /** An edition's roster is for those who run it (runsEdition): staff, admins and its own trainers. */
  function requireRosterAccess(user: SessionUser, edition: Pick<EditionDoc, 'trainerIds'>): void {
    if (!runsEdition(user, edition))
      throw forbidden('Only programme staff and the edition’s trainers can see its participants.', { key: 'enrolment:errors.rosterForbidden' });
  }

  const { claimSeat, promoteWaiting, repairSeats, seatsTaken, waitlistPosition } = seats;
  return {
    directory,
    memberships,
    ...editions,
    ...placement,
    ...people,
    ...overview,
    claimSeat,
    promoteWaiting,
    repairSeats,
    seatsTaken,
    waitlistPosition,
    requireRosterAccess,
  };
}

export type EnrolmentService = ReturnType<typeof createEnrolmentService>;
