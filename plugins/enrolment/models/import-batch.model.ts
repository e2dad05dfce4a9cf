import mongoose from 'mongoose';
import type { ImportCounts, StoredRow } from '../services/import/plan.ts';
import type { LegacyEncoding } from '../services/import/encodings.ts';
import type { ImportDelimiter, ImportEncoding, ImportField } from '../services/import/read.ts';

/**
 * One uploaded CSV file for a bulk enrolment: its rows as read and checked, the plan shown in the
 * preview, and after the commit what each row did. Kept 24 hours (removed by the import service:
 * FerretDB has no TTL indexes).
 */
export interface ImportBatchDoc {
  _id: mongoose.Types.ObjectId;
  editionId: string;
  uploadedBy: string;
  uploadedByName: string;
  fileName: string;
  encoding: ImportEncoding;
  /** The other encodings a file in a legacy encoding can be read in (none for UTF-8 and UTF-16). */
  encodingAlternatives: LegacyEncoding[];
  /** The encoding is the one the person chose, not the most plausible one. */
  encodingChosen: boolean;
  /**
   * The file's bytes, kept while its encoding is in question (a legacy encoding, up to
   * SOURCE_MAX_BYTES) so that it can be read again in another; never read unless asked for.
   */
  source?: Buffer;
  /** `source` was kept. */
  hasSource: boolean;
  bom: boolean;
  delimiter: ImportDelimiter;
  columns: { header: string; field: ImportField | null }[];
  rows: StoredRow[];
  /**
   * previewed → committing (its commit job started; the job's state says whether it still runs) →
   * committed. Written by the commit job only.
   */
  status: 'previewed' | 'committing' | 'committed';
  /** When the first commit attempt started: enrolments made since by an import count as this batch's. */
  commitStartedAt?: Date;
  /** Rows the running attempt has been through. */
  progress?: number;
  counts?: ImportCounts;
  committedBy?: string;
  committedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

export const importBatchSchema = new mongoose.Schema<ImportBatchDoc>(
  {
    editionId: { type: String, required: true },
    uploadedBy: { type: String, required: true },
    uploadedByName: { type: String, default: '' },
    fileName: { type: String, required: true, maxlength: 200 },
    encoding: { type: String, required: true },
    encodingAlternatives: { type: [String], default: [] },
    encodingChosen: { type: Boolean, default: false },
    source: { type: Buffer, select: false },
    hasSource: { type: Boolean, default: false },
    bom: { type: Boolean, default: false },
    delimiter: { type: String, required: true },
    columns: { type: [{ _id: false, header: String, field: { type: String, default: null } }], default: [] },
    // Rows are written whole by the service (read, checked and planned there): stored as they are.
    rows: { type: mongoose.Schema.Types.Mixed, default: [] },
    status: { type: String, enum: ['previewed', 'committing', 'committed'], required: true },
    commitStartedAt: Date,
    progress: Number,
    counts: { type: mongoose.Schema.Types.Mixed },
    committedBy: String,
    committedAt: Date,
  },
  { timestamps: true, minimize: false },
);
importBatchSchema.index({ editionId: 1 });
importBatchSchema.index({ createdAt: 1 });
