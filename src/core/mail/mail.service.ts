/**
 * E-mail: messages recorded in the outbox by the request that makes the fact they report, then
 * delivered over SMTP by the `host.mail` job queue (retries with backoff, a pause while the relay
 * is away, a throughput limit shared by all instances). See mail.models.ts for the record.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import ejs from 'ejs';
import type { i18n, TFunction } from 'i18next';
import mongoose, { type Connection } from 'mongoose';
import nodemailer, { type Transporter } from 'nodemailer';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { HostConfig } from '../config.ts';
import { isDuplicateKey, notFound } from '../errors.ts';
import { findByKeys } from '../keyed-reads.ts';
import type { JobsService, JobSummary } from '../jobs/jobs.service.ts';
import { PermanentFailure, RetryLater } from '../jobs/jobs.service.ts';
import type { MailAttachmentRef, MailCategory, MailDoc, MailModels } from './mail.models.ts';

export const MAIL_QUEUE = 'host.mail';

/** What a message says, in the recipient's language; the host lays it out as text and HTML. */
export interface MailContent {
  subject: string;
  /** Plain-text paragraphs (no markup: they are escaped in the HTML part). */
  paragraphs: string[];
  /** The one thing to do, as a button in HTML and a bare link in text. A path (`/account/...`) or a full URL on BASE_URL. */
  action?: { label: string; url: string } | undefined;
  /** Small print under the message. */
  footnote?: string | undefined;
}

export type MailRecipient = { userId: string } | { email: string; name?: string | undefined; locale?: string | undefined };

export interface OutgoingMail {
  /** What the message is about, e.g. `enrolment.accepted:<enrolmentId>`: recording the same key twice is one message. */
  key: string;
  to: MailRecipient;
  /** 'account': invitations, password resets, address changes (always sent). 'notice': everything else. */
  category: MailCategory;
  /** For optional notices: the preference topic a person may turn off (see `MailTopics`). */
  topic?: string | undefined;
  /** Composed in the recipient's language; `programme` is the programme's name as an admin set it (branding). */
  compose(t: TFunction, lang: string, programme: string): MailContent;
  attachments?: MailAttachmentRef[] | undefined;
  /**
   * A secret the message carries (a single-use link's token), written as {@link MAIL_SECRET} in the
   * composed text. The outbox keeps it only encrypted with the app's secret, so neither admins
   * reading the outbox nor a copy of the database can use the link; it is put in at sending.
   */
  secret?: string | undefined;
}

/** Stands for the message's secret in its composed text, e.g. `/account/reset/${MAIL_SECRET}`. */
export const MAIL_SECRET = '__OLIVE_SECRET__';

export type MailSendResult =
  { id: string; created: boolean; skipped?: undefined } | { id: string; created: false; skipped: 'opted-out' | 'disabled' | 'unknown-person' };

export interface MailMessage extends Omit<MailDoc, '_id' | 'sealed'> {
  id: string;
  /** When the mail server accepted it. */
  sentAt?: Date | undefined;
  state: JobSummary['state'] | 'unknown';
  attempts: number;
  lastError?: string | undefined;
}

export interface MailService {
  /** Records a message (once per key) and queues its delivery. */
  send(mail: OutgoingMail): Promise<MailSendResult>;
  /** An absolute address on the site: links in mail come from BASE_URL only, never from a request. */
  url(pathOrUrl: string): string;
  /** True when an SMTP server is configured: without one, messages wait in the outbox. */
  readonly delivering: boolean;
  /** Where a person reads the mail in development (the local Mailpit's web address), if any. */
  readonly devInbox?: string | undefined;
  list(query: { to?: string | undefined; state?: string | undefined; page?: number; pageSize?: number }): Promise<{ messages: MailMessage[]; total: number }>;
  get(id: string): Promise<MailMessage>;
  /** The topics a person has turned off. */
  optedOut(userId: string): Promise<string[]>;
  setOptedOut(userId: string, topics: string[]): Promise<void>;
  /** The signed one-click unsubscribe address for a person and topic. */
  unsubscribeUrl(userId: string, topic: string): string;
  /** Checks an unsubscribe signature. */
  verifyUnsubscribe(userId: string, topic: string, signature: string): boolean;
  /** Stops the SMTP transport. */
  close(): void;
}

interface UserLike {
  _id: mongoose.Types.ObjectId;
  email: string;
  name: string;
  locale?: string | undefined;
  disabled?: boolean;
  mailOptOut?: string[] | undefined;
}

