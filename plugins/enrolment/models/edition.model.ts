import mongoose from 'mongoose';
import { EDITION_STATUSES, ENROLMENT_METHODS, type EditionStatus, type EnrolmentMethod } from '../contract.ts';

/** A question an application asks, beyond the motivation every applicant writes. */
export interface ApplicationQuestion {
  id: string;
  label: string;
  required: boolean;
}

export interface EditionDoc {
  _id: mongoose.Types.ObjectId;
  courseId: string;
  title: string;
  description: string;
  selfPaced: boolean;
  startsAt?: Date;
  endsAt?: Date;
  /** Pre-reading: the material opens on this day instead of the start date (earlier than it). */
  materialOpensAt?: Date;
  /** Certificates may be issued before the edition ends (otherwise they wait for its end date). */
  certificatesBeforeEnd?: boolean;
  enrolmentDeadline?: Date;
  place: string;
  online: boolean;
  /** Seats; null: no limit. */
  capacity: number | null;
  language: string;
  method: EnrolmentMethod;
  /** The key people type to enrol when the method is 'key' (staff hand it out, so it is shown to them). */
  enrolmentKey?: string;
  questions: ApplicationQuestion[];
  trainerIds: string[];
  /** Whom participants write to about this edition (shown on its page); optional. */
  contactEmail?: string;
  status: EditionStatus;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

// `id: false`: a question's own `id` field is data, not mongoose's id virtual.
const questionSchema = new mongoose.Schema<ApplicationQuestion>(
  {
    id: { type: String, required: true, maxlength: 40 },
    label: { type: String, required: true, trim: true, maxlength: 500 },
    required: { type: Boolean, default: false },
  },
  { _id: false, id: false },
);

export const editionSchema = new mongoose.Schema<EditionDoc>(
  {
    courseId: { type: String, required: true },
    title: { type: String, required: true, trim: true, maxlength: 200 },
    description: { type: String, default: '', maxlength: 5000 },
    selfPaced: { type: Boolean, default: false },
    startsAt: Date,
    endsAt: Date,
    materialOpensAt: Date,
    certificatesBeforeEnd: { type: Boolean, default: false },
    enrolmentDeadline: Date,
    place: { type: String, default: '', trim: true, maxlength: 200 },
    online: { type: Boolean, default: false },
    capacity: { type: Number, default: null, min: 1, max: 100000 },
    language: { type: String, required: true, maxlength: 10 },
    method: { type: String, enum: ENROLMENT_METHODS, required: true },
    enrolmentKey: { type: String, maxlength: 100 },
    questions: { type: [questionSchema], default: [] },
    trainerIds: { type: [String], default: [] },
    contactEmail: { type: String, trim: true, lowercase: true, maxlength: 254 },
    status: { type: String, enum: EDITION_STATUSES, default: 'draft' },
    createdBy: { type: String, required: true },
  },
  { timestamps: true },
);
editionSchema.index({ courseId: 1 });
