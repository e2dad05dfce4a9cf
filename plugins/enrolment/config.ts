import { z } from 'zod';
import { COMMIT_WAIT_MS } from './services/import.service.ts';

/** The enrolment plugin's settings (olive.config.ts), checked before any plugin boots. */
export const enrolmentConfigSchema = z.object({
  /** Largest CSV file staff may upload for a bulk enrolment, in megabytes. */
  maxImportMb: z.number().positive().max(50).default(5),
  /** Rows in one bulk enrolment. */
  maxImportRows: z.number().int().min(1).max(50000).default(5000),
  /** How long confirming an import waits for it to finish, in ms, before showing its progress page. */
  importCommitWaitMs: z.number().int().min(0).max(60_000).default(COMMIT_WAIT_MS),
  /** Days before an edition starts when everyone enrolled gets a reminder by e-mail. */
  reminderDays: z.number().int().min(1).max(60).default(3),
  /** How often the reminder job looks for editions about to start, in minutes. */
  reminderCheckMinutes: z.number().positive().max(1440).default(60),
});

export type EnrolmentConfig = z.output<typeof enrolmentConfigSchema>;
