import mongoose from 'mongoose';
import type { CourseStatus } from '../contract.ts';

export interface CourseDoc {
  _id: mongoose.Types.ObjectId;
  slug: string;
  /** Language code → text; at least the course's main language. */
  title: Map<string, string>;
  summary: Map<string, string>;
  languages: string[];
  hours: number;
  durationWeeks?: number;
  status: CourseStatus;
  trainerIds: mongoose.Types.ObjectId[];
  /**
   * Changes whenever the course's modules or items change (a new random value each time, so two
   * concurrent changes never leave an old value): what each instance's copy of the outline is
   * checked against. Courses from before it existed get one when the courses plugin starts.
   */
  structureStamp?: string;
  /** The optional cover image (services/cover.ts): its GridFS file, size in pixels and alt text per language. */
  cover?: {
    fileId: mongoose.Types.ObjectId;
    contentType: string;
    size: number;
    sha256: string;
    width: number;
    height: number;
    alt: Record<string, string>;
  } | null;
  createdAt: Date;
  updatedAt: Date;
}

export const COURSE_STATUSES = ['draft', 'published', 'archived'] as const;

export const courseSchema = new mongoose.Schema<CourseDoc>(
  {
    slug: { type: String, required: true, maxlength: 80 },
    title: { type: Map, of: String, required: true },
    summary: { type: Map, of: String, default: () => new Map() },
    languages: { type: [String], required: true },
    hours: { type: Number, required: true, min: 0, max: 1000 },
    durationWeeks: { type: Number, min: 0, max: 104 },
    status: { type: String, enum: COURSE_STATUSES, default: 'draft' },
    trainerIds: { type: [mongoose.Schema.Types.ObjectId], default: [] },
    structureStamp: String,
    // Mixed: written whole by setCover, from checked values only.
    cover: { type: mongoose.Schema.Types.Mixed, default: undefined },
  },
  { timestamps: true },
);
// Slugs are the courses' addresses: unique, so two trainers cannot claim the same one at once.
courseSchema.index({ slug: 1 }, { unique: true });
