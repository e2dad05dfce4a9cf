import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { forbidden, unauthorized } from './errors.ts';

/** The roles Olive knows. Admin holds every permission the others do. */
export const ROLES = ['learner', 'trainer', 'staff', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The signed-in person as the app sees them on `req.user` (never carries credentials). */
export interface SessionUser {
  id: string;
  email: string;
  name: string;
  roles: Role[];
  locale?: string | undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // passport types `req.user` as Express.User: make it our SessionUser.
    interface User extends SessionUser {}
  }
}

/**
 * Who may use a route. Every route registered through a plugin's router must name one: there is
 * no route without a policy, which is how "the default is deny" holds by construction.
 */
export interface AccessPolicy {
  readonly description: string;
  /** True when the request may go on; the user is undefined for anonymous requests. */
  allows(req: Request, user: SessionUser | undefined): boolean | Promise<boolean>;
  /** Public policies never ask an anonymous person to sign in. */
  readonly public: boolean;
  /**
   * The route receives cross-site form posts that carry their own proof of origin (a signed SAML
   * message from an identity provider), so it is exempt from the CSRF token. Only `allow.signedMessage`.
   */
  readonly crossSite?: boolean;
}

export function hasRole(user: SessionUser | undefined, roles: readonly Role[]): boolean {
  if (!user) return false;
  return user.roles.includes('admin') || roles.some((r) => user.roles.includes(r));
}

export const allow = {
  /** Anyone, signed in or not (the sign-in page, public certificate verification). */
  public: Object.freeze<AccessPolicy>({ description: 'public', public: true, allows: () => true }),
  /**
   * Anyone, posting from another site: for endpoints such as a SAML assertion consumer, which an
   * identity provider's page posts to and which verify the message's signature themselves. Such
   * routes are exempt from the CSRF token (the browser cannot have one), so the handler must
   * trust nothing in the request that is not signed.
   */
  signedMessage(description: string): AccessPolicy {
    return Object.freeze({ description: `public, signed message: ${description}`, public: true, crossSite: true, allows: () => true });
  },
  /** Any signed-in person. */
  signedIn: Object.freeze<AccessPolicy>({ description: 'signed in', public: false, allows: (_req, u) => !!u }),
  /** People holding one of these roles (admins always pass). */
  roles(...roles: Role[]): AccessPolicy {
    return Object.freeze({ description: `roles: ${roles.join(', ')}`, public: false, allows: (_r: Request, u?: SessionUser) => hasRole(u, roles) });
  },
  /**
   * A signed-in person for whom the check says yes: ownership rules such as "the course's trainers".
   * The check runs only for signed-in people.
   */
  when(description: string, check: (req: Request, user: SessionUser) => boolean | Promise<boolean>): AccessPolicy {
    return Object.freeze({ description, public: false, allows: (r: Request, u?: SessionUser) => (u ? check(r, u) : false) });
  },
};

export function isAccessPolicy(value: unknown): value is AccessPolicy {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AccessPolicy).allows === 'function' &&
    typeof (value as AccessPolicy).description === 'string'
  );
}

/** Express middleware enforcing a policy: anonymous people are sent to sign in, others get 403. */
export function guard(policy: AccessPolicy): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const user = req.user;
    if (await policy.allows(req, user)) return next();
    if (!user) {
      if (req.method === 'GET' && req.accepts(['html', 'json']) === 'html') {
        return res.redirect(303, `/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
      }
      throw unauthorized();
    }
    throw forbidden();
  };
}
