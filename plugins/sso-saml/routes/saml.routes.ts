import type { Request, Response } from 'express';
import type { Profile } from '@node-saml/passport-saml';
import { allow, safeReturnTo, signInPerson, signOutPerson, type Handler, type PluginContext, type UsersService } from '../../../src/index.ts';
import type { SsoConfig } from '../config.ts';
import type { AccountService } from '../services/accounts.ts';
import { attributesFrom, mapPerson } from '../services/accounts.ts';
import type { ActiveIdp, IdpRegistry, IdpStatus } from '../services/idp-registry.ts';
import { refusalFromValidationError, SamlRefusal } from '../services/refusal.ts';
import { bindBrowser, bindingOf, readBindingCookie, whileBinding } from '../services/browser-binding.ts';
import type { MessageLedger } from '../services/request-cache.ts';
import { checkPostedMessage, readVerifiedAssertion, REDIRECT_SIGNATURE_ALGORITHMS } from '../services/response-checks.ts';
import { runStrategy } from '../services/run-strategy.ts';

/** What single logout needs later, kept in the session of a person signed in through an IdP. */
export interface SamlSessionInfo {
  idp: string;
  nameID: string;
  nameIDFormat: string;
  nameQualifier?: string | undefined;
  spNameQualifier?: string | undefined;
  sessionIndex?: string | undefined;
}

declare module 'express-session' {
  interface SessionData {
    saml?: SamlSessionInfo;
  }
}

export interface SamlRouteDeps {
  registry: IdpRegistry;
  accounts: AccountService;
  users: UsersService;
  ledger: MessageLedger;
}

/** Only the form fields a strategy should see: never the query string of a POST, never the session. */
const strategyRequest = (fields: { query?: Record<string, unknown>; body?: Record<string, unknown> }) =>
  ({ query: fields.query ?? {}, body: fields.body ?? {}, headers: {} }) as unknown as Request;

const param = (req: Request, name: string) => String(req.params[name] ?? '');

/**
 * The SAML endpoints of each IdP, under `/auth/saml/<idp>/`: metadata, login, the assertion
 * consumer, sign-out started by Olive, and the single-logout service the IdP talks to.
 */
