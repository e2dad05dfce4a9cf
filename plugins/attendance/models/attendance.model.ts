import mongoose from 'mongoose';

/** How an edition's attendance makes someone complete it: every session, or at least a share of them. */
export const RULES = ['all', 'percent'] as const;
export type RuleKind = (typeof RULES)[number];

/**
 * One session of an edition ("Day 2 morning"). `_id` is `<editionId>-<YYYYMMDD>` for the sessions
 * made by default (one per day: two first visits at once make each once), `<editionId>-<hex>` for
 * those staff add. A removed session is kept with its ticks (`removedAt`) and can come back.
 */
export interface SessionDoc {
  _id: string;
  editionId: string;
  /** Empty: the session is named by its day. */
  title: string;
  day: Date;
  createdAt: Date;
  removedAt?: Date | null;
}

export const sessionSchema = new mongoose.Schema<SessionDoc>(
  {
    _id: { type: String, required: true },
    editionId: { type: String, required: true },
    title: { type: String, default: '', maxlength: 100 },
    day: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    removedAt: { type: Date, default: null },
  },
  { versionKey: false },
);

/**
 * One tick: a person (enrolment) at a session, present or not. `_id` is
 * `<enrolmentId>:<sessionId>`, so a page reads its cells by key and two people saving at once each
 * write their own small documents (docs/architecture.md: hot writes go to small per-item documents).
 */
export interface MarkDoc {
  _id: string;
  editionId: string;
  enrolmentId: string;
  sessionId: string;
  present: boolean;
  byUserId: string;
  at: Date;
}

export const markSchema = new mongoose.Schema<MarkDoc>(
  {
    _id: { type: String, required: true },
    editionId: { type: String, required: true },
    enrolmentId: { type: String, required: true },
    sessionId: { type: String, required: true },
    present: { type: Boolean, required: true },
    byUserId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

export const markKey = (enrolmentId: string, sessionId: string) => `${enrolmentId}:${sessionId}`;

/** An edition's attendance settings, keyed by the edition's id. */
export interface SettingDoc {
  _id: string;
  /** When the sessions by default were made (once: sessions staff remove do not come back). */
  defaultsMadeAt?: Date | null;
  rule: RuleKind;
  /** For `percent`: at least this share of the sessions (1–100). */
  percent: number;
  updatedAt: Date;
  updatedBy?: string;
}

export const settingSchema = new mongoose.Schema<SettingDoc>(
  {
    _id: { type: String, required: true },
    defaultsMadeAt: { type: Date, default: null },
    rule: { type: String, enum: RULES, default: 'all' },
    percent: { type: Number, min: 1, max: 100, default: 100 },
    updatedAt: { type: Date, required: true },
    updatedBy: String,
  },
  { versionKey: false },
);

/** A problem, as a key under `attendance:import.issues` and its values: pages translate it. */
export interface Issue {
  code: string;
  params?: Record<string, string | number>;
}

/** One previewed row of a file of ticks. */
export interface ImportRowDoc {
  line: number;
  email: string;
  enrolmentId: string;
  marks: { sessionId: string; present: boolean }[];
  issues: Issue[];
}

/** A file of ticks, previewed; confirming it writes exactly what was previewed. */
export interface ImportDoc {
  _id: mongoose.Types.ObjectId;
  editionId: string;
  fileName: string;
  format: 'wide' | 'long';
  /** Problems with the file as a whole (nothing can be saved). */
  problems: Issue[];
  rows: ImportRowDoc[];
  status: 'previewed' | 'committed';
  createdBy: string;
  createdAt: Date;
  committedAt?: Date | null;
  /** Ticks written by the confirmation. */
  written?: number;
}

const issueSchema = new mongoose.Schema<Issue>({ code: String, params: mongoose.Schema.Types.Mixed }, { _id: false });

export const importSchema = new mongoose.Schema<ImportDoc>(
  {
    editionId: { type: String, required: true },
    fileName: { type: String, required: true },
    format: { type: String, enum: ['wide', 'long'], required: true },
    problems: [issueSchema],
    rows: [
      new mongoose.Schema<ImportRowDoc>(
        {
          line: Number,
          email: String,
          enrolmentId: String,
          marks: [new mongoose.Schema({ sessionId: String, present: Boolean }, { _id: false })],
          issues: [issueSchema],
        },
        { _id: false },
      ),
    ],
    status: { type: String, enum: ['previewed', 'committed'], required: true },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    committedAt: { type: Date, default: null },
    written: Number,
  },
  { versionKey: false },
);
