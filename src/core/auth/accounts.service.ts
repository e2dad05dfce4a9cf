/**
 * Ways into a local account that need no administrator to pass a password by hand: invitations,
 * self-registration with a confirmed address, password resets and address changes, each through a
 * single-use link sent by e-mail (account-tokens.ts). Local accounts never weaken single sign-on:
 * a person who signs in only through an identity provider has no password to reset unless an
 * administrator allows a local password for them (`localSignIn`).
 */
import type { TFunction } from 'i18next';
import type { Logger } from 'pino';
import type { SessionUser } from '../access.ts';
import type { Audit } from '../admin/audit.ts';
import { HttpError, isDuplicateKey, noSuchUser } from '../errors.ts';
import { upsertOne } from '../upsert.ts';
import type { InviteInput, InviteOptions, UsersService } from '../host-contract.ts';
import type { JobsService } from '../jobs/jobs.service.ts';
import { MAIL_SECRET, type MailService } from '../mail/mail.service.ts';
import { createTokens, type AccountModels, type TokenCheck, type TokenPurpose } from './account-tokens.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { normaliseEmail, toSessionUser, type UserModels } from './users.ts';

export const RESET_QUEUE = 'host.password-reset';

export interface AccountsDeps {
  models: UserModels;
  accountModels: AccountModels;
  users: UsersService;
  mail: MailService;
  jobs: JobsService;
  audit: Audit;
  logger: Logger;
}

const hours = (ms: number) => Math.round(ms / 3600_000);

