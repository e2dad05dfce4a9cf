import mongoose from 'mongoose';

/**
 * A sign-in (or logout) request Olive sent to an IdP and is waiting for the answer to: node-saml's
 * `InResponseTo` check reads it. In MongoDB, so that any app instance can receive the answer.
 * `_id` is `<idp>:<request id>`; FerretDB has no TTL index, so `expiresAt` is checked on read and
 * expired entries are removed by the plugin's timer.
 */
export interface PendingRequestDoc {
  _id: string;
  /** node-saml's value: the request's IssueInstant. */
  value: string;
  expiresAt: Date;
  /** Sign-in requests: the hash of the cookie of the browser that started it (services/browser-binding.ts). */
  binding?: string;
}
export const pendingRequestSchema = new mongoose.Schema<PendingRequestDoc>(
  {
    _id: { type: String, required: true },
    value: { type: String, required: true },
    expiresAt: { type: Date, required: true },
    binding: { type: String },
  },
  { versionKey: false },
);

/**
 * An assertion already used to sign in: `_id` is `<idp>:<assertion ID>`, inserted once (a unique
 * `_id`), kept until the assertion's own expiry, after which it would be refused anyway.
 */
export interface ConsumedAssertionDoc {
  _id: string;
  expiresAt: Date;
}
export const consumedAssertionSchema = new mongoose.Schema<ConsumedAssertionDoc>(
  {
    _id: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/**
 * The link between a person at an IdP (their stable key: NameID or an attribute such as a staff
 * index) and an Olive account. `_id` is `<idp>:<key>`, so one key links to exactly one account.
 */
export interface IdentityDoc {
  _id: string;
  idp: string;
  key: string;
  userId: string;
  /** The NameID of the last sign-in: how a logout request from the IdP finds the person. */
  nameID: string;
  linkedBy: 'created' | 'email';
  createdAt: Date;
  lastSignInAt: Date;
}
export const identitySchema = new mongoose.Schema<IdentityDoc>(
  {
    _id: { type: String, required: true },
    idp: { type: String, required: true },
    key: { type: String, required: true },
    userId: { type: String, required: true },
    nameID: { type: String, required: true },
    linkedBy: { type: String, enum: ['created', 'email'], required: true },
    createdAt: { type: Date, required: true },
    lastSignInAt: { type: Date, required: true },
  },
  { versionKey: false },
);
identitySchema.index({ idp: 1, nameID: 1 });
identitySchema.index({ userId: 1 });

/**
 * What the IdP sent at a person's last SAML sign-in, for the admins' attribute page. One per
 * account (`_id` is the user id). Attribute names are kept as values, not keys: Entra's names
 * are URLs full of dots, which MongoDB field names cannot hold portably.
 */
export interface LastSignInDoc {
  _id: string;
  idp: string;
  at: Date;
  nameID: string;
  nameIDFormat: string;
  attributes: { name: string; values: string[] }[];
}
export const lastSignInSchema = new mongoose.Schema<LastSignInDoc>(
  {
    _id: { type: String, required: true },
    idp: { type: String, required: true },
    at: { type: Date, required: true },
    nameID: { type: String, required: true },
    nameIDFormat: { type: String, default: '' },
    attributes: [{ _id: false, name: { type: String, required: true }, values: { type: [String], default: [] } }],
  },
  { versionKey: false },
);
