import mongoose, { type Connection, type Model } from 'mongoose';
import { ROLES, type Role, type SessionUser } from '../access.ts';
import { conflict, isDuplicateKey, noSuchUser } from '../errors.ts';
import type { EventBus } from '../events.ts';
import { UserCreated, UserRolesChanged, UserSignedIn, type NewUser, type UserListQuery, type UsersService } from '../host-contract.ts';
import { SESSIONS_COLLECTION } from '../sessions.ts';
import { matchesSearch, nameCollator } from '../formats.ts';
import { upsertOne } from '../upsert.ts';
import { findByKeys } from '../keyed-reads.ts';
import { hashPassword } from './password.ts';

export interface UserDoc {
  _id: mongoose.Types.ObjectId;
  email: string;
  name: string;
  roles: Role[];
  locale?: string;
  organisation?: string;
  disabled: boolean;
  /** May have a local password (invited, registered, or allowed by an admin); absent: only if one is set. */
  localSignIn?: boolean;
  /** False only for a self-registered account whose address is not confirmed yet. */
  emailVerified?: boolean;
  /** Optional notice topics the person turned off. */
  mailOptOut?: string[];
  createdAt: Date;
  updatedAt: Date;
  lastSignInAt?: Date;
}

/**
 * Credentials live in their own collection, keyed by the user's id, so that a user document can be
 * handed to any template or plugin without ever carrying a password hash.
 */
export interface CredentialDoc {
  _id: mongoose.Types.ObjectId;
  passwordHash: string;
  updatedAt: Date;
}

export interface UserModels {
  User: Model<UserDoc>;
  Credential: Model<CredentialDoc>;
}

export function defineUserModels(connection: Connection): UserModels {
  const userSchema = new mongoose.Schema<UserDoc>(
    {
      email: { type: String, required: true, lowercase: true, trim: true, maxlength: 254 },
      name: { type: String, required: true, trim: true, maxlength: 200 },
      roles: { type: [String], enum: ROLES, default: ['learner'] },
      locale: { type: String, maxlength: 10 },
      organisation: { type: String, trim: true, maxlength: 200 },
      disabled: { type: Boolean, default: false },
      localSignIn: Boolean,
      emailVerified: Boolean,
      mailOptOut: { type: [String], default: undefined },
      lastSignInAt: Date,
    },
    { timestamps: true, collection: 'host_users' },
  );
  // One account per e-mail address: the unique index is the invariant, not a lookup before insert.
  userSchema.index({ email: 1 }, { unique: true });
  const credentialSchema = new mongoose.Schema<CredentialDoc>(
    { _id: { type: mongoose.Schema.Types.ObjectId, required: true }, passwordHash: { type: String, required: true } },
    { timestamps: { createdAt: false, updatedAt: true }, collection: 'host_credentials' },
  );
  return {
    User: connection.model<UserDoc>('host_user', userSchema),
    Credential: connection.model<CredentialDoc>('host_credential', credentialSchema),
  };
}

