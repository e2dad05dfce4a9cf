import mongoose from 'mongoose';
import type { StoredText } from '../contract.ts';
import { textPath } from './text.ts';

export interface ModuleDoc {
  _id: mongoose.Types.ObjectId;
  courseId: mongoose.Types.ObjectId;
  /** Per language (see StoredText). */
  title: StoredText;
  /** Short Markdown introduction shown on the module page, per language. */
  intro: StoredText;
  /** Ordering key; gaps are fine, ties are broken by _id. */
  position: number;
  required: boolean;
  /** Due this many days after the learner's start (services/due-dates.ts); absent or null: no due date. */
  dueDays?: number | null;
}

export const moduleSchema = new mongoose.Schema<ModuleDoc>({
  courseId: { type: mongoose.Schema.Types.ObjectId, required: true },
  title: textPath(200, { required: true }),
  intro: textPath(20000, { default: '' }),
  position: { type: Number, required: true },
  required: { type: Boolean, default: true },
  dueDays: { type: Number, min: 0, max: 730, default: undefined },
});
moduleSchema.index({ courseId: 1, position: 1 });
