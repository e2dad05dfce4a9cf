import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import type { Request, Response } from 'express';

/**
 * Binds a sign-in to the browser that started it (the defence against login CSRF: an attacker
 * who obtains a valid answer for their own account must not be able to sign a victim's browser
 * into it). Starting a sign-in gives the browser a random cookie; the request Olive sends to the
 * IdP is stored with the hash of that cookie (never the value: the database holds nothing a browser
 * could replay); the assertion consumer accepts an answer only with a cookie of that hash.
 *
 * The IdP's answer arrives as a cross-site POST, which carries a cookie only if it is
 * `SameSite=None`, and browsers take `SameSite=None` only with `Secure`. Behind TLS the cookie is
 * `__Host-olive.saml` (`Secure`, `Path=/`, no `Domain`: a neighbouring subdomain cannot plant one of
 * its own choosing). Over plain http (development) it has no SameSite attribute: Chromium then
 * treats it as Lax but still sends it with a top-level cross-site POST during the two minutes after
 * it was set (an explicit `SameSite=Lax` would never be sent); an IdP on the same site (another
 * port of the same host, as in the demo and the tests) receives it in any case. See docs/sso.md.
 */
const COOKIE = 'olive.saml';
const SECURE_COOKIE = '__Host-olive.saml';
const VALUE = /^[A-Za-z0-9_-]{43}$/;

export const bindingOf = (cookieValue: string) => crypto.createHash('sha256').update(cookieValue).digest('base64url');

const cookieName = (secure: boolean) => (secure ? SECURE_COOKIE : COOKIE);

/** The browser's sign-in cookie, if it sent a well-formed one (under the name this deployment uses only). */
export function readBindingCookie(req: Request, secure: boolean): string | undefined {
  const prefix = `${cookieName(secure)}=`;
  const value = req.headers.cookie
    ?.split(/;\s*/)
    .find((c) => c.startsWith(prefix))
    ?.slice(prefix.length);
  return value && VALUE.test(value) ? value : undefined;
}

/**
 * Gives the browser its sign-in cookie (keeping the one it has, so that two sign-ins started in two
 * tabs both complete) for as long as a request waits for its answer, and returns its hash.
 */
export function bindBrowser(req: Request, res: Response, secure: boolean, lifetimeMs: number): string {
  const value = readBindingCookie(req, secure) ?? crypto.randomBytes(32).toString('base64url');
  res.cookie(cookieName(secure), value, {
    httpOnly: true,
    path: '/',
    maxAge: lifetimeMs,
    ...(secure ? { secure: true, sameSite: 'none' as const } : {}),
  });
  return bindingOf(value);
}

/**
 * node-saml stores its request through our request cache, deep inside its own call: the binding
 * reaches the cache through the async context of the sign-in being started.
 */
const starting = new AsyncLocalStorage<string>();
export const whileBinding = <T>(binding: string, start: () => Promise<T>) => starting.run(binding, start);
export const currentBinding = () => starting.getStore();
