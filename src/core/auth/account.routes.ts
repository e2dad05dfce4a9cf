import type { Request, Response } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import crypto from 'node:crypto';
import { allow } from '../access.ts';
import type { HostConfig } from '../config.ts';
import { notFound } from '../errors.ts';
import { form } from '../forms.ts';
import { invalidFields } from '../http.ts';
import type { PluginRouter } from '../plugin.ts';
import { addressKey, sharedRateLimit } from '../rate-limit-store.ts';
import type { AccountsService } from './accounts.service.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password.ts';
import { normaliseEmail } from './users.ts';

export interface AccountRouteDeps {
  accounts: AccountsService;
  config: HostConfig;
  connection: Connection;
  onLimited: (req: Request) => never;
}

const emailOf = (req: Request) => (typeof req.body?.email === 'string' ? normaliseEmail(req.body.email).slice(0, 254) : '');

/** The person's new password, twice. */
const passwordPair = z
  .object({
    password: z.string().min(PASSWORD_MIN_LENGTH, 'account.passwordTooShort').max(PASSWORD_MAX_LENGTH, 'account.passwordTooLong'),
    confirm: z.string(),
  })
  .refine((v) => v.password === v.confirm, { path: ['confirm'], message: 'account.passwordsDiffer' });

const emailField = z.string().trim().min(1, 'account.enterEmail').max(254, 'account.invalidEmail').pipe(z.email('account.invalidEmail'));

