import { z } from 'zod';
import { allow, parseInput, type PluginContext, type UsersService } from '../../../src/index.ts';
import type { SsoConfig } from '../config.ts';
import type { IdentityDoc, LastSignInDoc } from '../models/saml.models.ts';
import type { AccountService } from '../services/accounts.ts';
import type { IdpRegistry } from '../services/idp-registry.ts';

const lookupSchema = z.object({ email: z.string().trim().max(254).optional() });

/**
 * The admins' page: each IdP's state (metadata, certificates and their expiry) and, for a chosen
 * person, the attributes the IdP sent at their last sign-in, to solve mapping problems.
 */
export function mountAdminRoutes(ctx: PluginContext<SsoConfig>, deps: { registry: IdpRegistry; users: UsersService; accounts: AccountService }) {
  ctx.router.get('/admin', allow.roles('admin'), async (req, res) => {
    const { email } = parseInput(lookupSchema, req.query);
    let lookup:
      | { email: string; user?: { id: string; name: string; email: string } | undefined; identities: IdentityDoc[]; last?: LastSignInDoc | null | undefined }
      | undefined;
    if (email) {
      const user = await deps.users.findByEmail(email);
      const record = user ? await deps.accounts.signInRecordOf(user.id) : undefined;
      lookup = { email, user: user ?? undefined, identities: record?.identities ?? [], last: record?.last };
    }
    res.render('sso-saml/admin', {
      title: req.t('sso-saml:admin.title'),
      idps: deps.registry.all(),
      spEntityId: deps.registry.spEntityId,
      spCertificate: deps.registry.spCertificate,
      warningDays: ctx.config.certificateWarningDays,
      lookup,
    });
  });
}
