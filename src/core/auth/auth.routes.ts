import type { Request, Response } from 'express';
import type { PassportStatic } from 'passport';
import { z } from 'zod';
import { allow, type SessionUser } from '../access.ts';
import { HttpError } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { SignInMethods, type UsersService } from '../host-contract.ts';
import { form } from '../forms.ts';
import { invalidFields, refusalFor } from '../http.ts';
import { isSupportedLanguage, LANGUAGE_COOKIE } from '../i18n.ts';
import type { PluginRouter } from '../plugin.ts';
import { loginRateLimit } from '../security.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, verifyPassword } from './password.ts';
import { safeReturnTo } from './return-to.ts';
import { signInPerson, signOutPerson } from './sign-in.ts';
import type { UserModels } from './users.ts';
import { SESSIONS_COLLECTION } from '../sessions.ts';

export interface AuthDeps {
  passport: PassportStatic;
  models: UserModels;
  users: UsersService;
  events: EventBus;
  extensions: Map<string, unknown[]>;
  loginRateLimit: number;
  secureCookies: boolean;
  /** Whether the sign-in page offers "Create an account". */
  registration: boolean;
}

const loginSchema = z.object({
  email: z.string().trim().min(1, 'account.enterEmail').max(254),
  password: z.string().min(1, 'login.enterPassword').max(PASSWORD_MAX_LENGTH),
  returnTo: z.string().optional(),
});

/** Sign-in, sign-out, the person's own account page and the language switch. */
export function mountAuthRoutes(router: PluginRouter, deps: AuthDeps) {
  const { passport, models, users } = deps;

  const loginLocals = (req: Request, extra: Record<string, unknown> = {}) => ({
    title: req.t('login.title'),
    methods: deps.extensions.get(SignInMethods.id) ?? [],
    returnTo: safeReturnTo(req.query.returnTo ?? req.body?.returnTo, ''),
    email: typeof req.query.email === 'string' ? req.query.email.slice(0, 254) : '',
    errors: {},
    signedOut: req.query.signedOut === '1',
    unconfirmed: false,
    registration: deps.registration,
    ...extra,
  });
  const renderLogin = (req: Request, res: Response, extra: Record<string, unknown> = {}) => res.render('auth/login', loginLocals(req, extra));

  router.get('/login', allow.public, (req, res) => {
    if (req.user) return res.redirect(303, safeReturnTo(req.query.returnTo));
    renderLogin(req, res);
  });

  const limiter = loginRateLimit(models.User.db, 'host.login', deps.loginRateLimit, (req) => {
    throw refusalFor(req, 429, 'TOO_MANY_ATTEMPTS', 'login.tooMany');
  });

  router.post(
    '/login',
    allow.public,
    limiter,
    form({
      schema: loginSchema,
      view: 'auth/login',
      locals: (req, { errors }) => loginLocals(req, { errors, email: String(req.body?.email ?? '') }),
      async handle(req, res, input) {
        const user = await new Promise<SessionUser | { unconfirmed: true; email: string } | false>((resolve, reject) => {
          passport.authenticate('local', { session: false }, (err: unknown, u: SessionUser | false) => (err ? reject(err) : resolve(u)))(req, res, reject);
        });
        // Not refusals of the form's fields: the page says why, with the address kept.
        if (user && 'unconfirmed' in user) {
          res.status(403);
          return renderLogin(req, res, { errors: { _: req.t('login.unconfirmed') }, email: input.email, unconfirmed: true });
        }
        if (!user) {
          res.status(401);
          return renderLogin(req, res, { errors: { _: req.t('login.failed') }, email: input.email });
        }
        await signInPerson(req, user, users, { method: 'local' });
        req.flash('success', req.t('login.welcome', { name: user.name }));
        res.redirect(303, safeReturnTo(input.returnTo));
      },
    }),
  );

  router.post('/logout', allow.public, async (req, res) => {
    // A sign-in method with more to end (single logout at an identity provider) continues the
    // sign-out on its own route: 307 keeps the method and the form, CSRF token included.
    const continueAt = req.user ? req.session.signOutPath : undefined;
    if (continueAt) return res.redirect(307, continueAt);
    await signOutPerson(req, res);
    res.redirect(303, '/login?signedOut=1');
  });

  router.post('/language', allow.public, async (req, res) => {
    const lang = req.body?.lang;
    if (!isSupportedLanguage(lang))
      throw new HttpError(400, 'UNSUPPORTED_LANGUAGE', 'This language is not available.', undefined, { key: 'errors.unsupportedLanguage' });
    res.cookie(LANGUAGE_COOKIE, lang, { maxAge: 365 * 24 * 3600 * 1000, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies });
    if (req.user) await models.User.updateOne({ _id: req.user.id }, { $set: { locale: lang } });
    res.redirect(303, safeReturnTo(req.body?.returnTo));
  });

  router.get('/account', allow.signedIn, async (req, res) => {
    const hasPassword = !!(await models.Credential.exists({ _id: req.user!.id }));
    res.render('auth/account', { title: req.t('account.title'), hasPassword, errors: {}, emailErrors: {}, newEmail: '' });
  });

  const passwordSchema = z
    .object({
      current: z.string().min(1, 'account.enterCurrent').max(PASSWORD_MAX_LENGTH),
      password: z.string().min(PASSWORD_MIN_LENGTH, 'account.passwordTooShort').max(PASSWORD_MAX_LENGTH, 'account.passwordTooLong'),
      confirm: z.string(),
    })
    .refine((v) => v.password === v.confirm, { path: ['confirm'], message: 'account.newPasswordsDiffer' });

  // Guessing the current password from a borrowed session is as limited as guessing at sign-in.
  const passwordLimiter = loginRateLimit(models.User.db, 'host.password', deps.loginRateLimit, (req) => {
    throw refusalFor(req, 429, 'TOO_MANY_ATTEMPTS', 'login.tooMany');
  });

  router.post(
    '/account/password',
    allow.signedIn,
    passwordLimiter,
    form({
      schema: passwordSchema,
      view: 'auth/account',
      locals: async (req, { errors }) => ({
        title: req.t('account.title'),
        hasPassword: !!(await models.Credential.exists({ _id: req.user!.id })),
        errors,
        emailErrors: {},
        newEmail: '',
      }),
      handle: changePassword,
    }),
  );

  async function changePassword(req: Request, res: Response, input: z.output<typeof passwordSchema>) {
    const user = req.user!;
    const credential = await models.Credential.findById(user.id).lean();
    if (!credential || !(await verifyPassword(input.current, credential.passwordHash))) throw invalidFields({ current: { key: 'account.wrongPassword' } });
    await users.setPassword(user.id, input.password);
    // A new password ends every other session of this person (a shared computer, a stolen
    // cookie), and this one continues under a new id.
    await models.User.db.collection(SESSIONS_COLLECTION).deleteMany({ 'session.passport.user': user.id, _id: { $ne: req.sessionID } } as never);
    await new Promise<void>((resolve, reject) => req.logIn(user, (err) => (err ? reject(err) : resolve())));
    req.flash('success', req.t('account.passwordChanged'));
    res.redirect(303, '/account');
  }
}
