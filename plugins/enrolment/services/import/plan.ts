/**
 * What each row of a read file will do against the database as it is (the preview staff confirm),
 * and what it did once committed. Pure: the database's answers come in a `PlanContext`.
 */
import type { EnrolmentStatus } from '../../contract.ts';
import type { PersonDoc } from '../../models/person.model.ts';
import { PERSON_FIELDS, type ImportRow, type Issue, type PersonField } from './read.ts';

export type RowAction = 'enrol' | 'waitlist' | 'already' | 'addTrainer' | 'alreadyTrainer' | 'error';
export type PersonAction = 'create' | 'update' | 'unchanged';

export interface RowPlan {
  action: RowAction;
  /** What happens to the person's profile; null for rows in error. */
  profile: PersonAction | null;
  /** The profile fields the file changes (for 'update'). */
  changed: PersonField[];
  /** The person has an account; without one they are matched at their first sign-in. */
  account: boolean;
  /** The enrolment they already have (for 'already'). */
  status?: EnrolmentStatus;
  errors: Issue[];
}

export interface PlanContext {
  /** Seats free for newcomers: null when the edition has no limit (0 when people are already waiting). */
  seatsLeft: number | null;
  persons: Map<string, Pick<PersonDoc, PersonField>>;
  enrolments: Map<string, { status: EnrolmentStatus }>;
  accounts: Map<string, { id: string; roles: readonly string[] }>;
  trainerIds: ReadonlySet<string>;
}

/**
 * What each row will do, in file order: newcomers take the free seats in order down the file and
 * the rest go on the waiting list. Pure: the context holds what the database says.
 */
export function planRows(rows: readonly ImportRow[], context: PlanContext): RowPlan[] {
  let seatsLeft = context.seatsLeft;
  return rows.map((row): RowPlan => {
    const account = context.accounts.get(row.email);
    const errors = [...row.errors];
    if (!errors.length && row.role === 'trainer') {
      if (!account) errors.push({ code: 'trainerNoAccount' });
      else if (!account.roles.includes('trainer')) errors.push({ code: 'trainerNotTrainer' });
    }
    if (errors.length) return { action: 'error', profile: null, changed: [], account: !!account, errors };

    const existing = context.persons.get(row.email);
    const changed = PERSON_FIELDS.filter((f) => row.person[f] !== undefined && (existing?.[f] ?? '') !== row.person[f]);
    const profile: PersonAction = !existing ? 'create' : changed.length ? 'update' : 'unchanged';
    const base = { profile, changed: profile === 'create' ? [] : changed, account: !!account, errors: [] };

    if (row.role === 'trainer') return { ...base, action: context.trainerIds.has(account!.id) ? 'alreadyTrainer' : 'addTrainer' };
    const enrolment = context.enrolments.get(row.email);
    if (enrolment && enrolment.status !== 'withdrawn') return { ...base, action: 'already', status: enrolment.status };
    if (seatsLeft === null) return { ...base, action: 'enrol' };
    if (seatsLeft > 0) {
      seatsLeft--;
      return { ...base, action: 'enrol' };
    }
    return { ...base, action: 'waitlist' };
  });
}

/** A stored row: what was read, what was planned at upload, and (after commit) what happened. */
export type StoredRow = ImportRow & RowPlan & { result?: RowResult };
export type RowResult = 'enrolled' | 'waitlisted' | 'already' | 'trainer' | 'alreadyTrainer' | 'error';

export interface ImportCounts {
  enrolled: number;
  waitlisted: number;
  already: number;
  trainers: number;
  errors: number;
}

export function countResults(rows: readonly StoredRow[]): ImportCounts {
  const counts: ImportCounts = { enrolled: 0, waitlisted: 0, already: 0, trainers: 0, errors: 0 };
  for (const r of rows) {
    if (r.result === 'enrolled') counts.enrolled++;
    else if (r.result === 'waitlisted') counts.waitlisted++;
    else if (r.result === 'trainer') counts.trainers++;
    else if (r.result === 'error') counts.errors++;
    else counts.already++;
  }
  return counts;
}
