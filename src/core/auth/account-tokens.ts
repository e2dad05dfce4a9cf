/**
 * Single-use links for account work: an invitation or a reset (set a password), the confirmation
 * of a registration, the confirmation of a new e-mail address. The link carries 32 random bytes;
 * the database holds only their SHA-256, so a copy of the database opens no account. A link is
 * used by inserting its use record (insert-once: of two simultaneous uses exactly one wins; an
 * update could not decide that on FerretDB, which applies updates as read-then-write).
 */
import crypto from 'node:crypto';
import mongoose, { type Connection, type Model } from 'mongoose';
import { isDuplicateKey } from '../errors.ts';

export type TokenPurpose = 'invite' | 'reset' | 'verify' | 'email-change';

/** How long each kind of link stays valid. */
export const TOKEN_LIFETIME_MS: Record<TokenPurpose, number> = {
  invite: 14 * 24 * 3600 * 1000,
  reset: 60 * 60 * 1000,
  verify: 3 * 24 * 3600 * 1000,
  'email-change': 24 * 3600 * 1000,
};

export interface TokenDoc {
  /** SHA-256 of the secret, hex. */
  _id: string;
  purpose: TokenPurpose;
  userId: string;
  /** For an address change: the new address. */
  email?: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface TokenUseDoc {
  _id: string;
  at: Date;
}

export interface AccountModels {
  Token: Model<TokenDoc>;
  TokenUse: Model<TokenUseDoc>;
}

export function defineAccountModels(connection: Connection): AccountModels {
  const token = new mongoose.Schema<TokenDoc>(
    {
      _id: { type: String, required: true },
      purpose: { type: String, required: true, enum: ['invite', 'reset', 'verify', 'email-change'] },
      userId: { type: String, required: true },
      email: String,
      createdAt: { type: Date, required: true },
      expiresAt: { type: Date, required: true },
    },
    { versionKey: false, collection: 'host_account_tokens' },
  );
  const use = new mongoose.Schema<TokenUseDoc>(
    { _id: { type: String, required: true }, at: { type: Date, required: true } },
    { versionKey: false, collection: 'host_account_token_uses' },
  );
  return {
    Token: connection.model<TokenDoc>('host_account_token', token),
    TokenUse: connection.model<TokenUseDoc>('host_account_token_use', use),
  };
}

const hash = (secret: string) => crypto.createHash('sha256').update(secret).digest('hex');
/** Secrets are 43 characters of base64url; anything else is not a link of ours. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;

export type TokenCheck = { ok: true; token: TokenDoc } | { ok: false; reason: 'unknown' | 'expired' | 'used'; token?: TokenDoc | undefined };

export function createTokens({ Token, TokenUse }: AccountModels) {
  return {
    /** A new link secret for this person and purpose (the secret is returned once, never stored). */
    async issue(purpose: TokenPurpose, userId: string, email?: string): Promise<{ secret: string; id: string }> {
      const secret = crypto.randomBytes(32).toString('base64url');
      const now = new Date();
      const id = hash(secret);
      await Token.create({
        _id: id,
        purpose,
        userId,
        ...(email ? { email } : {}),
        createdAt: now,
        expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS[purpose]),
      });
      return { secret, id };
    },
    /** What a link is, without using it (to show its form). */
    async check(purpose: TokenPurpose, secret: unknown): Promise<TokenCheck> {
      if (typeof secret !== 'string' || !SECRET.test(secret)) return { ok: false, reason: 'unknown' };
      const id = hash(secret);
      const [token, used] = await Promise.all([Token.findById(id).lean(), TokenUse.exists({ _id: id })]);
      if (!token || token.purpose !== purpose) return { ok: false, reason: 'unknown' };
      if (used) return { ok: false, reason: 'used', token };
      if (token.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired', token };
      return { ok: true, token };
    },
    /** Uses a link: exactly one of several simultaneous uses succeeds. */
    async use(purpose: TokenPurpose, secret: unknown): Promise<TokenCheck> {
      const checked = await this.check(purpose, secret);
      if (!checked.ok) return checked;
      try {
        await TokenUse.create({ _id: checked.token._id, at: new Date() });
      } catch (err) {
        if (isDuplicateKey(err)) return { ok: false, reason: 'used', token: checked.token };
        throw err;
      }
      return checked;
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;
