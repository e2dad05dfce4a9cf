import mongoose from 'mongoose';

/**
 * What the programme knows of a participant beyond their account: the figures donors ask for
 * (gender, country and so region, organisation type). Keyed by normalised e-mail address, because
 * people are imported and pre-enrolled before they have an account; `userId` is filled in when the
 * account exists.
 */
export interface PersonDoc {
  _id: string; // normalised e-mail
  userId?: string;
  givenName: string;
  familyName: string;
  organisation: string;
  organisationType: string;
  /** ISO 3166-1 alpha-2, upper case; empty when unknown. */
  country: string;
  gender: string;
  jobTitle: string;
  createdAt: Date;
  updatedAt: Date;
}

export const personSchema = new mongoose.Schema<PersonDoc>(
  {
    _id: { type: String, required: true },
    userId: String,
    givenName: { type: String, default: '', trim: true, maxlength: 100 },
    familyName: { type: String, default: '', trim: true, maxlength: 100 },
    organisation: { type: String, default: '', trim: true, maxlength: 200 },
    organisationType: { type: String, default: '' },
    country: { type: String, default: '', maxlength: 2 },
    gender: { type: String, default: '' },
    jobTitle: { type: String, default: '', trim: true, maxlength: 200 },
  },
  { timestamps: true },
);
personSchema.index({ userId: 1 });
