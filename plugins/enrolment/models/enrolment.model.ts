import mongoose from 'mongoose';
import { ENROLMENT_STATUSES, type EnrolmentStatus } from '../contract.ts';

/** One line of an enrolment's history: who changed what, and the message the person was given. */
export interface EnrolmentHistoryEntry {
  at: Date;
  status: EnrolmentStatus;
  /** Staff member who acted; absent when the person acted themselves or the system did. */
  byUserId?: string;
  /** E.g. 'applied', 'accepted', 'promoted', 'moved', 'imported', 'invited'. */
  action: string;
  message?: string;
}

export interface EnrolmentDoc {
  _id: mongoose.Types.ObjectId;
  editionId: string;
  courseId: string;
  /** Normalised e-mail address: the person's identity until they have an account. */
  email: string;
  userId?: string;
  status: EnrolmentStatus;
  /** How the enrolment came about: 'self', 'key', 'application', 'staff', 'import', 'moved'. */
  source: string;
  motivation?: string;
  answers: { questionId: string; answer: string }[];
  /** The last decision's message, shown to the person. */
  decisionMessage?: string;
  /** Position in the waiting list: the time the person was put on it. */
  waitlistedAt?: Date;
  /** Set when staff moved the person to another edition. */
  movedToEditionId?: string;
  history: EnrolmentHistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

export const enrolmentSchema = new mongoose.Schema<EnrolmentDoc>(
  {
    editionId: { type: String, required: true },
    courseId: { type: String, required: true },
    email: { type: String, required: true, lowercase: true, trim: true, maxlength: 254 },
    userId: String,
    status: { type: String, enum: ENROLMENT_STATUSES, required: true },
    source: { type: String, required: true },
    motivation: { type: String, maxlength: 5000 },
    answers: { type: [{ _id: false, questionId: String, answer: { type: String, maxlength: 5000 } }], default: [] },
    decisionMessage: { type: String, maxlength: 2000 },
    waitlistedAt: Date,
    movedToEditionId: String,
    history: {
      type: [{ _id: false, at: Date, status: String, byUserId: String, action: String, message: String }],
      default: [],
    },
  },
  { timestamps: true },
);
// One enrolment per person and edition: the unique index is the invariant (docs/architecture.md, data rules).
enrolmentSchema.index({ editionId: 1, email: 1 }, { unique: true });
enrolmentSchema.index({ userId: 1 });
enrolmentSchema.index({ email: 1 });

/**
 * A seat of an edition with limited capacity. Seats are claimed by inserting `<edition>:<n>` for
 * n in 1..capacity: two people can never hold the same seat (unique `_id`), and one enrolment can
 * never hold two (unique `enrolmentId`). The number of enrolled people can therefore never exceed
 * the capacity, whatever runs concurrently, without transactions.
 */
export interface SeatDoc {
  _id: string;
  editionId: string;
  seat: number;
  enrolmentId: string;
  claimedAt: Date;
}

export const seatSchema = new mongoose.Schema<SeatDoc>(
  {
    _id: { type: String, required: true },
    editionId: { type: String, required: true },
    seat: { type: Number, required: true },
    enrolmentId: { type: String, required: true },
    claimedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
seatSchema.index({ enrolmentId: 1 }, { unique: true });
seatSchema.index({ editionId: 1 });

/**
 * One entry of a person's list of enrolments, so that a person's enrolments are found by key.
 * A query on `userId` or `email` would read every enrolment on FerretDB (only `_id` is indexed:
 * docs/architecture.md, Data; about 200 ms at 4,000 enrolments, on every page). A list is the documents `<owner>:1`, `<owner>:2`, … each
 * pointing to one enrolment; the owner is `u:<userId>` or `e:<normalised e-mail>`. Entries are
 * only ever inserted, at the first free number (unique `_id`), so two writers never overwrite each
 * other and the list has no gaps: it is read by looking up 1, 2, … until the first missing one.
 * An entry is written before the enrolment it points to; one whose enrolment was never written
 * (the insert failed) or no longer belongs to its owner is skipped by readers.
 */
export interface MembershipDoc {
  _id: string;
  owner: string;
  n: number;
  enrolmentId: string;
  editionId: string;
  courseId: string;
  createdAt: Date;
}

export const membershipSchema = new mongoose.Schema<MembershipDoc>(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    n: { type: Number, required: true },
    enrolmentId: { type: String, required: true },
    editionId: { type: String, required: true },
    courseId: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/**
 * Which message an invitation to an edition is (an account invitation with a set-your-password
 * link, or a notice to an existing account), decided once per enrolment and round
 * (`<enrolmentId>:<round>`, see services/notices.ts): a request or job that runs again sends the
 * same kind, never the other one as well.
 */
export interface InvitationDoc {
  _id: string;
  kind: 'invitation' | 'notice';
  by: string;
  at: Date;
}

export const invitationSchema = new mongoose.Schema<InvitationDoc>(
  {
    _id: { type: String, required: true },
    kind: { type: String, enum: ['invitation', 'notice'], required: true },
    by: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
