import type { Request, Response } from 'express';
import type { SessionUser } from '../access.ts';
import { forbidden } from '../errors.ts';
import type { UsersService } from '../host-contract.ts';
import { SESSION_COOKIE } from '../sessions.ts';
import { safeReturnTo } from './return-to.ts';

declare module 'express-session' {
  interface SessionData {
    /** Set by a sign-in method whose sign-out has more to do (single logout): see `signInPerson`. */
    signOutPath?: string;
  }
}

/** What the host itself keeps in a session: a sign-in method may add its own keys, never these. */
const RESERVED_SESSION_KEYS = new Set(['cookie', 'passport', 'csrfToken', 'flash', 'signOutPath', 'id']);

export interface SignInOptions {
  /** How the person signed in, for the `UserSignedIn` event and logs: 'local', 'saml:unite', … */
  method: string;
  /** Values to keep in the new session, e.g. what single logout needs later (never secrets). */
  session?: Record<string, unknown>;
  /**
   * A local path that sign-out continues at: the host's `POST /logout` re-posts there (307, the
   * CSRF token travels along) so that the sign-in method can also end the person's session at
   * their identity provider. That route must call `signOutPerson`.
   */
  signOutPath?: string;
}

/**
 * Signs a person in, the one way every sign-in method does it: a disabled account is refused, the
 * session is regenerated (an id planted before sign-in is worthless after it), the sign-in is
 * recorded (`lastSignInAt`, the `UserSignedIn` event).
 */
export async function signInPerson(req: Request, user: SessionUser, users: UsersService, options: SignInOptions): Promise<void> {
  if (await users.isDisabled(user.id)) throw forbidden('This account is disabled. Please contact the programme team.', { key: 'login.disabled' });
  // passport regenerates the session here.
  await new Promise<void>((resolve, reject) => req.logIn(user, (err) => (err ? reject(err) : resolve())));
  for (const [key, value] of Object.entries(options.session ?? {})) {
    if (RESERVED_SESSION_KEYS.has(key)) throw new Error(`signInPerson: the session key '${key}' belongs to the host`);
    (req.session as unknown as Record<string, unknown>)[key] = value;
  }
  const signOutPath = options.signOutPath && safeReturnTo(options.signOutPath, '');
  if (signOutPath) req.session.signOutPath = signOutPath;
  await users.recordSignIn(user.id, options.method);
}

/** Ends this browser's session (the person stays signed in elsewhere) and clears its cookie. */
export async function signOutPerson(req: Request, res: Response): Promise<void> {
  await new Promise<void>((resolve, reject) => req.logout((err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
  res.clearCookie(SESSION_COOKIE);
}
