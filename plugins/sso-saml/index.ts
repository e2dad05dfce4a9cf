import { allow, definePlugin, Navigation, SignInMethods, Users } from '../../src/index.ts';
import { ssoConfigSchema } from './config.ts';
import {
  consumedAssertionSchema,
  identitySchema,
  lastSignInSchema,
  pendingRequestSchema,
  type ConsumedAssertionDoc,
  type IdentityDoc,
  type LastSignInDoc,
  type PendingRequestDoc,
} from './models/saml.models.ts';
import { mountAdminRoutes } from './routes/admin.routes.ts';
import { mountSamlRoutes } from './routes/saml.routes.ts';
import { createAccountService } from './services/accounts.ts';
import { IdpRegistry } from './services/idp-registry.ts';
import { createMessageLedger } from './services/request-cache.ts';

/**
 * SAML 2.0 sign-in: UN staff through Unite ID (Microsoft Entra), other organisations through their
 * own identity providers, next to the local accounts. With no IdP configured it offers nothing and
 * changes nothing. See docs/sso.md.
 */
export default definePlugin({
  name: 'sso-saml',
  version: '1.0.0',
  description: 'Sign-in through SAML 2.0 identity providers (Unite ID / Microsoft Entra, partner organisations).',
  prefix: '/auth/saml',
  config: ssoConfigSchema,

  register(ctx) {
    const PendingRequest = ctx.model<PendingRequestDoc>('request', pendingRequestSchema);
    const ConsumedAssertion = ctx.model<ConsumedAssertionDoc>('assertion', consumedAssertionSchema);
    const Identity = ctx.model<IdentityDoc>('identity', identitySchema);
    const LastSignIn = ctx.model<LastSignInDoc>('last_sign_in', lastSignInSchema);
    const users = ctx.get(Users);

    const registry = new IdpRegistry(ctx.config, ctx.host.baseUrl, PendingRequest, ctx.logger);
    // Expired requests and assertions are removed by Olive (FerretDB has no TTL indexes), on one instance at a time.
    const ledger = createMessageLedger(PendingRequest, ConsumedAssertion);
    ctx.jobs.every('cleanup', 10 * 60 * 1000, () => ledger.removeExpired());

    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    const accounts = createAccountService(users, Identity, LastSignIn);
    mountSamlRoutes(ctx, { registry, accounts, users, ledger });
    mountAdminRoutes(ctx, { registry, users, accounts });

    // Nothing is offered until an identity provider is configured.
    if (ctx.config.idps.length) {
      for (const idp of ctx.config.idps) {
        ctx.contribute(SignInMethods, { id: `saml-${idp.id}`, label: idp.label, href: `/auth/saml/${idp.id}/login` });
      }
      ctx.contribute(Navigation, { label: 'sso-saml:nav', href: '/auth/saml/admin', policy: allow.roles('admin'), order: 91 });
    }

    return {
      start: () => registry.start(),
      stop: () => registry.stop(),
    };
  },
});
