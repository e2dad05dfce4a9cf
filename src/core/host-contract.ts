/**
 * The host's own contract: services, events and extension points every plugin may use without
 * declaring them in `requires` (the host is always there).
 */
import type { Role, SessionUser } from './access.ts';
import type { DashboardPanel, NavEntry, SignInMethod } from './plugin.ts';
import { defineEvent, defineExtensionPoint, defineService } from './refs.ts';

export interface NewUser {
  email: string;
  name: string;
  roles?: Role[];
  /** Local password; omit for people who only sign in through an identity provider. */
  password?: string;
  locale?: string;
  organisation?: string;
  /** May have a local password although none is set yet (invited, registered). */
  localSignIn?: boolean;
  /** False for a self-registered account until its address is confirmed (it cannot sign in before). */
  emailVerified?: boolean;
}

export interface UserListQuery {
  /** Part of a name or address; case, accents and Arabic vowel marks do not matter (`searchFold`). */
  search?: string;
  role?: Role;
  /** Sorted by name as this language sorts (Intl.Collator); English when not given. */
  lang?: string;
  page?: number;
  pageSize?: number;
}

export interface UsersService {
  findById(id: string): Promise<SessionUser | null>;
  /** The accounts with these ids that exist, by id: one read for a whole list (a roster, a grid). */
  findByIds(ids: readonly string[]): Promise<Map<string, SessionUser>>;
  findByEmail(email: string): Promise<SessionUser | null>;
  /** Creates an account; a taken e-mail address is a 409 HttpError, never a second account. */
  create(input: NewUser, via: string): Promise<SessionUser>;
  /** Returns the account with this e-mail, creating it first if there is none (demo data, imports). */
  ensure(input: NewUser, via: string): Promise<{ user: SessionUser; created: boolean }>;
  setRoles(id: string, roles: Role[], byUserId: string): Promise<SessionUser>;
  setPassword(id: string, password: string): Promise<void>;
  list(query: UserListQuery): Promise<{ users: (SessionUser & { createdAt: Date; lastSignInAt?: Date | undefined })[]; total: number }>;
  /** True when the account exists and is disabled (such a person cannot sign in by any method). */
  isDisabled(id: string): Promise<boolean>;
  /** Records a sign-in: `lastSignInAt`, then the `UserSignedIn` event. Use `signInPerson`, which calls it. */
  recordSignIn(id: string, method: string): Promise<void>;
  /** Updates the name and organisation an identity provider vouches for; unchanged values write nothing. */
  updateProfile(id: string, changes: UserProfileChanges): Promise<void>;
  /**
   * Ends the person's sessions on every app instance; `where` narrows them to sessions holding these
   * values (dotted paths inside the session, e.g. `{ 'saml.sessionIndex': '…' }`). Returns how many.
   */
  endSessions(id: string, where?: Record<string, string>): Promise<number>;
  /**
   * Invites a person to set their own password: creates their local account if there is none
   * (pre-enrolments by this address are then matched, as for any new account) and e-mails a
   * single-use link. `key` says what the invitation is about (`enrolment:<editionId>`, or a form's
   * own key): the same key twice sends one message. `context` is an extra paragraph in the
   * recipient's language (e.g. the edition they were added to). A person who already has a password
   * or only signs in through an identity provider is not sent a password link (`sent: false`).
   */
  invite(input: InviteInput, options: InviteOptions): Promise<{ user: SessionUser; created: boolean; sent: boolean }>;
}

export interface InviteInput {
  email: string;
  name: string;
  locale?: string | undefined;
  organisation?: string | undefined;
}

export interface InviteOptions {
  /** Who invites: a user id, or a label such as 'import:<batchId>'. */
  by: string;
  key: string;
  /** An extra paragraph, composed in the recipient's language. */
  context?: ((t: import('i18next').TFunction) => string) | undefined;
}

export interface UserProfileChanges {
  name?: string | undefined;
  organisation?: string | undefined;
}

export const Users = defineService<UsersService>('host.users');

export const UserCreated = defineEvent<{ userId: string; email: string; roles: Role[]; via: string }>('host.user.created');
export const UserSignedIn = defineEvent<{ userId: string; method: string }>('host.user.signedIn');
export const UserRolesChanged = defineEvent<{ userId: string; roles: Role[]; previous: Role[]; byUserId: string }>('host.user.rolesChanged');

export const Navigation = defineExtensionPoint<NavEntry>('host.navigation');
export const SignInMethods = defineExtensionPoint<SignInMethod>('host.signInMethods');
export const DashboardPanels = defineExtensionPoint<DashboardPanel>('host.dashboardPanels');

/**
 * An optional kind of e-mail notice a person may turn off on their notification settings page
 * (`/account/notifications`) or with the one-click unsubscribe link each such notice carries.
 * Mail about a person's account, and decisions about them, are always sent and have no topic.
 */
export interface MailTopic {
  /** `<plugin>.<name>`, the `topic` given to `ctx.mail.send`. */
  id: string;
  /** i18n key or literal text. */
  label: string;
}
export const MailTopics = defineExtensionPoint<MailTopic>('host.mailTopics');
