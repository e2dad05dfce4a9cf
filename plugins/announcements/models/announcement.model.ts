import mongoose from 'mongoose';
import { ROLES } from '../../../src/index.ts';
import type { Audience } from '../contract.ts';

export interface AnnouncementDoc {
  _id: mongoose.Types.ObjectId;
  title: string;
  body: string;
  audience: Audience;
  /** Audience 'edition': the edition's id, and its title as it was when posted (the notice keeps it). */
  editionId?: string;
  editionTitle?: string;
  /** Audience 'edition': the people waiting (waiting list, applications under review) read it too. */
  includeWaiting?: boolean;
  authorId: mongoose.Types.ObjectId;
  authorName: string;
  publishedAt: Date;
  /** Withdrawn announcements are kept (nothing is deleted) but no longer shown. */
  withdrawnAt?: Date;
}

/** The audiences of the general form: everyone, or the holders of a role. */
export const AUDIENCES = ['everyone', ...ROLES] as const;

export const announcementSchema = new mongoose.Schema<AnnouncementDoc>({
  title: { type: String, required: true, maxlength: 200 },
  body: { type: String, required: true, maxlength: 10000 },
  audience: { type: String, enum: [...AUDIENCES, 'edition'], required: true },
  editionId: {
    type: String,
    required: function (this: AnnouncementDoc) {
      return this.audience === 'edition';
    },
  },
  editionTitle: { type: String, maxlength: 200 },
  includeWaiting: { type: Boolean, default: false },
  authorId: { type: mongoose.Schema.Types.ObjectId, required: true },
  // The author's name as it was when they published: the notice keeps its signature.
  authorName: { type: String, required: true },
  publishedAt: { type: Date, required: true },
  withdrawnAt: Date,
});
announcementSchema.index({ publishedAt: -1 });
