import type { Request } from 'express';
import type { Strategy as PassportStrategy } from '@node-saml/passport-saml';

export type StrategyOutcome =
  | { kind: 'success'; user: unknown }
  | { kind: 'fail'; status?: number | undefined }
  | { kind: 'redirect'; url: string }
  | { kind: 'pass' }
  | { kind: 'error'; err: unknown };

/**
 * Runs a passport strategy the way passport's `authenticate` does (a fresh object inheriting from
 * the strategy, with the five outcome actions), as a promise. Using passport's own `authenticate`
 * would need a second Passport instance, which would take over the request's session manager
 * from the host's; here the host alone signs people in (`signInPerson`).
 */
export function runStrategy(strategy: PassportStrategy, req: Request, options: Record<string, unknown> = {}): Promise<StrategyOutcome> {
  return new Promise((resolve) => {
    const attempt = Object.create(strategy) as PassportStrategy;
    attempt.success = (user) => resolve({ kind: 'success', user });
    attempt.fail = ((challenge: unknown, status?: number) =>
      resolve({ kind: 'fail', status: typeof challenge === 'number' ? challenge : status })) as PassportStrategy['fail'];
    attempt.redirect = (url) => resolve({ kind: 'redirect', url });
    attempt.pass = () => resolve({ kind: 'pass' });
    attempt.error = (err) => resolve({ kind: 'error', err });
    try {
      attempt.authenticate(req, options);
    } catch (err) {
      resolve({ kind: 'error', err });
    }
  });
}
