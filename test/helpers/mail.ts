/**
 * The real mail server of the test run (Mailpit, started in global-setup.ts) and what tests need
 * to use it: the environment that points an app at it, and an inbox that reads what arrived
 * through Mailpit's HTTP API. Each app gets a sender address of its own, so that a test reads only
 * its own messages although every test file shares the one server.
 */
import crypto from 'node:crypto';

export interface DeliveredMail {
  ID: string;
  MessageID: string;
  From: { Address: string; Name: string };
  To: { Address: string; Name: string }[];
  Subject: string;
  Created: string;
  Attachments: number;
}

export interface MailDetail extends DeliveredMail {
  Text: string;
  HTML: string;
  Attachments: never;
  AttachmentsList: { PartID: string; FileName: string; ContentType: string; Size: number }[];
  Headers: Record<string, string[]>;
}

function server(): { smtpUrl: string; httpUrl: string } {
  const smtpUrl = process.env.OLIVE_TEST_SMTP_URL;
  const httpUrl = process.env.OLIVE_TEST_MAIL_HTTP;
  if (!smtpUrl || !httpUrl) throw new Error('The test mail server is not running: run the suite with `npm test` (mocha loads test/helpers/global-setup.ts).');
  return { smtpUrl, httpUrl };
}

/** Environment for createTestApp: mail through the test server, from an address of this app's own; fast job polling. */
export function mailTestEnv(extra: Record<string, string> = {}): Record<string, string> & { MAIL_FROM: string } {
  const from = `olive-${crypto.randomBytes(5).toString('hex')}@test.olive.example`;
  return { SMTP_URL: server().smtpUrl, MAIL_FROM: from, JOB_POLL_MS: '50', MAIL_RETRY_MS: '200', ...extra };
}

async function api<T>(path: string, base = server().httpUrl): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`);
  if (!res.ok) throw new Error(`mail server: GET ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

/** The messages one app sent (by its MAIL_FROM), as the mail server received them. */
export function inbox(from: string, base?: string) {
  async function messages(): Promise<DeliveredMail[]> {
    const all: DeliveredMail[] = [];
    for (let start = 0; ; start += 500) {
      const page = await api<{ messages: DeliveredMail[]; messages_count: number }>(
        `/search?query=${encodeURIComponent(`from:"${from}"`)}&start=${start}&limit=500`,
        base,
      );
      all.push(...page.messages);
      if (page.messages.length < 500) break;
    }
    return all;
  }
  return {
    messages,
    /** Messages to one address. */
    async to(address: string) {
      return (await messages()).filter((m) => m.To.some((t) => t.Address.toLowerCase() === address.toLowerCase()));
    },
    /** Waits until `count` messages match (default 1), then returns them. */
    async waitFor(match: (m: DeliveredMail) => boolean, options: { count?: number; timeoutMs?: number } = {}): Promise<DeliveredMail[]> {
      const deadline = Date.now() + (options.timeoutMs ?? 15_000);
      for (;;) {
        const found = (await messages()).filter(match);
        if (found.length >= (options.count ?? 1)) return found;
        if (Date.now() > deadline) throw new Error(`expected ${options.count ?? 1} message(s) from ${from}; ${found.length} arrived`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    /** One message in full: text, HTML, headers, attachments. */
    async read(id: string): Promise<MailDetail> {
      const detail = await api<MailDetail & { Attachments: MailDetail['AttachmentsList'] }>(`/message/${id}`, base);
      const headers = await api<Record<string, string[]>>(`/message/${id}/headers`, base);
      return { ...detail, AttachmentsList: detail.Attachments, Headers: headers } as MailDetail;
    },
    /** The bytes of an attachment. */
    async attachment(id: string, partId: string): Promise<Buffer> {
      const res = await fetch(`${base ?? server().httpUrl}/api/v1/message/${id}/part/${partId}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

/** The first link in a message's text that starts with this prefix. */
export function linkIn(text: string, prefix: string): string {
  const match = text.match(new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\\s]*`));
  if (!match) throw new Error(`no link starting with ${prefix} in:\n${text}`);
  return match[0];
}
