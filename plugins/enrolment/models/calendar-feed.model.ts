import mongoose from 'mongoose';

/**
 * A person's private calendar feed address, two small documents keyed so that both look-ups are
 * by `_id` (docs/architecture.md, data: only `_id` is indexed on FerretDB):
 * - `user:<userId>`: the hash of the person's current token (SHA-256, hex) and when it was made;
 * - `token:<hash>`: which person a token belongs to.
 * A token is valid only while the person's document still holds its hash: making a new address
 * replaces the hash there first, so the old one stops at once even if removing its own document
 * fails. The token itself is never stored.
 */
export interface CalendarFeedDoc {
  _id: string;
  userId: string;
  tokenHash: string;
  createdAt: Date;
}

export const calendarFeedSchema = new mongoose.Schema<CalendarFeedDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    tokenHash: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
