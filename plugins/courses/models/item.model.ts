import mongoose from 'mongoose';

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

export interface QuizQuestion {
  id: string;
  text: string;
  kind: QuestionKind;
  options: { id: string; text: string; correct: boolean }[];
  /** Shown after submission. */
  feedback?: string;
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
  title: string;
  position: number;
  /** Lesson text (Markdown), or a short description of a file, quiz or link. */
  body: string;
  file?: StoredFile;
  url?: string;
  quiz?: QuizSettings;
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
          text: { type: String, required: true },
          kind: { type: String, enum: ['single', 'multiple', 'truefalse'], required: true },
          options: [{ _id: false, id: String, text: String, correct: Boolean }],
          feedback: String,
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
  title: { type: String, required: true, maxlength: 200 },
  position: { type: Number, required: true },
  body: { type: String, default: '', maxlength: 200000 },
  file: fileSchema,
  url: { type: String, maxlength: 2000 },
  quiz: quizSchema,
});
itemSchema.index({ moduleId: 1, position: 1 });
