/**
 * The host's audit log: what administrators did to accounts (deactivation, invitations, reset
 * links, local passwords allowed) and what people did to their own (address changes, resets).
 * Entries are inserted, never changed.
 */
import mongoose, { type Connection } from 'mongoose';

export interface AuditDoc {
  _id: mongoose.Types.ObjectId;
  at: Date;
  /** Who did it: a user id, or 'self' / 'system'. */
  actor: string;
  action: string;
  /** The account concerned. */
  userId: string;
  details?: string;
}

export function createAudit(connection: Connection) {
  const schema = new mongoose.Schema<AuditDoc>(
    {
      at: { type: Date, required: true },
      actor: { type: String, required: true },
      action: { type: String, required: true },
      userId: { type: String, required: true },
      details: { type: String, maxlength: 1000 },
    },
    { versionKey: false, collection: 'host_audit' },
  );
  schema.index({ userId: 1, at: -1 });
  const model = connection.model<AuditDoc>('host_audit', schema);
  return {
    model,
    async record(entry: Omit<AuditDoc, '_id' | 'at'>): Promise<void> {
      await model.create({ ...entry, at: new Date() });
    },
    async of(userId: string, limit = 50): Promise<AuditDoc[]> {
      return model
        .find({ userId: String(userId) })
        .sort({ at: -1 })
        .limit(limit)
        .lean();
    },
  };
}

export type Audit = ReturnType<typeof createAudit>;
