/**
 * The outbox: every message Olive sends, recorded by the request (or listener) that makes the fact
 * it reports, before anything is sent. Its `_id` is what the message is about
 * (`enrolment.accepted:<enrolmentId>`), so a retried request or a race records one message, never
 * two. Delivery is a job of the `host.mail` queue keyed the same way (its state is the message's
 * state: waiting, running, done = sent (its `finishedAt` is when), failed, dropped). Written
 * once, never changed.
 */
import mongoose, { type Connection, type Model } from 'mongoose';

export type MailCategory = 'account' | 'notice';

export interface MailAttachmentRef {
  filename: string;
  contentType: string;
  /** A GridFS file, read when the message is sent (so the outbox stays small). */
  bucket: string;
  fileId: string;
}

export interface MailDoc {
  _id: string;
  to: string;
  toName?: string;
  userId?: string;
  locale: string;
  subject: string;
  text: string;
  html: string;
  /** 'account' mail (invitation, reset) always goes; a 'notice' honours the person's preferences. */
  category: MailCategory;
  /** For notices: the preference topic (`enrolment.reminders`), shown in List-Unsubscribe. */
  topic?: string;
  attachments: MailAttachmentRef[];
  /** The message's secret (a link's token), encrypted with the app's key; see OutgoingMail.secret. */
  sealed?: string;
  createdAt: Date;
}

export interface MailModels {
  Mail: Model<MailDoc>;
}

export function defineMailModels(connection: Connection): MailModels {
  const schema = new mongoose.Schema<MailDoc>(
    {
      _id: { type: String, required: true },
      to: { type: String, required: true, lowercase: true, trim: true },
      toName: String,
      userId: String,
      locale: { type: String, required: true },
      subject: { type: String, required: true },
      text: { type: String, required: true },
      html: { type: String, required: true },
      category: { type: String, required: true, enum: ['account', 'notice'] },
      topic: String,
      attachments: {
        type: [new mongoose.Schema<MailAttachmentRef>({ filename: String, contentType: String, bucket: String, fileId: String }, { _id: false })],
        default: [],
      },
      sealed: String,
      createdAt: { type: Date, required: true },
    },
    { versionKey: false, collection: 'host_mail' },
  );
  schema.index({ to: 1, createdAt: -1 });
  schema.index({ createdAt: -1 });
  return { Mail: connection.model<MailDoc>('host_mail', schema) };
}
