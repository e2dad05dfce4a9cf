import type { Request } from 'express';
import { z } from 'zod';
import { allow, ROLES, type Role } from '../access.ts';
import { HttpError, noSuchUser } from '../errors.ts';
import { englishT, refusalFor } from '../http.ts';
import type { UsersService } from '../host-contract.ts';
import { form } from '../forms.ts';
import type { PluginRouter } from '../plugin.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/password.ts';
import type { AccountsService } from '../auth/accounts.service.ts';
import type { UserModels } from '../auth/users.ts';
import type { MailService } from '../mail/mail.service.ts';
import type { Audit } from './audit.ts';
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { findByKeys } from '../keyed-reads.ts';
import { isObjectId } from '../ids.ts';

export interface AdminUserDeps {
  users: UsersService;
  models: UserModels;
  accounts: AccountsService;
  mail: MailService;
  audit: Audit;
}

const PAGE_SIZE = 20;

const rolesField = z.preprocess(
  (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
  z.array(z.enum(ROLES, { error: 'admin.users.errors.unknownRole' })).min(1, 'admin.users.errors.chooseRole'),
);

const newUserSchema = z
  .object({
    email: z.email('errors.fields.email').max(254),
    name: z.string().trim().min(1, 'admin.users.errors.name').max(200),
    organisation: z.string().trim().max(200).optional(),
    password: z
      .string()
      .max(PASSWORD_MAX_LENGTH)
      .optional()
      .transform((v) => (v ? v : undefined))
      .refine((v) => v === undefined || v.length >= PASSWORD_MIN_LENGTH, { message: 'account.passwordTooShort', params: { min: PASSWORD_MIN_LENGTH } }),
    invite: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()),
    roles: rolesField,
  })
  .refine((v) => v.invite || v.password, { path: ['password'], message: 'admin.users.errors.passwordOrInvite' });

/** A form's own key: the same form posted twice (a double click) does its work once. */
const requestKey = z
  .string()
  .regex(/^[a-f0-9-]{36}$/)
  .catch(() => crypto.randomUUID());

const listSchema = z.object({
  q: z.string().trim().max(100).optional().catch(undefined),
  role: z.enum(ROLES).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(100000).optional().catch(undefined),
});

