import { z } from 'zod';

/** The attendance plugin's settings (olive.config.ts), checked before any plugin boots. */
export const attendanceConfigSchema = z.object({
  /** Largest CSV file of ticks staff may upload, in megabytes. */
  maxImportMb: z.number().positive().max(20).default(2),
  /** Rows in one file of ticks. */
  maxImportRows: z.number().int().min(1).max(20000).default(2000),
  /** An edition longer than this (in days) gets no session per day by default: staff add its sessions. */
  maxDefaultSessions: z.number().int().min(1).max(366).default(60),
  /**
   * Boxes on one page of the grid: people come in pages of as many as fit (at least 5), so that a
   * long edition with a large cohort stays a light page (about 70 bytes of HTML a box).
   */
  gridCellsPerPage: z.number().int().min(20).max(5000).default(240),
});

export type AttendanceConfig = z.output<typeof attendanceConfigSchema>;
