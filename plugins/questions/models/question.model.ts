import mongoose from 'mongoose';

/** A participant's question to an edition's trainers and staff, and its answer (one per question). */
export interface QuestionDoc {
  _id: mongoose.Types.ObjectId;
  editionId: string;
  askerId: string;
  askerName: string;
  text: string;
  createdAt: Date;
  answer?: string;
  answeredById?: string;
  answeredByName?: string;
  answeredAt?: Date;
}

export const QUESTION_MAX = 2000;
export const ANSWER_MAX = 5000;

export const questionSchema = new mongoose.Schema<QuestionDoc>({
  editionId: { type: String, required: true },
  askerId: { type: String, required: true },
  askerName: { type: String, required: true },
  text: { type: String, required: true, maxlength: QUESTION_MAX },
  createdAt: { type: Date, required: true },
  answer: { type: String, maxlength: ANSWER_MAX },
  answeredById: String,
  answeredByName: String,
  answeredAt: Date,
});
questionSchema.index({ editionId: 1, createdAt: -1 });