/** Admin pages: list and search accounts, create local accounts, change roles. Admins only. */
export function mountAdminUserRoutes(router: PluginRouter, deps: AdminUserDeps) {
  const { users, models, accounts, mail, audit } = deps;
  const admin = allow.roles('admin');

  const listLocals = async (req: Request, form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}) => {
    const query = listSchema.parse(req.query);
    const read = (page?: number) => users.list({ search: query.q, role: query.role, page, pageSize: PAGE_SIZE, lang: req.language });
    let { users: list, total } = await read(query.page);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    // A page past the end (an old link, a typed number) shows the last one.
    if ((query.page ?? 1) > pages) {
      query.page = pages;
      ({ users: list, total } = await read(pages));
    }
    return {
      title: req.t('admin.users.title'),
      list,
      total,
      query,
      page: query.page ?? 1,
      pages,
      roles: ROLES,
      values: form.values ?? { roles: ['learner'], invite: 'on' },
      requestKey: crypto.randomUUID(),
      errors: form.errors ?? {},
    };
  };

  // The menu's "Administration" opens on its first page.
  router.get('/admin', admin, (_req, res) => res.redirect(303, '/admin/users'));
  router.get('/admin/users', admin, async (req, res) => res.render('admin/users', await listLocals(req)));

  router.post(
    '/admin/users',
    admin,
    form({
      schema: newUserSchema,
      view: 'admin/users',
      locals: (req, { values, errors }) => listLocals(req, { values, errors }),
      // The one refusal of a valid form: the address is another account's.
      fields: { CONFLICT: 'email' },
      secret: ['password'],
      async handle(req, res, input) {
        const created = await users.create(
          { email: input.email, name: input.name, organisation: input.organisation, roles: input.roles, password: input.password },
          `admin:${req.user!.id}`,
        );
        await models.User.updateOne({ _id: created.id }, { $set: { localSignIn: true } });
        await audit.record({ actor: req.user!.id, action: 'account-created', userId: created.id, details: input.roles.join(', ') });
        if (input.invite && !input.password) {
          await users.invite({ email: created.email, name: created.name }, { by: req.user!.id, key: `admin:${requestKey.parse(req.body?.requestKey)}` });
          req.flash('success', req.t('admin.users.createdInvited', { email: created.email }));
        } else req.flash('success', req.t('admin.users.created', { email: created.email }));
        res.redirect(303, `/admin/users/${created.id}`);
      },
    }),
  );

  router.post('/admin/users/:id/roles', admin, async (req, res) => {
    const id = String(req.params.id);
    const target = await users.findById(id);
    if (!target) throw noSuchUser();
    const parsed = rolesField.safeParse(req.body?.roles);
    if (!parsed.success) {
      // Not a form of its own (a row of the list): the error page says what is wrong.
      const key = parsed.error.issues[0]!.message;
      throw new HttpError(400, 'VALIDATION_FAILED', englishT(req)(key), undefined, { key });
    }
    const roles = parsed.data as Role[];
    // Nobody can take away their own admin role: it is how a site loses its last administrator.
    if (id === req.user!.id && !roles.includes('admin')) {
      throw refusalFor(req, 409, 'CANNOT_DEMOTE_SELF', 'admin.users.cannotDemoteSelf');
    }
    await users.setRoles(id, roles, req.user!.id);
    await audit.record({ actor: req.user!.id, action: 'roles-changed', userId: id, details: roles.join(', ') });
    req.flash('success', req.t('admin.users.rolesChanged', { email: target.email }));
    res.redirect(303, safeBack(req.body?.back, '/admin/users'));
  });

  /** One person: their account, how they sign in, what was sent to them, what was done to their account. */
  router.get('/admin/users/:id', admin, async (req, res) => {
    const doc = isObjectId(req.params.id) ? await models.User.findById(String(req.params.id)).lean() : null;
    if (!doc) throw noSuchUser();
    const id = String(doc._id);
    const [hasPassword, mayUsePassword, sent, log] = await Promise.all([
      accounts.hasPassword(id),
      accounts.mayUsePassword(id),
      mail.list({ to: doc.email, pageSize: 50 }),
      audit.of(id),
    ]);
    // Who did what, by name: the actors are account ids (or labels such as 'self', 'cli').
    const actors = new Map(
      (
        await findByKeys(
          models.User,
          [...new Set(log.map((e) => e.actor))].filter(isObjectId).map((a) => new mongoose.Types.ObjectId(a)),
        )
      ).map((u) => [String(u._id), u.name]),
    );
    res.render('admin/user', {
      title: doc.name,
      person: doc,
      id,
      hasPassword,
      mayUsePassword,
      sent: sent.messages,
      log,
      actors,
      roles: ROLES,
      requestKey: crypto.randomUUID(),
    });
  });

  const person = async (req: Request) => {
    const target = await users.findById(String(req.params.id));
    if (!target) throw noSuchUser();
    return target;
  };

  router.post('/admin/users/:id/deactivate', admin, async (req, res) => {
    const target = await person(req);
    if (target.id === req.user!.id) throw refusalFor(req, 409, 'CANNOT_DEACTIVATE_SELF', 'admin.users.cannotDeactivateSelf');
    await models.User.updateOne({ _id: target.id }, { $set: { disabled: true } });
    // At once, on every instance: sessions live in the database.
    const ended = await users.endSessions(target.id);
    await audit.record({ actor: req.user!.id, action: 'deactivated', userId: target.id, details: `${ended} session(s) ended` });
    req.flash('success', req.t('admin.users.deactivated', { email: target.email }));
    res.redirect(303, `/admin/users/${target.id}`);
  });

  router.post('/admin/users/:id/reactivate', admin, async (req, res) => {
    const target = await person(req);
    await models.User.updateOne({ _id: target.id }, { $set: { disabled: false } });
    await audit.record({ actor: req.user!.id, action: 'reactivated', userId: target.id });
    req.flash('success', req.t('admin.users.reactivated', { email: target.email }));
    res.redirect(303, `/admin/users/${target.id}`);
  });

  router.post('/admin/users/:id/invite', admin, async (req, res) => {
    const target = await person(req);
    if (await users.isDisabled(target.id)) throw refusalFor(req, 409, 'ACCOUNT_DISABLED', 'admin.users.disabledNoMail');
    const { sent } = await users.invite(
      { email: target.email, name: target.name },
      { by: req.user!.id, key: `admin:${requestKey.parse(req.body?.requestKey)}` },
    );
    req.flash(sent ? 'success' : 'info', req.t(sent ? 'admin.users.invitationSent' : 'admin.users.invitationNotNeeded', { email: target.email }));
    res.redirect(303, `/admin/users/${target.id}`);
  });

  router.post('/admin/users/:id/reset-link', admin, async (req, res) => {
    const target = await person(req);
    if (await users.isDisabled(target.id)) throw refusalFor(req, 409, 'ACCOUNT_DISABLED', 'admin.users.disabledNoMail');
    const outcome = await accounts.sendResetByAdmin(target.id, req.user!.id, requestKey.parse(req.body?.requestKey));
    req.flash(
      outcome === 'sent' ? 'success' : 'info',
      req.t(outcome === 'sent' ? 'admin.users.resetSent' : 'admin.users.resetSsoOnly', { email: target.email }),
    );
    res.redirect(303, `/admin/users/${target.id}`);
  });

  router.post('/admin/users/:id/allow-local-password', admin, async (req, res) => {
    const target = await person(req);
    await accounts.allowLocalPassword(target.id, req.user!.id);
    req.flash('success', req.t('admin.users.localAllowed', { email: target.email }));
    res.redirect(303, `/admin/users/${target.id}`);
  });
}

/** Only the admin's own pages are places to return to. */
const safeBack = (back: unknown, fallback: string) => (typeof back === 'string' && /^\/admin\/users(\/[0-9a-f]{24})?$/.test(back) ? back : fallback);
