/**
 * The attendance plugin's contract: what other plugins may import. The plugin gives the
 * certificates plugin a completion rule (`CompletionRules`); others may read an edition's
 * attendance through this service.
 */
import { defineService } from '../../src/index.ts';

/** One person's attendance in an edition, against the edition's rule. */
export interface AttendanceOfPerson {
  enrolmentId: string;
  /** Sessions ticked present, of `sessions` (removed sessions do not count). */
  attended: number;
  sessions: number;
  /** Whole per cent, rounded down. */
  percent: number;
  qualifies: boolean;
  /** The day of the session that made the person qualify (absent when they do not). */
  qualifiedOn?: Date | undefined;
}

export interface AttendanceRecordsService {
  /** The edition's attendance for these enrolments (all enrolments of one edition). */
  attendanceOf(editionId: string, enrolmentIds: string[]): Promise<AttendanceOfPerson[]>;
}

export const AttendanceRecords = defineService<AttendanceRecordsService>('attendance.records');
