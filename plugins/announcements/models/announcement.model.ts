import mongoose from 'mongoose';
import { ROLES } from '../../../src/index.ts';
import type { Audience } from '../contract.ts';

export interface AnnouncementDoc {
  _id: mongoose.Types.ObjectId;
  title: string;
  body: string;
  audience: Audience;
  authorId: mongoose.Types.ObjectId;
  authorName: string;
  publishedAt: Date;
  /** Withdrawn announcements are kept (nothing is deleted) but no longer shown. */
  withdrawnAt?: Date;
}

export const AUDIENCES = ['everyone', ...ROLES] as const;

export const announcementSchema = new mongoose.Schema<AnnouncementDoc>({
  title: { type: String, required: true, maxlength: 200 },
  body: { type: String, required: true, maxlength: 10000 },
  audience: { type: String, enum: AUDIENCES, required: true },
  authorId: { type: mongoose.Schema.Types.ObjectId, required: true },
  // The author's name as it was when they published: the notice keeps its signature.
  authorName: { type: String, required: true },
  publishedAt: { type: Date, required: true },
  withdrawnAt: Date,
});
announcementSchema.index({ publishedAt: -1 });
