/**
 * Why a SAML message was refused. Each reason has a page text (`sso-saml:refused.<reason>`), a
 * status, and a log line with the detail; the person never sees the detail (it can help an attacker).
 */
export const REFUSALS = {
  UNKNOWN_IDP: 404,
  IDP_UNAVAILABLE: 503,
  MALFORMED: 400,
  WEAK_ALGORITHM: 401,
  INVALID_SIGNATURE: 401,
  UNKNOWN_REQUEST: 401,
  OTHER_BROWSER: 401,
  REPLAYED: 401,
  OUTSIDE_VALIDITY: 401,
  WRONG_AUDIENCE: 401,
  WRONG_ISSUER: 401,
  WRONG_DESTINATION: 401,
  IDP_ERROR: 401,
  INVALID_RESPONSE: 401,
  MISSING_KEY: 403,
  MISSING_EMAIL: 403,
  DOMAIN_NOT_ALLOWED: 403,
  NO_ACCOUNT: 403,
  EMAIL_TAKEN: 403,
  ACCOUNT_UNAVAILABLE: 403,
  UNSIGNED_LOGOUT: 401,
} as const;
export type RefusalReason = keyof typeof REFUSALS;

export class SamlRefusal extends Error {
  readonly status: number;
  constructor(
    readonly reason: RefusalReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'SamlRefusal';
    this.status = REFUSALS[reason];
  }
}

/** Sorts node-saml's validation errors (plain messages) into our reasons. */
export function refusalFromValidationError(err: unknown): SamlRefusal {
  if (err instanceof SamlRefusal) return err;
  const message = err instanceof Error ? err.message : String(err);
  const reason: RefusalReason = /SAML provider returned/i.test(message)
    ? 'IDP_ERROR'
    : /InResponseTo/i.test(message)
      ? 'UNKNOWN_REQUEST'
      : /signature|multiple assertions|ID cannot refer|Referenced node|transforms/i.test(message)
        ? 'INVALID_SIGNATURE'
        : /expired|not yet valid|too old|subject confirmation/i.test(message)
          ? 'OUTSIDE_VALIDITY'
          : /audience/i.test(message)
            ? 'WRONG_AUDIENCE'
            : /issuer/i.test(message)
              ? 'WRONG_ISSUER'
              : 'INVALID_RESPONSE';
  return new SamlRefusal(reason, message);
}
