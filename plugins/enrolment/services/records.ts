/**
 * What the parts of the enrolment service (editions, seats, placement, directory) share: the
 * plugin's collections, what the service is given, and how a change to an enrolment is recorded
 * (a history entry on the enrolment, an event for other plugins).
 */
import type { Model } from 'mongoose';
import type mongoose from 'mongoose';
import type { Logger } from 'pino';
import { HttpError, notFound, toObjectId, type EventRef, type ModelCache, type UsersService } from '../../../src/index.ts';
import type { ProgressService } from '../../courses/contract.ts';
import type { EnrolmentEvent, EnrolmentStatus } from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc, EnrolmentHistoryEntry, MembershipDoc, SeatDoc } from '../models/enrolment.model.ts';
import type { PersonDoc } from '../models/person.model.ts';
import type { EnrolmentNotices } from './notices.ts';

export interface EnrolmentModels {
  Edition: Model<EditionDoc>;
  Enrolment: Model<EnrolmentDoc>;
  Seat: Model<SeatDoc>;
  Person: Model<PersonDoc>;
  Membership: Model<MembershipDoc>;
}

export type Emit = <P>(event: EventRef<P>, payload: P) => Promise<void>;

export interface EnrolmentServiceDeps {
  emit: Emit;
  logger: Logger;
  /** The courses plugin's progress service, to carry progress over when someone is moved. */
  progress: () => ProgressService;
  /** The host's accounts: staff may add people by e-mail who already have an account. */
  users: () => UsersService;
  /** E-mail to the people concerned; absent where nobody is told (the demo data, tests of the rules alone). */
  notices?: EnrolmentNotices | undefined;
  /** What pages keep of the editions (the Edition model is a cached one: its writes renew it). */
  editionCache: ModelCache;
}

/** Who acted: a staff member (their id), or the person themselves / the system (undefined). */
export type Actor = string | undefined;

/** The ObjectId an id in a URL names; a malformed one is a 404 for the thing it was meant to be. */
export function objectIdOr404(id: string, what: 'edition' | 'enrolment'): mongoose.Types.ObjectId {
  const objectId = toObjectId(id);
  if (!objectId) throw notFound(`No such ${what}.`, { key: what === 'edition' ? 'enrolment:errors.noSuchEdition' : 'enrolment:errors.noSuchEnrolment' });
  return objectId;
}

/** A refusal in English (logs, JSON clients) that names its catalogue entry, for pages. */
export const refusal = (status: number, code: string, message: string, key: string, params?: Record<string, unknown>, details?: unknown) =>
  new HttpError(status, code, message, details, { key, ...(params ? { params } : {}) });

/** An edition that takes nobody: cancelled or archived. */
export const closedEdition = () =>
  refusal(409, 'EDITION_CLOSED', 'This edition is cancelled or archived: nobody can be added.', 'enrolment:errors.editionClosedNobody');

export const eventOf = (e: EnrolmentDoc, status: EnrolmentStatus, byUserId?: string, message?: string): EnrolmentEvent => ({
  enrolmentId: e._id.toString(),
  editionId: e.editionId,
  courseId: e.courseId,
  email: e.email,
  userId: e.userId ?? undefined,
  status,
  byUserId,
  message,
});

export const historyEntry = (status: EnrolmentStatus, action: string, by: Actor, message?: string): EnrolmentHistoryEntry => ({
  at: new Date(),
  status,
  action,
  ...(by ? { byUserId: by } : {}),
  ...(message ? { message } : {}),
});