export function mountSamlRoutes(ctx: PluginContext<SsoConfig>, deps: SamlRouteDeps) {
  const { registry, accounts, users, ledger } = deps;
  // Behind TLS when the public address is https, as the host's own cookies are by default.
  const secure = ctx.host.baseUrl.startsWith('https://');
  const requestLifetimeMs = ctx.config.requestLifetimeMinutes * 60 * 1000;

  /** Every refusal: a log line with the detail, a page with the reason, nothing else. */
  const refuse = (req: Request, res: Response, refusal: SamlRefusal) => {
    ctx.logger.warn({ idp: param(req, 'idp'), reason: refusal.reason, detail: refusal.detail, path: req.path }, `SAML message refused: ${refusal.reason}`);
    res.status(refusal.status).render('sso-saml/refused', { title: req.t('sso-saml:refused.title'), reason: refusal.reason, takeFlash: () => [] });
  };
  const guarded =
    (handler: Handler): Handler =>
    async (req, res, next) => {
      try {
        await handler(req, res, next);
      } catch (err) {
        if (err instanceof SamlRefusal) return refuse(req, res, err);
        throw err;
      }
    };
  const knownIdp = (req: Request): IdpStatus => {
    const id = param(req, 'idp');
    const status = registry.status(id);
    if (!status) throw new SamlRefusal('UNKNOWN_IDP', `no identity provider '${id.slice(0, 50)}'`);
    return status;
  };
  const activeIdp = (req: Request): ActiveIdp => {
    const status = knownIdp(req);
    if (!status.active) throw new SamlRefusal('IDP_UNAVAILABLE', status.problem ?? 'not loaded');
    return status.active;
  };

  ctx.router.get(
    '/:idp/metadata',
    allow.public,
    guarded(async (req, res) => {
      res.type('application/samlmetadata+xml').send(registry.serviceProviderMetadata(knownIdp(req).config));
    }),
  );

  ctx.router.get(
    '/:idp/login',
    allow.public,
    guarded(async (req, res) => {
      const idp = activeIdp(req);
      // RelayState travels unsigned through the IdP: only ever a local path, checked again on return.
      const RelayState = safeReturnTo(req.query.returnTo, '/');
      const binding = bindBrowser(req, res, secure, requestLifetimeMs);
      const outcome = await whileBinding(binding, () => runStrategy(idp.strategy, strategyRequest({ query: { RelayState } })));
      if (outcome.kind !== 'redirect') throw outcome.kind === 'error' ? outcome.err : new Error(`unexpected ${outcome.kind} while starting SAML sign-in`);
      res.redirect(303, outcome.url);
    }),
  );

  ctx.router.post(
    '/:idp/acs',
    allow.signedMessage('SAML assertion consumer'),
    guarded(async (req, res) => {
      const idp = activeIdp(req);
      const posted = checkPostedMessage(req.body?.SAMLResponse, 'Response');
      // SAML bindings 3.5.5.2: a signed message must name where it was sent, or it could be posted anywhere.
      if (posted.signed && posted.destination === null) throw new SamlRefusal('WRONG_DESTINATION', 'a signed Response without a Destination');
      if (posted.destination !== null && posted.destination !== idp.urls.acs)
        throw new SamlRefusal('WRONG_DESTINATION', `Destination ${posted.destination} is not ${idp.urls.acs}`);
      if (posted.issuer !== null && posted.issuer !== idp.endpoints.entityId)
        throw new SamlRefusal('WRONG_ISSUER', `response issued by ${posted.issuer}, expected ${idp.endpoints.entityId}`);

      // Only in the browser that started this sign-in. An unknown or expired request is left to
      // node-saml, which refuses it (UNKNOWN_REQUEST), as it refuses unsolicited responses.
      const request = posted.inResponseTo ? await ledger.pendingRequest(idp.config.id, posted.inResponseTo) : null;
      if (request) {
        const cookie = readBindingCookie(req, secure);
        if (!cookie)
          throw new SamlRefusal(
            'OTHER_BROWSER',
            `no sign-in cookie came with the answer to ${posted.inResponseTo} (another browser, or the cookie expired or was not sent)`,
          );
        if (!request.binding || bindingOf(cookie) !== request.binding)
          throw new SamlRefusal('OTHER_BROWSER', `the answer to ${posted.inResponseTo} came with the cookie of another browser`);
      }

      // Signatures (response and assertion), InResponseTo, audience, time limits: passport-saml.
      const outcome = await runStrategy(idp.strategy, strategyRequest({ body: { SAMLResponse: req.body.SAMLResponse } }));
      if (outcome.kind === 'error') throw refusalFromValidationError(outcome.err);
      if (outcome.kind !== 'success') throw new SamlRefusal('INVALID_RESPONSE', `no assertion (${outcome.kind})`);
      const profile = outcome.user as Profile;

      // What we rely on is read again from the signed assertion only.
      const facts = readVerifiedAssertion(profile.getAssertionXml!());
      if (facts.issuer !== idp.endpoints.entityId)
        throw new SamlRefusal('WRONG_ISSUER', `assertion issued by ${facts.issuer}, expected ${idp.endpoints.entityId}`);
      if (!facts.recipients.length || facts.recipients.some((r) => r !== idp.urls.acs)) {
        throw new SamlRefusal('WRONG_DESTINATION', `Recipient ${facts.recipients.join(', ') || '(none)'} is not ${idp.urls.acs}`);
      }
      // The binding was checked for the Response's InResponseTo; the assertion, signed, must answer that same request.
      if (!request || !facts.inResponseTo.length || facts.inResponseTo.some((r) => r !== posted.inResponseTo)) {
        throw new SamlRefusal(
          'UNKNOWN_REQUEST',
          `the signed assertion answers ${facts.inResponseTo.join(', ') || '(no request)'}, the response ${posted.inResponseTo ?? '(no request)'}`,
        );
      }
      if (!facts.id || !facts.nameID) throw new SamlRefusal('INVALID_RESPONSE', 'the assertion has no ID or no NameID');
      if (facts.nameID !== profile.nameID) throw new SamlRefusal('INVALID_RESPONSE', 'the NameID reads differently depending on the parser');
      const rememberUntil = new Date(facts.notOnOrAfter.getTime() + idp.config.clockSkewSeconds * 1000);
      if (!(await ledger.consumeAssertion(idp.config.id, facts.id, rememberUntil))) {
        throw new SamlRefusal('REPLAYED', `assertion ${facts.id} was already used`);
      }

      const attributes = attributesFrom(profile.attributes);
      const person = mapPerson(idp.config, facts.nameID, attributes);
      const account = await accounts.findOrCreate(idp.config, person);
      if (await users.isDisabled(account.user.id)) throw new SamlRefusal('ACCOUNT_UNAVAILABLE', `account ${account.user.id} is disabled`);
      const user = await accounts.refresh(idp.config, person, account.user);
      await accounts.recordAttributes(idp.config, user.id, facts.nameID, profile.nameIDFormat ?? '', attributes);
      const session: SamlSessionInfo = {
        idp: idp.config.id,
        nameID: facts.nameID,
        nameIDFormat: profile.nameIDFormat ?? '',
        nameQualifier: profile.nameQualifier,
        spNameQualifier: profile.spNameQualifier,
        sessionIndex: profile.sessionIndex,
      };
      await signInPerson(req, user, users, { method: `saml:${idp.config.id}`, session: { saml: session }, signOutPath: `/auth/saml/${idp.config.id}/logout` });
      ctx.logger.info({ idp: idp.config.id, userId: user.id, created: account.created, linked: account.linked }, 'signed in through SAML');
      req.flash('success', req.t('login.welcome', { name: user.name }));
      res.redirect(303, safeReturnTo(req.body.RelayState, '/'));
    }),
  );

  // Sign-out started in Olive: the host's POST /logout continues here (with its CSRF token).
  ctx.router.post(
    '/:idp/logout',
    allow.signedIn,
    guarded(async (req, res) => {
      const info = req.session.saml;
      await signOutPerson(req, res);
      const idp = registry.active(param(req, 'idp'));
      if (!info || info.idp !== idp?.config.id || !idp.endpoints.sloUrl) return res.redirect(303, '/login?signedOut=1');
      const url = await idp.saml.getLogoutUrlAsync(info as unknown as Profile, '', {});
      // A page rather than a redirect: the page's CSP (form-action 'self') forbids a form post from
      // being redirected to another site. The session is gone, so no token and no account menu.
      res.render('sso-saml/signing-out', {
        title: req.t('sso-saml:signingOut.title'),
        url,
        label: idp.config.label,
        user: undefined,
        nav: [],
        csrfToken: () => '',
        takeFlash: () => [],
      });
    }),
  );

  // The single-logout service: the IdP's logout requests, and its answers to ours.
  const singleLogout: Handler = guarded(async (req, res) => {
    const idp = activeIdp(req);
    const redirectBinding = req.method === 'GET';
    const message = (redirectBinding ? req.query : (req.body ?? {})) as Record<string, string>;
    const originalQuery = req.originalUrl.split('?')[1] ?? '';
    if (message.SAMLRequest) {
      // node-saml accepts an unsigned redirect-binding request; a logout anyone could trigger is not acceptable.
      if (redirectBinding && (!message.Signature || !REDIRECT_SIGNATURE_ALGORITHMS.has(String(message.SigAlg)))) {
        throw new SamlRefusal('UNSIGNED_LOGOUT', `logout request without an accepted signature (SigAlg ${String(message.SigAlg ?? 'none')})`);
      }
      if (!redirectBinding) checkPostedMessage(message.SAMLRequest, 'LogoutRequest');
      let result;
      try {
        result = redirectBinding ? await idp.saml.validateRedirectAsync(message, originalQuery) : await idp.saml.validatePostRequestAsync(message);
      } catch (err) {
        throw refusalFromValidationError(err);
      }
      const profile = result.profile;
      if (!result.loggedOut || !profile?.nameID) throw new SamlRefusal('MALFORMED', 'not a logout request');
      let ended = 0;
      const where: Record<string, string> = { 'saml.idp': idp.config.id, 'saml.nameID': profile.nameID };
      if (profile.sessionIndex) where['saml.sessionIndex'] = profile.sessionIndex;
      for (const userId of await accounts.accountsNamed(idp.config.id, profile.nameID)) {
        ended += await users.endSessions(userId, where);
      }
      // This browser's own session, if the request came with it, is gone from the store; end it here too.
      if (req.user && req.session.saml?.idp === idp.config.id && req.session.saml.nameID === profile.nameID) await signOutPerson(req, res);
      ctx.logger.info({ idp: idp.config.id, sessionsEnded: ended }, 'single logout requested by the identity provider');
      const url = await idp.saml.getLogoutResponseUrlAsync(profile, message.RelayState ?? '', {}, true);
      return res.redirect(303, url);
    }
    if (message.SAMLResponse) {
      // The answer to our own logout request: the local session already ended before we asked.
      try {
        if (redirectBinding) await idp.saml.validateRedirectAsync(message, originalQuery);
        else await idp.saml.validatePostResponseAsync({ SAMLResponse: message.SAMLResponse });
      } catch (err) {
        const refusal = refusalFromValidationError(err);
        ctx.logger.warn({ idp: idp.config.id, reason: refusal.reason, detail: refusal.detail }, 'logout response from the identity provider not accepted');
      }
      return res.redirect(303, '/login?signedOut=1');
    }
    throw new SamlRefusal('MALFORMED', 'no SAMLRequest or SAMLResponse');
  });
  ctx.router.get('/:idp/slo', allow.public, singleLogout);
  ctx.router.post('/:idp/slo', allow.signedMessage('SAML single logout service'), singleLogout);
}
