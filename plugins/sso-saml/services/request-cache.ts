import mongoose, { type Model } from 'mongoose';
import type { CacheItem, CacheProvider } from '@node-saml/passport-saml';
import { isDuplicateKey } from '../../../src/index.ts';
import type { ConsumedAssertionDoc, PendingRequestDoc } from '../models/saml.models.ts';
import { currentBinding } from './browser-binding.ts';

const requestKey = (idpId: string, requestId: string) => `${idpId}:${requestId}`;

/**
 * node-saml's request cache, in MongoDB: the `InResponseTo` of an answer must name a request some
 * app instance sent to this IdP, not too long ago. Keys are prefixed with the IdP's id, so a request
 * made to one IdP cannot be answered by another.
 */
export class MongoRequestCache implements CacheProvider {
  constructor(
    private readonly model: Model<PendingRequestDoc>,
    private readonly idpId: string,
    private readonly lifetimeMs: number,
  ) {}

  private id(key: string) {
    return requestKey(this.idpId, key);
  }

  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    try {
      // A sign-in request carries the hash of the starting browser's cookie; a logout request none.
      const binding = currentBinding();
      await this.model.create({ _id: this.id(key), value, expiresAt: new Date(Date.now() + this.lifetimeMs), ...(binding ? { binding } : {}) });
    } catch (err) {
      if (isDuplicateKey(err)) return null; // node-saml's contract: null when the key exists
      throw err;
    }
    return { value, createdAt: Date.now() };
  }

  async getAsync(key: string): Promise<string | null> {
    const doc = await this.model.findById(this.id(key)).lean();
    return doc && doc.expiresAt.getTime() > Date.now() ? doc.value : null;
  }

  async removeAsync(key: string | null): Promise<string | null> {
    if (!key) return null;
    const doc = await this.model.findByIdAndDelete(this.id(key)).lean();
    return doc?.value ?? null;
  }
}

/**
 * The messages exchanged with IdPs that Olive remembers for a while: requests waiting for their
 * answer, and assertions already used.
 */
export function createMessageLedger(PendingRequest: Model<PendingRequestDoc>, ConsumedAssertion: Model<ConsumedAssertionDoc>) {
  /** A request sent to this IdP and still waiting for its answer, or null. */
  async function pendingRequest(idpId: string, requestId: string): Promise<PendingRequestDoc | null> {
    const doc = await PendingRequest.findById(requestKey(idpId, requestId)).lean();
    return doc && doc.expiresAt.getTime() > Date.now() ? doc : null;
  }

  /**
   * Remembers assertions already used: the first use inserts its id, any later one (a replay, or
   * the same answer posted twice at once) hits the unique `_id` and is refused.
   */
  async function consumeAssertion(idpId: string, assertionId: string, expiresAt: Date): Promise<boolean> {
    try {
      await ConsumedAssertion.create({ _id: `${idpId}:${assertionId}`, expiresAt });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /** Removes expired pending requests and consumed assertions: FerretDB has no TTL index. */
  async function removeExpired(): Promise<void> {
    const expired = { expiresAt: mongoose.trusted({ $lt: new Date() }) };
    await PendingRequest.deleteMany(expired);
    await ConsumedAssertion.deleteMany(expired);
  }

  return { pendingRequest, consumeAssertion, removeExpired };
}
export type MessageLedger = ReturnType<typeof createMessageLedger>;
