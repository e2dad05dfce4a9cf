import mongoose from 'mongoose';
import type { StoredText } from '../contract.ts';
import { textPath } from './text.ts';

export const ITEM_TYPES = ['lesson', 'file', 'quiz', 'link'] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

export interface StoredFile {
  /** GridFS file id in the `courses_material` bucket. */
  fileId: mongoose.Types.ObjectId;
  /** The uploader's file name, sanitised (no path, no control characters). */
  filename: string;
  /** The type found in the content (not the one the browser claimed). */
  contentType: string;
  size: number;
  sha256: string;
}

export type QuestionKind = 'single' | 'multiple' | 'truefalse';

/** Limits of a quiz's texts, in characters, in each language. */
export const QUIZ_TEXT_LIMITS = { line: 2000, feedback: 20000 } as const;

/** A question; its texts per language (see StoredText), the same options and answers in all. */
export interface QuizQuestion {
  id: string;
  text: StoredText;
  kind: QuestionKind;
  options: { id: string; text: StoredText; correct: boolean }[];
  /** Shown after submission. */
  feedback?: StoredText;
}

export interface QuizSettings {
  questions: QuizQuestion[];
  /** Percentage needed to pass, 0–100. */
  passMark: number;
  /** 0 means unlimited. */
  maxAttempts: number;
  /** A required quiz must be passed for its module to be complete. */
  required: boolean;
}

export interface ItemDoc {
  _id: mongoose.Types.ObjectId;
  courseId: mongoose.Types.ObjectId;
  moduleId: mongoose.Types.ObjectId;
  type: ItemType;
  /** Per language (see StoredText); a file's name when it was uploaded. */
  title: StoredText;
  position: number;
  /** Lesson text (Markdown), or a short description of a file, quiz or link, per language. */
  body: StoredText;
  file?: StoredFile;
  url?: string;
  quiz?: QuizSettings;
  /** A quiz's due date: this many days after the learner's start (services/due-dates.ts); absent or null: none. */
  dueDays?: number | null;
}

const fileSchema = new mongoose.Schema<StoredFile>(
  {
    fileId: { type: mongoose.Schema.Types.ObjectId, required: true },
    filename: { type: String, required: true },
    contentType: { type: String, required: true },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
  },
  { _id: false },
);

const quizSchema = new mongoose.Schema<QuizSettings>(
  {
    questions: {
      type: [
        {
          _id: false,
          id: { type: String, required: true },
          text: textPath(QUIZ_TEXT_LIMITS.line, { required: true }),
          kind: { type: String, enum: ['single', 'multiple', 'truefalse'], required: true },
          options: [{ _id: false, id: String, text: textPath(QUIZ_TEXT_LIMITS.line), correct: Boolean }],
          feedback: textPath(QUIZ_TEXT_LIMITS.feedback),
        },
      ],
      default: [],
    },
    passMark: { type: Number, min: 0, max: 100, default: 70 },
    maxAttempts: { type: Number, min: 0, max: 100, default: 3 },
    required: { type: Boolean, default: true },
  },
  { _id: false },
);

export const itemSchema = new mongoose.Schema<ItemDoc>({
  courseId: { type: mongoose.Schema.Types.ObjectId, required: true },
  moduleId: { type: mongoose.Schema.Types.ObjectId, required: true },
  type: { type: String, enum: ITEM_TYPES, required: true },
  title: textPath(200, { required: true }),
  position: { type: Number, required: true },
  body: textPath(200000, { default: '' }),
  file: fileSchema,
  url: { type: String, maxlength: 2000 },
  quiz: quizSchema,
  dueDays: { type: Number, min: 0, max: 730, default: undefined },
});
itemSchema.index({ moduleId: 1, position: 1 });