export function toSessionUser(doc: Pick<UserDoc, '_id' | 'email' | 'name' | 'roles' | 'locale'>): SessionUser {
  return { id: doc._id.toString(), email: doc.email, name: doc.name, roles: [...doc.roles], locale: doc.locale };
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export function createUsersService(models: UserModels, events: EventBus): Omit<UsersService, 'invite'> {
  const { User, Credential } = models;

  const byId = async (id: string) => (mongoose.isValidObjectId(id) ? User.findById(id).lean() : null);

  async function create(input: NewUser, via: string): Promise<SessionUser> {
    // Hash first: if hashing failed after the insert we would leave an account nobody can use.
    const passwordHash = input.password ? await hashPassword(input.password) : undefined;
    let doc;
    try {
      doc = await User.create({
        email: normaliseEmail(input.email),
        name: input.name.trim(),
        roles: input.roles?.length ? [...new Set(input.roles)] : ['learner'],
        locale: input.locale,
        organisation: input.organisation,
        // In the one insert: an account must never exist, even briefly, without its restrictions.
        ...(input.localSignIn === undefined ? {} : { localSignIn: input.localSignIn }),
        ...(input.emailVerified === undefined ? {} : { emailVerified: input.emailVerified }),
      });
    } catch (err) {
      if (isDuplicateKey(err))
        throw conflict(`An account with the e-mail address ${normaliseEmail(input.email)} already exists.`, undefined, {
          key: 'admin.users.emailTaken',
          params: { email: normaliseEmail(input.email) },
        });
      throw err;
    }
    if (passwordHash) await Credential.create({ _id: doc._id, passwordHash });
    const user = toSessionUser(doc);
    await events.emit(UserCreated, { userId: user.id, email: user.email, roles: user.roles, via });
    return user;
  }

  return {
    async findById(id) {
      const doc = await byId(id);
      return doc ? toSessionUser(doc) : null;
    },
    async findByIds(ids) {
      const keys = [...new Set(ids)].filter((id) => mongoose.isValidObjectId(id)).map((id) => new mongoose.Types.ObjectId(id));
      const docs = await findByKeys(User, keys);
      return new Map(docs.map((doc) => [String(doc._id), toSessionUser(doc)]));
    },
    async findByEmail(email) {
      const doc = await User.findOne({ email: normaliseEmail(email) }).lean();
      return doc ? toSessionUser(doc) : null;
    },
    create,
    async ensure(input, via) {
      const existing = await User.findOne({ email: normaliseEmail(input.email) }).lean();
      if (existing) return { user: toSessionUser(existing), created: false };
      try {
        return { user: await create(input, via), created: true };
      } catch (err) {
        // Someone created it between our look-up and our insert: theirs stands.
        const raced = await User.findOne({ email: normaliseEmail(input.email) }).lean();
        if (raced) return { user: toSessionUser(raced), created: false };
        throw err;
      }
    },
    async setRoles(id, roles, byUserId) {
      const before = await byId(id);
      if (!before) throw noSuchUser();
      const unique = [...new Set(roles)];
      const after = await User.findByIdAndUpdate(id, { $set: { roles: unique } }, { returnDocument: 'after' }).lean();
      if (!after) throw noSuchUser();
      await events.emit(UserRolesChanged, { userId: id, roles: unique, previous: before.roles, byUserId });
      return toSessionUser(after);
    },
    async setPassword(id, password) {
      if (!(await byId(id))) throw noSuchUser();
      const passwordHash = await hashPassword(password);
      await upsertOne(Credential, { _id: id }, { $set: { passwordHash } });
    },
    async list(query: UserListQuery) {
      const pageSize = Math.min(Math.max(query.pageSize ?? 50, 1), 200);
      const page = Math.max(query.page ?? 1, 1);
      const filter: Record<string, unknown> = {};
      if (query.role) filter.roles = String(query.role);
      // Matching and order are the reader's language's (accents, Arabic marks, collation), which no
      // query does alike on MongoDB and FerretDB: the names and addresses are read, matched and
      // sorted here, and only the page's accounts are read whole. (Thousands of accounts: a few ms.)
      const search = query.search?.trim();
      const collator = nameCollator(query.lang ?? 'en');
      const found = (await User.find(filter, { name: 1, email: 1 }).lean())
        .filter((d) => !search || matchesSearch(d.name, search) || matchesSearch(d.email, search))
        .sort((a, b) => collator.compare(a.name, b.name) || (a.email < b.email ? -1 : 1));
      const ids = found.slice((page - 1) * pageSize, page * pageSize).map((d) => d._id);
      const docs = ids.length ? await User.find({ _id: mongoose.trusted({ $in: ids }) }).lean() : [];
      const pageDocs = new Map(docs.map((d) => [String(d._id), d]));
      return {
        users: ids
          .map((id) => pageDocs.get(String(id)))
          .filter((d) => d !== undefined)
          .map((d) => ({ ...toSessionUser(d), createdAt: d.createdAt, lastSignInAt: d.lastSignInAt })),
        total: found.length,
      };
    },
    async isDisabled(id) {
      return !!(await byId(id))?.disabled;
    },
    async recordSignIn(id, method) {
      await User.updateOne({ _id: id }, { $set: { lastSignInAt: new Date() } });
      await events.emit(UserSignedIn, { userId: id, method });
    },
    async updateProfile(id, changes) {
      const doc = await byId(id);
      if (!doc) throw noSuchUser();
      const set: Record<string, string> = {};
      const name = changes.name?.trim().slice(0, 200);
      const organisation = changes.organisation?.trim().slice(0, 200);
      if (name && name !== doc.name) set.name = name;
      if (organisation && organisation !== doc.organisation) set.organisation = organisation;
      if (Object.keys(set).length) await User.updateOne({ _id: id }, { $set: set });
    },
    async endSessions(id, where = {}) {
      // Sessions are stored unstringified, so they can be found by what they hold. Raw collection:
      // the filter is built here from plain strings only.
      const filter: Record<string, string> = { 'session.passport.user': String(id) };
      for (const [key, value] of Object.entries(where)) filter[`session.${key}`] = String(value);
      const { deletedCount } = await User.db.collection(SESSIONS_COLLECTION).deleteMany(filter);
      return deletedCount;
    },
  };
}
