import mongoose from 'mongoose';

export interface ModuleDoc {
  _id: mongoose.Types.ObjectId;
  courseId: mongoose.Types.ObjectId;
  title: string;
  /** Short Markdown introduction shown on the module page. */
  intro: string;
  /** Ordering key; gaps are fine, ties are broken by _id. */
  position: number;
  required: boolean;
}

export const moduleSchema = new mongoose.Schema<ModuleDoc>({
  courseId: { type: mongoose.Schema.Types.ObjectId, required: true },
  title: { type: String, required: true, maxlength: 200 },
  intro: { type: String, default: '', maxlength: 20000 },
  position: { type: Number, required: true },
  required: { type: Boolean, default: true },
});
moduleSchema.index({ courseId: 1, position: 1 });
