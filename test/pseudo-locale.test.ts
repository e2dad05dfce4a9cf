import { expect } from 'chai';
import supertest from 'supertest';
import announcements from '../plugins/announcements/index.ts';
import certificates from '../plugins/certificates/index.ts';
import courses from '../plugins/courses/index.ts';
import enrolment from '../plugins/enrolment/index.ts';
import { countryOptions } from '../plugins/enrolment/services/profile.ts';
import { formatDate, formatDateTime } from '../src/core/formats.ts';
import { LANGUAGES, pseudoText } from '../src/core/i18n.ts';
import { createTestApp, signIn, type TestApp } from './helpers/app.ts';

/**
 * Every word a person reads on a page comes from a catalogue (and so is translated) or from the
 * database (what people wrote: names, course texts). In the pseudo-language every catalogue text
 * is marked ⟦…⟧; the test visits the pages each role can reach by following links (up to 80), takes away the
 * marked texts and everything the database holds, and expects no word to be left.
 */

/** What people read: text between tags, and the labels a screen reader speaks. */
function readableText(html: string): string[] {
  // Code (addresses, placeholders like {startDate}, queue names) is the same in every language;
  // a text area holds what someone wrote.
  const body = html.replace(/<(script|style|code|textarea)[\s\S]*?<\/\1>/g, ' ').replace(/<!--[\s\S]*?-->/g, ' ');
  const out: string[] = [];
  for (const m of body.matchAll(/\s(?:aria-label|title|placeholder|alt)="([^"]*)"/g)) out.push(m[1]!);
  for (const m of body.matchAll(/<title>([\s\S]*?)<\/title>/g)) out.push(m[1]!);
  // Option values and hidden fields are not read; text content is.
  out.push(...body.replace(/<title>[\s\S]*?<\/title>/, ' ').split(/<[^>]*>/));
  return out.map(decode).filter((s) => s.trim());
}

function decode(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

/** What the database holds: short texts (names, titles) shown whole, long ones (lessons, bodies) in pieces. */
interface PageData {
  whole: string[];
  long: string[];
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Every string and date the database holds, as pages would show them (see `leftover`). */
async function databaseTexts(t: TestApp): Promise<PageData> {
  const db = t.app.olive.connection.db!;
  const whole = new Set<string>();
  const long = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      if (v.length >= 80) long.add(squash(v));
      else if (v.length >= 2) whole.add(v);
    } else if (v instanceof Date) {
      whole.add(formatDateTime('qps', v));
      whole.add(formatDate('qps', v));
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object' && !('_bsontype' in v)) Object.values(v).forEach(walk);
  };
  // Days computed from the data (a due date: a start plus whole days) are formats too: every day
  // from three years back to three years ahead.
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  for (let d = -1100; d <= 1100; d++) whole.add(formatDate('qps', new Date(today + d * 86_400_000)));
  // Country names come from the UN's list, in every language (data, not catalogue text).
  for (const { name } of countryOptions('qps')) whole.add(name);
  for (const { name } of await db.listCollections().toArray()) {
    if (/\.chunks$|sessions/.test(name)) continue;
    for (const doc of await db.collection(name).find({}).toArray()) walk(doc);
  }
  return { whole: [...whole].sort((a, b) => b.length - a.length), long: [...long] };
}

/**
 * Words that are neither catalogue text nor data: the product's name, units and formats, a code's
 * shape (XXXX), the switcher's languages, each named in itself on purpose, and the word Intl puts
 * between the last two items of a list (it writes the pseudo-language's lists in English).
 */
const SAME_EVERYWHERE = new Set([
  'Olive',
  'UTC',
  'PDF',
  'CSV',
  'SAML',
  'ZIP',
  'KB',
  'MB',
  'GB',
  'ID',
  'XXXX',
  'SHA',
  'and',
  ...Object.values(LANGUAGES).map((l) => l.name),
]);

/**
 * The words left on a page once catalogue text (⟦…⟧) and data are taken away. Data is taken away
 * whole (a name, a title), except long texts that pages show as rendered Markdown, whose words
 * are taken away one by one.
 */
function leftover(html: string, data: PageData): string[] {
  const words = new Set<string>();
  const context = process.env.PSEUDO_CONTEXT ? (w: string, text: string) => console.log(`  ${w}: ${text.trim().slice(0, 160)}`) : () => undefined;
  for (let text of readableText(html)) {
    text = text.replace(/⟦[^⟧]*⟧/g, ' ');
    // A piece of a long text as Markdown renders it (a paragraph, a list item, a bold phrase).
    if (text.trim() && data.long.some((l) => ` ${l} `.includes(` ${squash(text)} `) || (l.includes(squash(text)) && squash(text).length > 3))) continue;
    // A title cut short for a narrow place ("Interest-Based Negotiation: o…") is still data.
    const cut = /^\s*(.+?)…\s*$/.exec(text)?.[1];
    if (cut && data.whole.some((d) => d.startsWith(cut))) continue;
    for (const d of data.whole) {
      if (!text.includes(d)) continue;
      const escaped = d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      text = text.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'gu'), ' ');
    }
    for (const w of text.match(/\p{L}{2,}/gu) ?? [])
      if (!SAME_EVERYWHERE.has(w)) {
        words.add(w);
        context(w, text);
      }
  }
  return [...words];
}

