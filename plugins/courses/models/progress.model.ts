import mongoose from 'mongoose';

/**
 * Progress is a set of small insert-once records whose `_id` is their natural key
 * (`<learner>:<edition>:<thing>`). Recording is therefore idempotent (a second insert is a
 * duplicate key, code 11000) and concurrent completions of different things never touch the same
 * document: the data rules of docs/architecture.md (no read-then-write on shared documents, FerretDB-safe).
 */
export interface ItemProgressDoc {
  _id: string; // learner:edition:item
  learnerId: string;
  courseId: string;
  editionId: string;
  moduleId: string;
  itemId: string;
  completedAt: Date;
}

export interface ModuleProgressDoc {
  _id: string; // learner:edition:module
  learnerId: string;
  courseId: string;
  editionId: string;
  moduleId: string;
  completedAt: Date;
}

export interface CourseCompletionDoc {
  _id: string; // learner:edition:course
  learnerId: string;
  courseId: string;
  editionId: string;
  completedAt: Date;
}

export interface QuizAttemptDoc {
  _id: string; // learner:edition:item:attemptNumber — the attempt slot, claimed by inserting it
  learnerId: string;
  courseId: string;
  editionId: string;
  itemId: string;
  attempt: number;
  answers: Record<string, string[]>;
  score: number;
  passed: boolean;
  submittedAt: Date;
}

const base = {
  _id: { type: String, required: true },
  learnerId: { type: String, required: true },
  courseId: { type: String, required: true },
  editionId: { type: String, required: true },
};

export const itemProgressSchema = new mongoose.Schema<ItemProgressDoc>(
  {
    ...base,
    moduleId: { type: String, required: true },
    itemId: { type: String, required: true },
    completedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
itemProgressSchema.index({ learnerId: 1, courseId: 1 });

export const moduleProgressSchema = new mongoose.Schema<ModuleProgressDoc>(
  {
    ...base,
    moduleId: { type: String, required: true },
    completedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
moduleProgressSchema.index({ learnerId: 1, courseId: 1 });

export const courseCompletionSchema = new mongoose.Schema<CourseCompletionDoc>(
  {
    ...base,
    completedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const quizAttemptSchema = new mongoose.Schema<QuizAttemptDoc>(
  {
    ...base,
    itemId: { type: String, required: true },
    attempt: { type: Number, required: true },
    answers: { type: mongoose.Schema.Types.Mixed, required: true },
    score: { type: Number, required: true },
    passed: { type: Boolean, required: true },
    submittedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
quizAttemptSchema.index({ learnerId: 1, itemId: 1 });

/** The natural key of a progress record; ids never contain ':' (ObjectIds, or 'open'). */
export const progressKey = (...parts: string[]) => parts.join(':');
