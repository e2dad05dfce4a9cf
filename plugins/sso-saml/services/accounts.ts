import type { Model } from 'mongoose';
import { HttpError, isDuplicateKey, upsertOne, type Role, type SessionUser, type UsersService } from '../../../src/index.ts';
import type { AttributeSource, ResolvedIdpConfig } from '../config.ts';
import type { IdentityDoc, LastSignInDoc } from '../models/saml.models.ts';
import { SamlRefusal } from './refusal.ts';

/** An assertion's attributes, each as a list of strings. */
export type Attributes = Map<string, string[]>;

/** What Olive understood of a person from the IdP's assertion, through the IdP's mapping. */
export interface MappedPerson {
  key: string;
  nameID: string;
  email?: string | undefined;
  name: string;
  organisation?: string | undefined;
  groups: string[];
  /** Olive roles the groups map to (empty when none maps). */
  roles: Role[];
}

/** node-saml gives each attribute as a string, a list, or an object for structured values. */
export function attributesFrom(raw: unknown): Attributes {
  const attributes: Attributes = new Map();
  if (!raw || typeof raw !== 'object') return attributes;
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const values = (Array.isArray(value) ? value : [value]).map(text).filter((v): v is string => v !== null);
    attributes.set(name, values);
  }
  return attributes;
}

