import type { Request, Response } from 'express';
import { z } from 'zod';
import { allow, ROLES, type Role } from '../access.ts';
import { HttpError, notFound } from '../errors.ts';
import type { UsersService } from '../host-contract.ts';
import { fieldErrors, parseInput } from '../http.ts';
import type { PluginRouter } from '../plugin.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/password.ts';

const PAGE_SIZE = 50;

const rolesField = z.preprocess(
  (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
  z.array(z.enum(ROLES, { error: 'Unknown role.' })).min(1, 'Choose at least one role.'),
);

const newUserSchema = z.object({
  email: z.email('Enter a valid e-mail address.').max(254),
  name: z.string().trim().min(1, 'Enter the person’s name.').max(200),
  organisation: z.string().trim().max(200).optional(),
  password: z.string().min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters.`).max(PASSWORD_MAX_LENGTH),
  roles: rolesField,
});

const listSchema = z.object({
  q: z.string().trim().max(100).optional().catch(undefined),
  role: z.enum(ROLES).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(100000).optional().catch(undefined),
});

/** Admin pages: list and search accounts, create local accounts, change roles. Admins only. */
export function mountAdminUserRoutes(router: PluginRouter, users: UsersService) {
  const admin = allow.roles('admin');

  const renderList = async (req: Request, res: Response, form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}) => {
    const query = listSchema.parse(req.query);
    const { users: list, total } = await users.list({ search: query.q, role: query.role, page: query.page, pageSize: PAGE_SIZE });
    res.render('admin/users', {
      title: req.t('admin.users.title'),
      list,
      total,
      query,
      page: query.page ?? 1,
      pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      roles: ROLES,
      values: form.values ?? { roles: ['learner'] },
      errors: form.errors ?? {},
    });
  };

  router.get('/admin/users', admin, (req, res) => renderList(req, res));

  router.post('/admin/users', admin, async (req, res) => {
    try {
      const input = parseInput(newUserSchema, req.body);
      const created = await users.create(input, `admin:${req.user!.id}`);
      req.flash('success', req.t('admin.users.created', { email: created.email }));
      return res.redirect(303, '/admin/users');
    } catch (err) {
      const errors = fieldErrors(err) ?? (err instanceof HttpError && err.status === 409 ? { email: err.message } : null);
      if (!errors) throw err;
      res.status(err instanceof HttpError ? err.status : 400);
      const { password: _omit, ...values } = (req.body ?? {}) as Record<string, unknown>;
      return renderList(req, res, { values, errors });
    }
  });

  router.post('/admin/users/:id/roles', admin, async (req, res) => {
    const id = String(req.params.id);
    const target = await users.findById(id);
    if (!target) throw notFound('No such user.');
    const parsed = rolesField.safeParse(req.body?.roles);
    if (!parsed.success) throw new HttpError(400, 'VALIDATION_FAILED', parsed.error.issues[0]!.message);
    const roles = parsed.data as Role[];
    // Nobody can take away their own admin role: it is how a site loses its last administrator.
    if (id === req.user!.id && !roles.includes('admin')) {
      throw new HttpError(409, 'CANNOT_DEMOTE_SELF', req.t('admin.users.cannotDemoteSelf'));
    }
    await users.setRoles(id, roles, req.user!.id);
    req.flash('success', req.t('admin.users.rolesChanged', { email: target.email }));
    res.redirect(303, '/admin/users');
  });
}