/** Same-site pages reachable by links, read with GET (no downloads, no sign-out). */
function links(html: string): string[] {
  return [...html.matchAll(/<a [^>]*href="(\/[^"#]*)"/g)]
    .map((m) => decode(m[1]!))
    .filter((href) => !/\.(pdf|csv|zip|ics|png|svg|jpg)\b|\/file\b|\/download|\/logout|\/static\//.test(href));
}

describe('pseudo-language: no text on any page is outside the catalogues', function () {
  this.timeout(120_000);
  let t: TestApp;
  before(async () => {
    t = await createTestApp({
      plugins: [courses, enrolment, certificates, announcements],
      seed: true,
      label: 'pseudo',
      env: { PSEUDO_LOCALE: 'true' },
    });
  });
  after(() => t.stop());

  it('marks catalogue text, keeping placeholders and markup', () => {
    expect(pseudoText('Welcome, {{name}}')).to.equal('⟦Wélçömé, {{name}}⟧');
  });

  for (const role of ['learner', 'trainer', 'staff', 'admin', 'visitor'] as const) {
    it(`${role}: every page reached by links`, async () => {
      const agent = role === 'visitor' ? supertest.agent(t.app) : await signIn(t.app, `${role}@olive.example`);
      const data = await databaseTexts(t);
      const seen = new Set<string>();
      // Signing in (in English) leaves a welcome for the next page: shown once, before the visit.
      if (role !== 'visitor') await agent.get('/');
      const queue = role === 'visitor' ? ['/', '/login', '/account/forgot', '/register'] : ['/'];
      const found: Record<string, string[]> = {};
      while (queue.length && seen.size < 80) {
        const page = queue.shift()!;
        if (seen.has(page)) continue;
        seen.add(page);
        const res = await agent.get(page).set('cookie', 'olive.lang=qps');
        if (res.status !== 200 || !/html/.test(String(res.headers['content-type']))) continue;
        expect(res.text, page).to.contain('<html lang="qps"');
        const words = leftover(res.text, data);
        if (words.length) found[page] = words;
        for (const href of links(res.text)) if (!seen.has(href)) queue.push(href);
      }
      expect(seen.size, 'pages visited').to.be.greaterThan(role === 'visitor' ? 3 : 8);
      // As text, so that the whole list shows when it fails.
      expect(JSON.stringify(found, null, 1), 'words on pages that come from no catalogue').to.equal('{}');
    });
  }
});