function pick(attributes: Attributes, source: AttributeSource, nameID: string): string[] {
  for (const name of Array.isArray(source) ? source : [source]) {
    if (name === 'nameID') return nameID ? [nameID] : [];
    const values = attributes
      .get(name)
      ?.map((v) => v.trim())
      .filter(Boolean);
    if (values?.length) return values;
  }
  return [];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Applies an IdP's attribute mapping. Refuses an assertion without the stable key. */
export function mapPerson(idp: ResolvedIdpConfig, nameID: string, attributes: Attributes): MappedPerson {
  const map = idp.attributes;
  const first = (source: AttributeSource) => pick(attributes, source, nameID)[0];
  const key = first(map.key);
  if (!key) throw new SamlRefusal('MISSING_KEY', `the assertion has no value for the stable key (${String(map.key)})`);
  const rawEmail = first(map.email)?.toLowerCase();
  const email = rawEmail && EMAIL.test(rawEmail) ? rawEmail : undefined;
  const given = first(map.givenName);
  const family = first(map.familyName);
  const name = first(map.displayName) ?? ([given, family].filter(Boolean).join(' ') || email?.split('@')[0] || key);
  const groups = pick(attributes, map.groups, nameID);
  const roles = [...new Set(groups.flatMap((g) => idp.roles[g] ?? []))];
  return { key, nameID, email, name: name.slice(0, 200), organisation: first(map.organisation) ?? idp.defaultOrganisation, groups, roles };
}

export interface AccountOutcome {
  user: SessionUser;
  created: boolean;
  linked: boolean;
}

/**
 * Finds or makes the Olive account of a person signing in through an IdP, never a duplicate:
 * 1. the stable key already linked: that account;
 * 2. an account with the same e-mail: linked only when this IdP's e-mails are verified, refused otherwise
 *    (linking on an address the IdP does not vouch for would hand someone else's account over);
 * 3. otherwise a new account (if this IdP may create them and the e-mail domain is allowed), made
 *    through the host's `Users.create`, so `UserCreated` fires and pre-enrolments are matched.
 */
export function createAccountService(users: UsersService, Identity: Model<IdentityDoc>, LastSignIn: Model<LastSignInDoc>) {
  async function link(idp: ResolvedIdpConfig, person: MappedPerson, userId: string, linkedBy: IdentityDoc['linkedBy']): Promise<string> {
    const _id = `${idp.id}:${person.key}`;
    const now = new Date();
    try {
      await Identity.create({ _id, idp: idp.id, key: person.key, userId, nameID: person.nameID, linkedBy, createdAt: now, lastSignInAt: now });
      return userId;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Linked meanwhile by a parallel sign-in of the same person: that link stands.
      const existing = await Identity.findById(_id).lean();
      if (!existing) throw err;
      return existing.userId;
    }
  }

  async function findOrCreate(idp: ResolvedIdpConfig, person: MappedPerson): Promise<AccountOutcome> {
    const identity = await Identity.findById(`${idp.id}:${person.key}`).lean();
    if (identity) {
      const user = await users.findById(identity.userId);
      if (!user) throw new SamlRefusal('ACCOUNT_UNAVAILABLE', `identity ${identity._id} is linked to account ${identity.userId}, which no longer exists`);
      await Identity.updateOne({ _id: identity._id }, { $set: { nameID: person.nameID, lastSignInAt: new Date() } });
      return { user, created: false, linked: false };
    }
    const sameEmail = person.email ? await users.findByEmail(person.email) : null;
    if (sameEmail) {
      if (!idp.emailsVerified) {
        throw new SamlRefusal('EMAIL_TAKEN', `an account with ${person.email} exists and ${idp.id} is not trusted to verify e-mail addresses`);
      }
      const userId = await link(idp, person, sameEmail.id, 'email');
      return { user: (await users.findById(userId))!, created: false, linked: true };
    }
    if (!idp.createAccounts) throw new SamlRefusal('NO_ACCOUNT', `no account for ${person.key} and ${idp.id} does not create accounts`);
    if (!person.email) throw new SamlRefusal('MISSING_EMAIL', `the assertion for ${person.key} carries no usable e-mail address`);
    const domain = person.email.split('@')[1]!;
    if (idp.allowedEmailDomains.length && !idp.allowedEmailDomains.includes(domain)) {
      throw new SamlRefusal('DOMAIN_NOT_ALLOWED', `e-mail domain ${domain} is not allowed for ${idp.id}`);
    }
    let user: SessionUser;
    try {
      user = await users.create(
        {
          email: person.email,
          name: person.name,
          roles: person.roles.length ? person.roles : idp.defaultRoles,
          ...(person.organisation ? { organisation: person.organisation } : {}),
        },
        `saml:${idp.id}`,
      );
    } catch (err) {
      // The address was taken between our look-up and the insert (the unique index decides).
      if (err instanceof HttpError && err.status === 409) throw new SamlRefusal('EMAIL_TAKEN', `an account with ${person.email} was created meanwhile`);
      throw err;
    }
    const userId = await link(idp, person, user.id, 'created');
    return { user: userId === user.id ? user : (await users.findById(userId))!, created: userId === user.id, linked: false };
  }

  /** Brings an existing account in line with what the IdP says: names, organisation, added roles. */
  async function refresh(idp: ResolvedIdpConfig, person: MappedPerson, user: SessionUser): Promise<SessionUser> {
    await users.updateProfile(user.id, { name: person.name, organisation: person.organisation });
    const missing = person.roles.filter((r) => !user.roles.includes(r));
    // Groups grant roles; they never take away one given in Olive (an admin's decision stands).
    if (missing.length) await users.setRoles(user.id, [...user.roles, ...missing], `saml:${idp.id}`);
    return (await users.findById(user.id)) ?? user;
  }

  async function recordAttributes(idp: ResolvedIdpConfig, userId: string, nameID: string, nameIDFormat: string, attributes: Attributes) {
    await upsertOne(
      LastSignIn,
      { _id: userId },
      {
        $set: { idp: idp.id, at: new Date(), nameID, nameIDFormat, attributes: [...attributes].map(([name, values]) => ({ name, values })) },
      },
    );
  }

  /** The accounts linked to this IdP's name for a person: single logout ends their sessions. */
  async function accountsNamed(idpId: string, nameID: string): Promise<string[]> {
    const identities = await Identity.find({ idp: idpId, nameID }).lean();
    return identities.map((identity) => identity.userId);
  }

  /** For the admins' page: an account's links to IdPs and what the IdP sent at its last sign-in. */
  async function signInRecordOf(userId: string): Promise<{ identities: IdentityDoc[]; last: LastSignInDoc | null }> {
    return { identities: await Identity.find({ userId }).lean(), last: await LastSignIn.findById(userId).lean() };
  }

  return { findOrCreate, refresh, recordAttributes, accountsNamed, signInRecordOf };
}
export type AccountService = ReturnType<typeof createAccountService>;