export interface MailDeps {
  models: MailModels;
  jobs: JobsService;
  config: HostConfig;
  logger: Logger;
  connection: Connection;
  i18n: () => i18n;
  users: mongoose.Model<UserLike>;
  viewsDir: string;
  devInbox?: string | undefined;
  /** The programme's name as people see it on the pages (an admin may rename it): signs every message. */
  programmeName(): Promise<string>;
}

const CONNECTION_ERRORS = new Set(['ECONNECTION', 'ECONNREFUSED', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'EPIPE', 'ECLOSE']);

/** The address mail comes from: MAIL_FROM, else the programme's name at the site's host. */
export function mailFrom(config: HostConfig, programme: string = config.PROGRAMME_NAME): string {
  if (config.MAIL_FROM) return config.MAIL_FROM;
  const host = new URL(config.BASE_URL).hostname;
  const domain = /^[\d.]+$|^localhost$/.test(host) ? 'olive.localhost' : host;
  return `"${programme.replace(/["\\\r\n]/g, '')}" <no-reply@${domain}>`;
}

function createTransport(config: HostConfig): Transporter | undefined {
  if (!config.SMTP_URL) return undefined;
  const dkim =
    config.DKIM_DOMAIN && config.DKIM_SELECTOR && config.DKIM_PRIVATE_KEY_FILE
      ? { domainName: config.DKIM_DOMAIN, keySelector: config.DKIM_SELECTOR, privateKey: fs.readFileSync(config.DKIM_PRIVATE_KEY_FILE, 'utf8') }
      : undefined;
  // TLS and authentication as the URL says (smtps:// for implicit TLS, user:pass@ for auth);
  // STARTTLS is used whenever the server offers it.
  return nodemailer.createTransport({
    url: config.SMTP_URL,
    pool: true,
    maxConnections: 4,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    ...(dkim ? { dkim } : {}),
  } as never);
}