export function createAccountsService(deps: AccountsDeps) {
  const {
    models: { User, Credential },
    mail,
    audit,
  } = deps;
  const tokens = createTokens(deps.accountModels);

  /** May this person have a local password? Those who have one, and those allowed one. */
  async function mayUsePassword(userId: string): Promise<boolean> {
    const [user, credential] = await Promise.all([User.findById(userId, { localSignIn: 1 }).lean(), Credential.exists({ _id: userId })]);
    return !!credential || !!user?.localSignIn;
  }

  function linkMail(purpose: 'invite' | 'reset', t: TFunction, programme: string, name: string, extra?: string) {
    const path = purpose === 'invite' ? `/account/invitation/${MAIL_SECRET}` : `/account/reset/${MAIL_SECRET}`;
    const hoursValid = hours(purpose === 'invite' ? 14 * 24 * 3600_000 : 3600_000);
    return {
      subject: t(`mail.${purpose}.subject`, { programme }),
      paragraphs: [t('mail.greeting', { name }), ...(extra ? [extra] : []), t(`mail.${purpose}.body`, { programme })],
      action: { label: t(`mail.${purpose}.action`), url: path },
      footnote: purpose === 'invite' ? t('mail.invite.validity', { count: Math.round(hoursValid / 24) }) : t('mail.reset.validity'),
    };
  }

  async function invite(input: InviteInput, options: InviteOptions): Promise<{ user: SessionUser; created: boolean; sent: boolean }> {
    const { user, created } = await deps.users.ensure(
      { email: input.email, name: input.name, locale: input.locale, organisation: input.organisation },
      `invitation:${options.by}`,
    );
    // An account made for an invitation is a local one (its person sets a password); an existing
    // account without a password is one only if it was made that way or an admin allowed it.
    if (created) await User.updateOne({ _id: user.id }, { $set: { localSignIn: true } });
    // A self-registration never confirmed may be someone else's claim on this address: its
    // password is not the person's, and the invitation (to their mailbox) replaces it.
    if (!created && (await User.exists({ _id: user.id, emailVerified: false }))) await Credential.deleteOne({ _id: user.id });
    const hasPassword = !!(await Credential.exists({ _id: user.id }));
    if (hasPassword || !(await mayUsePassword(user.id))) return { user, created, sent: false };
    const key = `host.invitation:${user.id}:${options.key}`;
    // The same key again records no second message (a link made for it is then never sent, and expires).
    const { secret } = await tokens.issue('invite', user.id, user.email);
    const result = await mail.send({
      key,
      to: { userId: user.id },
      category: 'account',
      secret,
      compose: (t, _lang, programme) => linkMail('invite', t, programme, user.name, options.context?.(t)),
    });
    if (result.created) await audit.record({ actor: options.by, action: 'invitation-sent', userId: user.id });
    return { user, created, sent: result.created };
  }

  /**
   * A link made before the account's address or password last changed is spent: a reset mailed to
   * an address the person has since left, or a second invitation once a password is set, must not
   * set a password without the current one.
   */
  async function staleLink(token: {
    userId: string;
    email?: string | undefined;
    createdAt: Date;
    purpose: TokenPurpose;
  }): Promise<{ ok: false; reason: 'used' } | null> {
    const [user, credential] = await Promise.all([
      User.findById(token.userId, { email: 1 }).lean(),
      Credential.findById(token.userId, { updatedAt: 1 }).lean(),
    ]);
    if (token.email && user && token.email !== user.email) return { ok: false, reason: 'used' };
    if (credential && (token.purpose === 'invite' || credential.updatedAt.getTime() > token.createdAt.getTime())) return { ok: false, reason: 'used' };
    return null;
  }

  /** A reset link for an account that may have a password; the job behind "Forgot your password?". */
  async function sendReset(email: string, requestKey: string): Promise<'sent' | 'sso-only' | 'none'> {
    const user = await User.findOne({ email: normaliseEmail(email) }).lean();
    if (!user || user.disabled) return 'none';
    const id = String(user._id);
    if (!(await mayUsePassword(id))) {
      // Tell the address's owner why no link comes: their organisation holds their password.
      await mail.send({
        key: `host.reset-sso:${id}:${requestKey}`,
        to: { userId: id },
        category: 'account',
        compose: (t, _lang, programme) => ({
          subject: t('mail.resetSso.subject', { programme }),
          paragraphs: [t('mail.greeting', { name: user.name }), t('mail.resetSso.body')],
          action: { label: t('mail.resetSso.action'), url: '/login' },
        }),
      });
      return 'sso-only';
    }
    const { secret } = await tokens.issue('reset', id, user.email);
    await mail.send({
      key: `host.reset:${id}:${requestKey}`,
      to: { userId: id },
      category: 'account',
      secret,
      compose: (t, _lang, programme) => linkMail('reset', t, programme, user.name),
    });
    return 'sent';
  }

  deps.jobs.define<{ email: string; requestKey: string }>(RESET_QUEUE, {
    maxAttempts: 5,
    backoffMs: 2000,
    async run({ email, requestKey }) {
      await sendReset(email, requestKey);
    },
  });

  /**
   * Queues a reset for an address. The request does the same thing whether or not the address has
   * an account (one job recorded), so neither its answer nor its timing tells which addresses exist.
   */
  async function requestReset(email: string, requestKey: string): Promise<void> {
    await deps.jobs.enqueue(RESET_QUEUE, { email: normaliseEmail(email), requestKey }, { key: `${normaliseEmail(email)}:${requestKey}` });
  }

  /**
   * Sets a password through an invitation or reset link. Every session of the person ends (a reset
   * is what someone does when they fear another has their password); the address is thereby
   * confirmed too. Returns the person, or why the link cannot be used.
   */
  async function setPasswordWithLink(
    purpose: 'invite' | 'reset',
    secret: string,
    password: string,
  ): Promise<{ ok: true; user: SessionUser } | Extract<TokenCheck, { ok: false }>> {
    // Checked before the (costly) hash, so that junk links cost nothing; hashed before the link is
    // spent, so that a failure there does not spend it.
    const checked = await tokens.check(purpose, secret);
    if (!checked.ok) return checked;
    const stale = await staleLink(checked.token);
    if (stale) return stale;
    const passwordHash = await hashPassword(password);
    const used = await tokens.use(purpose, secret);
    if (!used.ok) return used;
    const userId = used.token.userId;
    const user = await User.findById(userId).lean();
    if (!user || user.disabled) return { ok: false, reason: 'unknown' };
    await upsertOne(Credential, { _id: userId }, { $set: { passwordHash } });
    await User.updateOne({ _id: userId }, { $set: { localSignIn: true, emailVerified: true } });
    await deps.users.endSessions(userId);
    await audit.record({ actor: 'self', action: purpose === 'invite' ? 'invitation-accepted' : 'password-reset', userId });
    return { ok: true, user: toSessionUser(user) };
  }

  /**
   * Self-registration (REGISTRATION=open, or =domains for the listed domains). The answer is the
   * same whether or not the address has an account: a new address gets a confirmation link, a known
   * one a note to its owner, so nobody learns which addresses are registered.
   */
  async function register(input: { name: string; email: string; password: string; locale: string }): Promise<void> {
    const email = normaliseEmail(input.email);
    const passwordHash = await hashPassword(input.password);
    let created: SessionUser | undefined;
    try {
      created = await deps.users.create({ email, name: input.name, locale: input.locale, localSignIn: true, emailVerified: false }, 'registration');
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 409)) throw err;
    }
    if (!created) {
      const existing = await User.findOne({ email }).lean();
      if (existing && !existing.disabled) {
        await mail.send({
          key: `host.registration-known:${existing._id}:${Math.floor(Date.now() / 3600_000)}`,
          to: { userId: String(existing._id) },
          category: 'account',
          compose: (t, _lang, programme) => ({
            subject: t('mail.registrationKnown.subject', { programme }),
            paragraphs: [t('mail.greeting', { name: existing.name }), t('mail.registrationKnown.body')],
            action: { label: t('mail.registrationKnown.action'), url: '/account/forgot' },
          }),
        });
      }
      return;
    }
    await Credential.create({ _id: created.id, passwordHash });
    await sendVerification(created);
  }

  async function sendVerification(user: SessionUser): Promise<void> {
    const { secret, id } = await tokens.issue('verify', user.id);
    await mail.send({
      key: `host.verify:${user.id}:${id.slice(0, 16)}`,
      to: { userId: user.id },
      category: 'account',
      secret,
      compose: (t, _lang, programme) => ({
        subject: t('mail.verify.subject', { programme }),
        paragraphs: [t('mail.greeting', { name: user.name }), t('mail.verify.body')],
        action: { label: t('mail.verify.action'), url: `/account/verify/${MAIL_SECRET}` },
        footnote: t('mail.verify.validity'),
      }),
    });
  }

  async function verify(secret: string): Promise<TokenCheck> {
    const used = await tokens.use('verify', secret);
    if (used.ok) {
      await User.updateOne({ _id: used.token.userId }, { $set: { emailVerified: true } });
      await audit.record({ actor: 'self', action: 'address-confirmed', userId: used.token.userId });
    }
    return used;
  }

  /** Sends a new confirmation link to an unconfirmed account (asked for from the sign-in page). */
  async function resendVerification(email: string): Promise<void> {
    const user = await User.findOne({ email: normaliseEmail(email) }).lean();
    if (user && user.emailVerified === false && !user.disabled) await sendVerification(toSessionUser(user));
  }

  /** Asks to change a person's address: a link to the new address, a note to the old one (the route refuses the same address). */
  async function requestEmailChange(user: SessionUser, newEmail: string): Promise<void> {
    const email = normaliseEmail(newEmail);
    if (email === user.email) return;
    if (await User.exists({ email })) {
      // The answer does not say the address is taken (that would tell who has an account): its
      // owner is told instead.
      await mail.send({
        key: `host.email-change-taken:${user.id}:${email}:${Math.floor(Date.now() / 3600_000)}`,
        to: { email },
        category: 'account',
        compose: (t, _lang, programme) => ({
          subject: t('mail.emailChangeTaken.subject', { programme }),
          paragraphs: [t('mail.emailChangeTaken.body')],
        }),
      });
      return;
    }
    const { secret, id } = await tokens.issue('email-change', user.id, email);
    await mail.send({
      key: `host.email-change:${user.id}:${id.slice(0, 16)}`,
      to: { email, name: user.name, locale: user.locale },
      category: 'account',
      secret,
      compose: (t, _lang, programme) => ({
        subject: t('mail.emailChange.subject', { programme }),
        paragraphs: [t('mail.greeting', { name: user.name }), t('mail.emailChange.body', { email })],
        action: { label: t('mail.emailChange.action'), url: `/account/confirm-email/${MAIL_SECRET}` },
        footnote: t('mail.emailChange.validity'),
      }),
    });
    await mail.send({
      key: `host.email-change-requested:${user.id}:${id.slice(0, 16)}`,
      to: { userId: user.id },
      category: 'account',
      compose: (t, _lang, programme) => ({
        subject: t('mail.emailChangeRequested.subject', { programme }),
        paragraphs: [t('mail.greeting', { name: user.name }), t('mail.emailChangeRequested.body', { email })],
      }),
    });
    await audit.record({ actor: 'self', action: 'address-change-requested', userId: user.id, details: email });
  }

  async function confirmEmailChange(secret: string): Promise<TokenCheck | { ok: false; reason: 'taken' }> {
    const checked = await tokens.check('email-change', secret);
    if (!checked.ok) return checked;
    const { userId, email } = checked.token;
    const before = await User.findById(userId).lean();
    if (!before || !email) return { ok: false, reason: 'unknown' };
    if (await User.exists({ email })) return { ok: false, reason: 'taken' };
    const used = await tokens.use('email-change', secret);
    if (!used.ok) return used;
    try {
      await User.updateOne({ _id: userId }, { $set: { email, emailVerified: true } });
    } catch (err) {
      if (isDuplicateKey(err)) return { ok: false, reason: 'taken' };
      throw err;
    }
    await mail.send({
      key: `host.email-changed:${userId}:${used.token._id.slice(0, 16)}`,
      to: { email: before.email, name: before.name, locale: before.locale },
      category: 'account',
      compose: (t, _lang, programme) => ({
        subject: t('mail.emailChanged.subject', { programme }),
        paragraphs: [t('mail.greeting', { name: before.name }), t('mail.emailChanged.body', { email })],
      }),
    });
    await audit.record({ actor: 'self', action: 'address-changed', userId, details: `${before.email} → ${email}` });
    return used;
  }

  /** Admin: let a person who signs in through an identity provider also have a local password. */
  async function allowLocalPassword(userId: string, by: string): Promise<void> {
    const res = await User.updateOne({ _id: userId }, { $set: { localSignIn: true } });
    if (!res.matchedCount) throw noSuchUser();
    await audit.record({ actor: by, action: 'local-password-allowed', userId });
  }

  /** Admin: a reset link for a person (never the password itself). */
  async function sendResetByAdmin(userId: string, by: string, requestKey: string): Promise<'sent' | 'sso-only' | 'none'> {
    const user = await User.findById(userId).lean();
    if (!user) throw noSuchUser();
    const outcome = await sendReset(user.email, `admin:${requestKey}`);
    if (outcome === 'sent') await audit.record({ actor: by, action: 'reset-link-sent', userId });
    return outcome;
  }

  return {
    async emailOf(userId: string) {
      return (await User.findById(userId, { email: 1 }).lean())?.email;
    },
    async hasPassword(userId: string) {
      return !!(await Credential.exists({ _id: userId }));
    },
    async checkPassword(userId: string, password: string) {
      const credential = await Credential.findById(userId).lean();
      return !!credential && (await verifyPassword(password, credential.passwordHash));
    },
    tokens,
    invite,
    requestReset,
    setPasswordWithLink,
    register,
    verify,
    resendVerification,
    requestEmailChange,
    confirmEmailChange,
    allowLocalPassword,
    sendResetByAdmin,
    mayUsePassword,
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
export type { TokenPurpose };
