import express, { type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import { csrfSync } from 'csrf-sync';
import type { Connection } from 'mongoose';
import type { HostConfig } from './config.ts';
import { addressKey, sharedRateLimit } from './rate-limit-store.ts';
import type { CrossSiteRoute } from './router.ts';

/**
 * Strict content security policy: our own stylesheet and scripts only, no inline code, no
 * framing, forms post only to us. Pages work without JavaScript, so nothing here needs loosening.
 */
export function securityHeaders(config: HostConfig) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        mediaSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(config.secureCookies ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    // HSTS only makes sense when the site is served over TLS.
    strictTransportSecurity: config.secureCookies ? { maxAge: 31536000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'same-origin' },
  });
}

/**
 * Synchroniser-token CSRF protection (token kept in the session): forms carry `_csrf`, JSON
 * clients send the `x-csrf-token` header, upload (multipart) forms put `_csrf` in their action URL.
 */
export function createCsrf() {
  return csrfSync({
    getTokenFromRequest: (req: Request) => {
      const fromBody = (req.body as Record<string, unknown> | undefined)?._csrf;
      if (typeof fromBody === 'string') return fromBody;
      const header = req.headers['x-csrf-token'];
      if (typeof header === 'string') return header;
      // Upload forms: the body is parsed by the route (streamed to storage) after this check runs,
      // so the token travels in the form's action URL: <form action="...?_csrf=<token>">.
      // Only for multipart requests, and request logs never record query strings.
      const fromQuery = (req.query as Record<string, unknown>)._csrf;
      return req.is('multipart/form-data') && typeof fromQuery === 'string' ? fromQuery : undefined;
    },
    errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
  });
}

/**
 * Applies the CSRF check to every request except those matching a route declared with
 * `allow.signedMessage` (e.g. a SAML assertion consumer posted to by an identity provider's page,
 * which cannot carry our token and proves its origin by a signature instead). Matching uses
 * Express's own router, so the exemption covers exactly the declared method and path pattern.
 */
export function csrfUnlessCrossSite(protect: RequestHandler, routes: readonly CrossSiteRoute[]): RequestHandler {
  if (routes.length === 0) return protect;
  const exempt = new WeakSet<Request>();
  const matcher = express.Router();
  for (const route of routes) {
    matcher[route.method](route.path, (req, _res, next) => {
      exempt.add(req);
      next('router');
    });
  }
  return (req, res, next) => {
    matcher(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (exempt.has(req)) return next();
      return protect(req, res, next);
    });
  };
}

/**
 * Sign-in attempts per address and e-mail within 15 minutes: slows password guessing against one
 * account without letting one person lock out a whole office behind the same address. Counted in
 * the database, so the limit holds across every app instance; successes are not counted.
 */
export function loginRateLimit(connection: Connection, name: string, limit: number, onLimited: (req: Request) => never | void) {
  return sharedRateLimit({
    connection,
    name,
    windowMs: 15 * 60 * 1000,
    limit,
    skipSuccessfulRequests: true,
    key: (req) => {
      const email = typeof req.body?.email === 'string' ? req.body.email.trim().toLowerCase().slice(0, 254) : '';
      return `${addressKey(req)}|${email}`;
    },
    onLimited,
  });
}