/** Invitations, password resets, self-registration, address confirmation and change. */
export function mountAccountRoutes(router: PluginRouter, deps: AccountRouteDeps) {
  const { accounts, config } = deps;
  const registration = config.REGISTRATION;
  // Every request counts (unlike the sign-in limit, which forgives successes): a reset or a
  // registration answers the same whether or not it did anything, so every answer is a "success".
  // Counted in the database, so the limits hold across all instances.
  const requestLimit = (name: string, windowMs: number, limit: number, key: (req: Request) => string) =>
    sharedRateLimit({ connection: deps.connection, name, windowMs, limit, key, onLimited: deps.onLimited });

  const notice = (req: Request, res: Response, key: string, extra: Record<string, unknown> = {}) =>
    res.render('auth/notice', { title: req.t(`${key}.title`), heading: req.t(`${key}.title`), paragraphs: [req.t(`${key}.body`, extra)], link: extra.link });

  // ---- Forgotten password -------------------------------------------------------------------------
  const forgotPerAddress = requestLimit('host.forgot-address', 15 * 60_000, 20, addressKey);
  const forgotPerAccount = requestLimit('host.forgot-email', 60 * 60_000, 5, emailOf);

  router.get('/account/forgot', allow.public, (req, res) => {
    res.render('auth/forgot', { title: req.t('forgot.title'), email: typeof req.query.email === 'string' ? req.query.email.slice(0, 254) : '', errors: {} });
  });

  router.post(
    '/account/forgot',
    allow.public,
    forgotPerAddress,
    forgotPerAccount,
    form({
      schema: z.object({ email: emailField }),
      view: 'auth/forgot',
      locals: (req, { errors }) => ({ title: req.t('forgot.title'), email: String(req.body?.email ?? '').slice(0, 254), errors }),
      async handle(req, res, { email }) {
        // The same single insert whatever the address: the work (and any mail) happens in a job.
        await accounts.requestReset(email, crypto.randomUUID());
        notice(req, res, 'forgot.sent', { email });
      },
    }),
  );

  // ---- Setting a password through a link (invitation or reset) -------------------------------------
  /**
   * An unusable link says why and offers the way on for its kind. The address is not filled in: the
   * page may be read by whoever has the old mailbox of a person who has since moved.
   */
  const linkProblem = (req: Request, res: Response, purpose: 'invite' | 'reset' | 'verify' | 'email-change', reason: string) => {
    res.status(reason === 'unknown' ? 404 : 410);
    res.render('auth/link-problem', { title: req.t(`link.${reason}.title`), reason, purpose });
  };

  const setPasswordForm = (purpose: 'invite' | 'reset') => {
    const page = (req: Request, errors: Record<string, string> = {}) => ({
      title: req.t(`setPassword.${purpose}.title`),
      purpose,
      action: req.originalUrl.split('?')[0],
      errors,
    });
    return {
      async show(req: Request, res: Response) {
        const checked = await accounts.tokens.check(purpose, req.params.token);
        if (!checked.ok) return linkProblem(req, res, purpose, checked.reason);
        // The address holds the link's secret: never sent on to another site.
        res.setHeader('Referrer-Policy', 'no-referrer');
        res.render('auth/set-password', page(req));
      },
      save: form({
        schema: passwordPair,
        view: 'auth/set-password',
        locals: (req, { errors }) => page(req, errors),
        async handle(req, res, { password }) {
          const result = await accounts.setPasswordWithLink(purpose, String(req.params.token), password);
          if (!result.ok) return linkProblem(req, res, purpose, result.reason);
          req.flash('success', req.t(`setPassword.${purpose}.done`));
          res.redirect(303, `/login?email=${encodeURIComponent(result.user.email)}`);
        },
      }),
    };
  };
  // Each attempt costs a password hash once its link checks out: limited per network address.
  const setPasswordLimit = requestLimit('host.set-password-address', 15 * 60_000, 30, addressKey);
  const invitation = setPasswordForm('invite');
  const reset = setPasswordForm('reset');
  router.get('/account/invitation/:token', allow.public, invitation.show);
  router.post('/account/invitation/:token', allow.public, setPasswordLimit, invitation.save);
  router.get('/account/reset/:token', allow.public, reset.show);
  router.post('/account/reset/:token', allow.public, setPasswordLimit, reset.save);

  // ---- Self-registration ----------------------------------------------------------------------------
  const registerLimit = requestLimit('host.register-address', 60 * 60_000, 10, addressKey);
  const registrationOpen = (_req: Request) => {
    if (registration === 'off') throw notFound();
  };
  const registerPage = (req: Request, values: Record<string, unknown> = {}, errors: Record<string, string> = {}) => ({
    title: req.t('register.title'),
    values,
    errors,
    domains: registration === 'domains' ? config.registrationDomains : [],
  });

  router.get('/register', allow.public, (req, res) => {
    registrationOpen(req);
    if (req.user) return res.redirect(303, '/');
    res.render('auth/register', registerPage(req));
  });

  router.post(
    '/register',
    allow.public,
    registerLimit,
    (req, _res, next) => {
      registrationOpen(req);
      next();
    },
    form({
      schema: z.object({ name: z.string().trim().min(1, 'register.enterName').max(200, 'register.nameTooLong'), email: emailField }).and(passwordPair),
      view: 'auth/register',
      locals: (req, { values, errors }) => registerPage(req, values, errors),
      secret: ['password', 'confirm'],
      async handle(req, res, input) {
        const domain = input.email.split('@')[1]!.toLowerCase();
        if (registration === 'domains' && !config.registrationDomains.includes(domain)) {
          throw invalidFields({ email: { key: 'register.domainNotAllowed', params: { domains: config.registrationDomains.join(', ') } } });
        }
        await accounts.register({ name: input.name, email: input.email, password: input.password, locale: req.language });
        notice(req, res, 'register.sent', { email: input.email });
      },
    }),
  );

  router.post('/account/verify-again', allow.public, forgotPerAddress, forgotPerAccount, async (req, res) => {
    const parsed = z.object({ email: emailField }).safeParse(req.body);
    if (parsed.success) await accounts.resendVerification(parsed.data.email);
    notice(req, res, 'register.sent', { email: parsed.success ? parsed.data.email : '' });
  });

  // Links in mail open a page with a button: mail scanners follow links, and must not confirm anything.
  router.get('/account/verify/:token', allow.public, async (req, res) => {
    const checked = await accounts.tokens.check('verify', req.params.token);
    if (!checked.ok) return linkProblem(req, res, 'verify', checked.reason);
    res.render('auth/confirm', {
      title: req.t('verify.title'),
      heading: req.t('verify.title'),
      body: req.t('verify.body'),
      button: req.t('verify.button'),
      action: req.originalUrl.split('?')[0],
    });
  });

  router.post('/account/verify/:token', allow.public, async (req, res) => {
    const result = await accounts.verify(String(req.params.token));
    if (!result.ok) return linkProblem(req, res, 'verify', result.reason);
    req.flash('success', req.t('verify.done'));
    res.redirect(303, '/login');
  });

  // ---- Changing one's address -----------------------------------------------------------------------
  // The current password is asked for only of people who have one: read once, before the form.
  const readHasPassword = async (req: Request, res: Response, next: () => void) => {
    res.locals.hasPassword = await accounts.hasPassword(req.user!.id);
    next();
  };
  router.post(
    '/account/email',
    allow.signedIn,
    forgotPerAddress,
    readHasPassword,
    form({
      schema: (_req, res) =>
        z.object({
          email: emailField,
          current: res.locals.hasPassword ? z.string().min(1, 'account.enterCurrent').max(PASSWORD_MAX_LENGTH) : z.string().optional(),
        }),
      view: 'auth/account',
      locals: (req, { errors }, res) => ({
        title: req.t('account.title'),
        hasPassword: res.locals.hasPassword,
        errors: {},
        emailErrors: errors,
        newEmail: String(req.body?.email ?? '').slice(0, 254),
      }),
      async handle(req, res, input) {
        const user = req.user!;
        // A borrowed session must not be enough to take over the account by moving its address.
        if (res.locals.hasPassword && !(await accounts.checkPassword(user.id, input.current ?? '')))
          throw invalidFields({ current: { key: 'account.wrongPassword' } });
        if (normaliseEmail(input.email) === user.email) throw invalidFields({ email: { key: 'account.emailSame' } });
        await accounts.requestEmailChange(user, input.email);
        req.flash('success', req.t('account.emailChangeSent', { email: normaliseEmail(input.email) }));
        res.redirect(303, '/account');
      },
    }),
  );

  router.get('/account/confirm-email/:token', allow.public, async (req, res) => {
    const checked = await accounts.tokens.check('email-change', req.params.token);
    if (!checked.ok) return linkProblem(req, res, 'email-change', checked.reason);
    res.render('auth/confirm', {
      title: req.t('confirmEmail.title'),
      heading: req.t('confirmEmail.title'),
      body: req.t('confirmEmail.body', { email: checked.token.email }),
      button: req.t('confirmEmail.button'),
      action: req.originalUrl.split('?')[0],
    });
  });

  router.post('/account/confirm-email/:token', allow.public, async (req, res) => {
    const result = await accounts.confirmEmailChange(String(req.params.token));
    if (!result.ok) {
      if (result.reason === 'taken') {
        res.status(409);
        return notice(req, res, 'confirmEmail.taken');
      }
      return linkProblem(req, res, 'email-change', result.reason);
    }
    req.flash('success', req.t('confirmEmail.done', { email: result.token.email }));
    res.redirect(303, req.user ? '/account' : '/login');
  });
}
