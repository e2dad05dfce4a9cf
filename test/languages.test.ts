import { expect } from 'chai';
import supertest from 'supertest';
import announcements from '../plugins/announcements/index.ts';
import certificates from '../plugins/certificates/index.ts';
import courses from '../plugins/courses/index.ts';
import enrolment from '../plugins/enrolment/index.ts';
import { formatDate, formatDateTime, searchFold } from '../src/core/formats.ts';
import { csrfFrom, createTestApp, signIn, type TestApp } from './helpers/app.ts';

/** The language switcher as a person uses it: the options the page offers, sent back as they are. */
function switcherOptions(html: string): Array<{ code: string; name: string; lang: string }> {
  const select = /<select id="language-select" name="lang">([\s\S]*?)<\/select>/.exec(html);
  expect(select, 'the page has the language switcher').to.not.equal(null);
  return [...select![1]!.matchAll(/<option value="([^"]*)" lang="([^"]*)"[^>]*>([^<]*)<\/option>/g)].map((m) => ({ code: m[1]!, lang: m[2]!, name: m[3]! }));
}

describe('interface languages', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment, certificates, announcements], seed: true, label: 'languages' });
  });
  after(() => t.stop());

  it('offers the six UN languages, each named in itself, on every page, including pages with a "languages" of their own', async () => {
    const trainer = await signIn(t.app, 'trainer@olive.example');
    const staff = await signIn(t.app, 'staff@olive.example');
    const pages: Array<[ReturnType<typeof supertest.agent>, string]> = [
      [trainer, '/courses'],
      [trainer, '/courses/manage'],
      [trainer, '/courses/manage/conflict-analysis'],
      [staff, '/enrolment/manage/editions/new'],
      [staff, '/'],
    ];
    for (const [agent, page] of pages) {
      const html = (await agent.get(page).expect(200)).text;
      const options = switcherOptions(html);
      expect(options, page).to.deep.equal([
        { code: 'ar', lang: 'ar', name: 'العربية' },
        { code: 'zh', lang: 'zh', name: '中文' },
        { code: 'en', lang: 'en', name: 'English' },
        { code: 'fr', lang: 'fr', name: 'Français' },
        { code: 'ru', lang: 'ru', name: 'Русский' },
        { code: 'es', lang: 'es', name: 'Español' },
      ]);
      // "Change" with what the page itself offers: back to the same page, in that language.
      const res = await agent
        .post('/language')
        .type('form')
        .send({ lang: 'ru', returnTo: page, _csrf: csrfFrom(html) })
        .expect(303);
      expect(res.headers.location, page).to.equal(page);
      expect((await agent.get(page).expect(200)).text, page).to.contain('<html lang="ru" dir="ltr">');
      await agent
        .post('/language')
        .type('form')
        .send({ lang: 'en', returnTo: page, _csrf: csrfFrom((await agent.get(page)).text) })
        .expect(303);
    }
  });

  it('follows the browser when nothing is chosen: Arabic right to left, regional variants, and the default without a header', async () => {
    const page = async (accept?: string) => {
      const req = supertest(t.app).get('/login');
      if (accept) req.set('accept-language', accept);
      return /<html lang="(\w+)" dir="(\w+)">/.exec((await req.expect(200)).text)!.slice(1);
    };
    expect(await page()).to.deep.equal(['en', 'ltr']);
    expect(await page('ar-EG,ar;q=0.9')).to.deep.equal(['ar', 'rtl']);
    expect(await page('zh-CN')).to.deep.equal(['zh', 'ltr']);
    expect(await page('es-419, en;q=0.5')).to.deep.equal(['es', 'ltr']);
    expect(await page('de-DE, ru;q=0.8, en;q=0.5')).to.deep.equal(['ru', 'ltr']);
    expect(await page('de-DE')).to.deep.equal(['en', 'ltr']);
  });

  it('keeps a signed-in person\u2019s language on their account, above the browser\u2019s', async () => {
    const agent = await signIn(t.app, 'learner@olive.example');
    const html = (await agent.get('/').expect(200)).text;
    await agent
      .post('/language')
      .type('form')
      .send({ lang: 'ar', returnTo: '/', _csrf: csrfFrom(html) })
      .expect(303);
    const elsewhere = await signIn(t.app, 'learner@olive.example');
    const home = (await elsewhere.get('/').set('accept-language', 'fr').expect(200)).text;
    expect(home).to.contain('<html lang="ar" dir="rtl">');
    await elsewhere
      .post('/language')
      .type('form')
      .send({ lang: 'en', returnTo: '/', _csrf: csrfFrom(home) })
      .expect(303);
  });

  it('writes dates in one style, in the reader\u2019s language, on pages as in e-mails', async () => {
    const day = new Date('2026-12-01T15:30:00Z');
    expect(formatDate('en', day)).to.equal('1 December 2026'); // UN English, not "December 1, 2026"
    expect(formatDate('fr', day)).to.equal('1 décembre 2026');
    expect(formatDate('es', day)).to.equal('1 de diciembre de 2026');
    expect(formatDate('ru', day)).to.equal('1 декабря 2026 г.');
    expect(formatDate('zh', day)).to.equal('2026年12月1日');
    expect(formatDate('ar', day)).to.match(/ديسمبر/);
    expect(formatDateTime('fr', day)).to.equal('1 décembre 2026 à 15:30 UTC');
    // The announcements page and the dashboard panel: the same style, no ISO dates left.
    const agent = await signIn(t.app, 'trainer@olive.example');
    await agent
      .post('/language')
      .type('form')
      .send({ lang: 'fr', returnTo: '/', _csrf: csrfFrom((await agent.get('/')).text) })
      .expect(303);
    const home = (await agent.get('/').expect(200)).text;
    const list = (await agent.get('/announcements').expect(200)).text;
    for (const page of [home, list]) {
      expect(page).to.not.match(/\b20\d\d-\d\d-\d\d\b(?![^<]*")/);
      expect(page).to.match(/\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) 20\d\d/);
    }
  });

  it('finds and sorts people by name as their language does: accents, Arabic marks and letters', async () => {
    const users = t.app.olive.users;
    for (const [email, name] of [
      ['zoe@mediators.example', 'Zoë Ødegård'],
      ['ahmad@mediators.example', 'مُحَمَّد الصَّالِح'],
      ['leila.h@mediators.example', 'ليلى حدّاد'],
      ['eve@mediators.example', 'Ève Zola'],
    ] as const)
      await users.create({ email, name }, 'test');
    expect(searchFold('Zoë ØDEGÅRD')).to.equal(searchFold('zoe ødegard'));
    const admin = await signIn(t.app, 'admin@olive.example');
    const names = async (q: string, lang = 'en') => {
      const page = (
        await admin
          .get(`/admin/users?q=${encodeURIComponent(q)}`)
          .set('accept-language', lang)
          .expect(200)
      ).text;
      return [...page.matchAll(/<a href="\/admin\/users\/[0-9a-f]+">(?:<bdi>)?([^<]+)(?:<\/bdi>)?<\/a>/g)].map((m) => m[1]);
    };
    expect(await names('zoe')).to.deep.equal(['Zoë Ødegård']);
    expect(await names('محمد')).to.deep.equal(['مُحَمَّد الصَّالِح']);
    expect(await names('ليلي')).to.deep.equal(['ليلى حدّاد']);
    // "Ève" sorts with the E's, before "Zoë", as a French or English reader expects (not after Z, by code point).
    const latin = (await names('mediators.example')).filter((n) => /^[ÈEZ]/.test(n!));
    expect(latin).to.deep.equal(['Ève Zola', 'Zoë Ødegård']);
  });
});
