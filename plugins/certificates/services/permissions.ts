/**
 * Who may issue an edition's certificates (one person, or in bulk): programme staff and admins
 * always; the edition's own trainers when the programme's configuration says so
 * (`trainersMayIssue`). One function, used by every issuing route, so the rule lives in one place.
 */
import { hasRole, type SessionUser } from '../../../src/index.ts';
import type { EditionSummary } from '../../enrolment/contract.ts';

export function mayIssue(user: SessionUser | undefined, edition: Pick<EditionSummary, 'trainerIds'>, config: { trainersMayIssue: boolean }): boolean {
  if (!user) return false;
  if (hasRole(user, ['staff'])) return true;
  return config.trainersMayIssue && hasRole(user, ['trainer']) && edition.trainerIds.includes(user.id);
}
