import { z } from 'zod';

/** The certificates plugin's settings (olive.config.ts), checked before any plugin boots. */
export const certificatesConfigSchema = z.object({
  /** Whether an edition's own trainers may issue its certificates (programme staff always may). */
  trainersMayIssue: z.boolean().default(false),
  /** Largest logo or signature image in a template, in kilobytes. */
  maxImageKb: z.number().int().min(16).max(4096).default(512),
  /** Verification look-ups per minute and address (public page, JSON and PDF check together). */
  verifyPerMinute: z.number().int().min(1).max(10000).default(30),
  /** Pause after each person of a bulk job, in ms: on a small server, leaves CPU to the pages people use. */
  jobPauseMs: z.number().int().min(0).max(10000).default(0),
  /** How often the job runs that issues, after an edition's end date, the automatic certificates that waited for it. */
  endCheckMinutes: z.number().positive().max(1440).default(60),
});

export type CertificatesConfig = z.output<typeof certificatesConfigSchema>;