export function createMailService(deps: MailDeps): MailService {
  const {
    models: { Mail },
    jobs,
    config,
  } = deps;
  const transport = createTransport(config);
  const siteHost = new URL(config.BASE_URL).hostname || 'olive.localhost';
  const layoutFile = path.join(deps.viewsDir, 'mail', 'message.ejs');
  // AES-256-GCM with a key of the app's own: the outbox never holds a usable link.
  const sealKey = crypto.createHash('sha256').update(`olive mail secrets\n${config.SESSION_SECRET}`).digest();
  const seal = (secret: string) => {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', sealKey, iv);
    const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
  };
  const unseal = (sealed: string) => {
    const [iv, tag, data] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
    const decipher = crypto.createDecipheriv('aes-256-gcm', sealKey, iv!);
    decipher.setAuthTag(tag!);
    return Buffer.concat([decipher.update(data!), decipher.final()]).toString('utf8');
  };
  const sign = (userId: string, topic: string) =>
    crypto.createHmac('sha256', config.SESSION_SECRET).update(`unsubscribe\n${userId}\n${topic}`).digest('base64url');

  function url(pathOrUrl: string): string {
    if (/^https?:\/\//.test(pathOrUrl)) {
      if (!pathOrUrl.startsWith(`${config.BASE_URL}/`)) throw new Error(`mail links must point to BASE_URL: ${pathOrUrl}`);
      return pathOrUrl;
    }
    return `${config.BASE_URL}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
  }

  function unsubscribeUrl(userId: string, topic: string) {
    return url(`/mail/unsubscribe?u=${encodeURIComponent(userId)}&topic=${encodeURIComponent(topic)}&s=${sign(userId, topic)}`);
  }

  async function render(content: MailContent, t: TFunction, lang: string, programme: string, unsubscribe?: string) {
    const action = content.action ? { label: content.action.label, url: url(content.action.url) } : undefined;
    const dir = (t('dir', { defaultValue: 'ltr' }) as string) === 'rtl' ? 'rtl' : 'ltr';
    const html = await ejs.renderFile(layoutFile, { content, action, lang, dir, programme, unsubscribe, t }, { cache: true });
    const text = [
      ...content.paragraphs,
      ...(action ? [`${action.label}:\n${action.url}`] : []),
      ...(content.footnote ? [content.footnote] : []),
      `-- \n${programme}\n${config.BASE_URL}/`,
      ...(unsubscribe ? [`${t('mail.unsubscribe')}: ${unsubscribe}`] : []),
    ].join('\n\n');
    return { html, text: `${text}\n` };
  }

  async function resolve(to: MailRecipient): Promise<{ email: string; name?: string | undefined; locale: string; userId?: string; user?: UserLike } | null> {
    if ('userId' in to) {
      if (!mongoose.isValidObjectId(to.userId)) return null;
      const user = await deps.users.findById(to.userId).lean();
      if (!user) return null;
      return { email: user.email, name: user.name, locale: user.locale ?? config.DEFAULT_LOCALE, userId: String(user._id), user };
    }
    const user = await deps.users.findOne({ email: to.email.trim().toLowerCase() }).lean();
    if (user) return { email: user.email, name: user.name, locale: user.locale ?? to.locale ?? config.DEFAULT_LOCALE, userId: String(user._id), user };
    return { email: to.email.trim().toLowerCase(), name: to.name, locale: to.locale ?? config.DEFAULT_LOCALE };
  }

  async function send(mail: OutgoingMail): Promise<MailSendResult> {
    const id = mail.key;
    const recipient = await resolve(mail.to);
    if (!recipient) return { id, created: false, skipped: 'unknown-person' };
    if (recipient.user?.disabled) return { id, created: false, skipped: 'disabled' };
    if (mail.category === 'notice' && mail.topic && recipient.user?.mailOptOut?.includes(mail.topic)) return { id, created: false, skipped: 'opted-out' };
    const i18n = deps.i18n();
    const lang = i18n.options.supportedLngs && (i18n.options.supportedLngs as string[]).includes(recipient.locale) ? recipient.locale : config.DEFAULT_LOCALE;
    const t = i18n.getFixedT(lang);
    const programme = await deps.programmeName();
    const content = mail.compose(t, lang, programme);
    const unsubscribe = mail.category === 'notice' && mail.topic && recipient.userId ? unsubscribeUrl(recipient.userId, mail.topic) : undefined;
    const { html, text } = await render(content, t, lang, programme, unsubscribe);
    try {
      await Mail.create({
        _id: id,
        to: recipient.email,
        ...(recipient.name ? { toName: recipient.name } : {}),
        ...(recipient.userId ? { userId: recipient.userId } : {}),
        locale: lang,
        subject: content.subject,
        text,
        html,
        category: mail.category,
        ...(mail.topic ? { topic: mail.topic } : {}),
        attachments: mail.attachments ?? [],
        createdAt: new Date(),
        ...(mail.secret ? { sealed: seal(mail.secret) } : {}),
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Recorded before: make sure its delivery is queued (a crash between the two inserts), once.
      await jobs.enqueue(MAIL_QUEUE, { messageId: id }, { key: id });
      return { id, created: false };
    }
    await jobs.enqueue(MAIL_QUEUE, { messageId: id }, { key: id });
    return { id, created: true };
  }

  async function attachmentsOf(message: MailDoc) {
    const out = [];
    for (const a of message.attachments) {
      const bucket = new mongoose.mongo.GridFSBucket(deps.connection.db!, { bucketName: a.bucket });
      const chunks: Buffer[] = [];
      for await (const chunk of bucket.openDownloadStream(new mongoose.Types.ObjectId(a.fileId))) chunks.push(chunk as Buffer);
      out.push({ filename: a.filename, contentType: a.contentType, content: Buffer.concat(chunks) });
    }
    return out;
  }

  {
    // Without an SMTP server the queue still records every message (they wait, and an instance
    // that has one delivers them); this instance just does not run it.
    jobs.define<{ messageId: string }>(MAIL_QUEUE, {
      notRunHere: !transport,
      perMinute: config.MAIL_PER_MINUTE,
      backoffMs: config.MAIL_RETRY_MS,
      maxBackoffMs: 3_600_000,
      maxAttempts: 10,
      concurrency: 4,
      async run({ messageId }) {
        const message = await Mail.findById(messageId).lean();
        if (!message) throw new PermanentFailure('the message is no longer in the outbox');
        let secret = '';
        if (message.sealed) {
          try {
            secret = unseal(message.sealed);
          } catch {
            throw new PermanentFailure('its link cannot be read any more (SESSION_SECRET changed): the person can ask for a new one');
          }
        }
        const reveal = (text: string) => (secret ? text.replaceAll(MAIL_SECRET, secret) : text);
        const headers: Record<string, string> = { 'X-Olive-Message': crypto.createHash('sha256').update(message._id).digest('hex').slice(0, 16) };
        if (message.category === 'notice' && message.topic && message.userId) {
          headers['List-Unsubscribe'] = `<${unsubscribeUrl(message.userId, message.topic)}>`;
          headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
        }
        try {
          await transport!.sendMail({
            from: mailFrom(config, await deps.programmeName()),
            to: message.toName ? { name: message.toName, address: message.to } : message.to,
            subject: message.subject,
            text: reveal(message.text),
            html: reveal(message.html),
            headers,
            // The same Message-ID for every attempt: a receiver can tell a resend after a crash.
            messageId: `<${crypto.createHash('sha256').update(message._id).digest('hex').slice(0, 32)}@${siteHost}>`,
            attachments: await attachmentsOf(message),
          });
        } catch (err) {
          const e = err as { code?: string; responseCode?: number; message?: string };
          if (!e.responseCode && e.code && CONNECTION_ERRORS.has(e.code)) {
            // The relay is away: not this message's fault. The queue pauses; no attempt is spent.
            throw new RetryLater(`mail server unavailable: ${e.message ?? e.code}`, Math.min(config.MAIL_RETRY_MS, 30_000), { pauseQueue: true });
          }
          // The relay refuses Olive itself (a rotated password, a sender it does not accept): every
          // message would fail alike, so the queue waits for the configuration to be fixed.
          if (e.code === 'EAUTH' || (e.code === 'EENVELOPE' && /sender|mail from/i.test(e.message ?? ''))) {
            throw new RetryLater(`the mail server refuses Olive (check SMTP_URL and MAIL_FROM): ${e.message ?? e.code}`, 60_000, { pauseQueue: true });
          }
          // This recipient is refused for good: trying again cannot help.
          if (e.code === 'EENVELOPE' && e.responseCode && e.responseCode >= 500)
            throw new PermanentFailure(`refused by the mail server: ${e.message ?? e.responseCode}`);
          throw err;
        }
        // Sent: the job's end is the message's record of it (state done, finishedAt), one write fewer.
      },
    });
  }

  const toMessage = (doc: MailDoc, job: JobSummary | undefined): MailMessage => {
    const { _id, sealed: _sealed, ...rest } = doc;
    // What admins read: the message as sent, its secret link shown as hidden.
    rest.text = rest.text.replaceAll(MAIL_SECRET, '[hidden]');
    rest.html = rest.html.replaceAll(MAIL_SECRET, 'hidden');
    return {
      ...rest,
      id: _id,
      state: job?.state ?? 'unknown',
      attempts: job?.attempts ?? 0,
      lastError: job?.lastError,
      sentAt: job?.state === 'done' ? job.finishedAt : undefined,
    };
  };

  return {
    send,
    url,
    delivering: !!transport,
    devInbox: deps.devInbox,
    async list({ to, state, page = 1, pageSize = 50 }) {
      if (state) {
        // By delivery state: the jobs know it; their keys are the messages' ids.
        const { jobs: found, total } = await jobs.list({ state: state as JobSummary['state'], queue: MAIL_QUEUE, page, pageSize });
        const docs = new Map(
          (
            await findByKeys(
              Mail,
              found.map((j) => j.key),
            )
          ).map((d) => [d._id, d]),
        );
        const messages = found.filter((j) => docs.has(j.key)).map((j) => toMessage(docs.get(j.key)!, j));
        return { messages: to ? messages.filter((m) => m.to === to.trim().toLowerCase()) : messages, total };
      }
      const filter: Record<string, string> = {};
      if (to) filter.to = to.trim().toLowerCase();
      const [docs, total] = await Promise.all([
        Mail.find(filter)
          .sort({ createdAt: -1 })
          .skip((page - 1) * pageSize)
          .limit(pageSize)
          .lean(),
        Mail.countDocuments(filter),
      ]);
      const states = new Map((await jobs.getMany(docs.map((d) => `${MAIL_QUEUE}:${d._id}`))).map((j) => [j.key, j]));
      return { messages: docs.map((d) => toMessage(d, states.get(d._id))), total };
    },
    async get(id) {
      const doc = await Mail.findById(String(id)).lean();
      if (!doc) throw notFound('No such message.', { key: 'admin.mail.noSuchMessage' });
      return toMessage(doc, (await jobs.get(`${MAIL_QUEUE}:${doc._id}`)) ?? undefined);
    },
    async optedOut(userId) {
      if (!mongoose.isValidObjectId(userId)) return [];
      return (await deps.users.findById(userId, { mailOptOut: 1 }).lean())?.mailOptOut ?? [];
    },
    async setOptedOut(userId, topics) {
      await deps.users.updateOne({ _id: userId }, { $set: { mailOptOut: [...new Set(topics)] } });
    },
    unsubscribeUrl,
    verifyUnsubscribe(userId, topic, signature) {
      const expected = Buffer.from(sign(userId, topic));
      const given = Buffer.from(String(signature));
      return expected.length === given.length && crypto.timingSafeEqual(expected, given);
    },
    close() {
      transport?.close();
    },
  };
}
