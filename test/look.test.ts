/**
 * A finished look (issue #17): every main page of every role stays under 30 KB of HTML; the phone
 * menu is a <details> that needs no script; the verification page cannot be misread; and an
 * administrator sets the programme's name, logo and colours (validated, contrast-checked, audited),
 * which every page then shows.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import config from '../olive.config.ts';
import { contrastWithWhite, normaliseHex } from '../src/core/admin/branding.ts';
import { createTestApp, postForm, signIn, tokenFor, type TestApp } from './helpers/app.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

/** The deployed plugins but attendance, whose demo is another part of the issue still being built. */
const plugins = config.plugins.filter((p) => p.name !== 'attendance');

/** A 1×1 PNG (valid, tiny). */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const SVG = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

describe('the look: page weight, phone menu, verification, branding', function () {
  this.timeout(120_000);
  let t: TestApp;
  const agents: Record<string, Agent> = {};
  const ids = {} as { moduleId: string; editionId: string };

  before(async () => {
    t = await createTestApp({ plugins, pluginConfig: config.pluginConfig, seed: true, label: 'look' });
    for (const who of ['learner', 'trainer', 'staff', 'admin']) agents[who] = await signIn(t.app, `${who}@olive.example`);
    const db = t.app.olive.connection.db!;
    const course = await db.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const module = await db.collection('courses_module').findOne({ courseId: course!._id }, { sort: { position: 1 } });
    const edition = await db.collection('enrolment_edition').findOne({ courseId: String(course!._id) });
    Object.assign(ids, { moduleId: String(module!._id), editionId: String(edition!._id) });
  });
  after(() => t?.stop());

  it('every main page of every role weighs under 30 KB of HTML', async () => {
    const learnerPages = [
      '/',
      '/courses',
      '/courses/conflict-analysis',
      `/courses/conflict-analysis/modules/${ids.moduleId}`,
      '/enrolment/my',
      '/enrolment/calendar',
      `/enrolment/editions/${ids.editionId}`,
    ];
    const staffPages = [
      ...learnerPages,
      '/enrolment/manage',
      `/enrolment/manage/editions/${ids.editionId}`,
      `/enrolment/manage/editions/${ids.editionId}/roster`,
      '/enrolment/reports',
      '/certificates',
    ];
    const pages: Record<string, string[]> = {
      learner: learnerPages,
      trainer: [...learnerPages, '/courses/manage'],
      staff: staffPages,
      admin: [...staffPages, '/admin/users', '/admin/users?page=2', '/admin/mail', '/admin/jobs', '/admin/branding'],
    };
    const heavy: string[] = [];
    let checked = 0;
    for (const [who, paths] of Object.entries(pages)) {
      for (const path of paths) {
        const res = await agents[who]!.get(path);
        if (res.status !== 200) continue; // a page this role may not see is not its main page
        checked++;
        const bytes = Buffer.byteLength(res.text);
        if (bytes >= 30 * 1024) heavy.push(`${who} ${path}: ${Math.round(bytes / 1024)} KB`);
      }
    }
    expect(checked, 'pages fetched').to.be.greaterThan(40);
    expect(heavy, 'pages of 30 KB or more').to.deep.equal([]);
  });

  it('/admin/users is paginated (with its search kept in the page links) and stays light with many accounts', async () => {
    const users = t.app.olive.users;
    for (let i = 0; i < 60; i++)
      await users.create({ email: `weight.${i}@example.org`, name: `Weight Person ${String(i).padStart(2, '0')}`, roles: ['learner'] }, 'test');
    const first = await agents.admin!.get('/admin/users?q=weight').expect(200);
    expect(Buffer.byteLength(first.text)).to.be.lessThan(30 * 1024);
    expect(first.text).to.contain('Weight Person 00');
    expect(first.text).to.not.contain('Weight Person 59');
    expect(first.text).to.match(/href="\?q=weight&amp;page=2" rel="next"/);
    const last = await agents.admin!.get('/admin/users?q=weight&page=3').expect(200);
    expect(last.text).to.contain('Weight Person 59');
    expect(last.text).to.not.contain('Weight Person 00');
    // A page past the end shows the last one.
    const beyond = await agents.admin!.get('/admin/users?q=weight&page=999').expect(200);
    expect(beyond.text).to.contain('Weight Person 59');
    // Its pager says so (the page's tokens and ids are random hex, which may hold "999" by chance).
    expect(beyond.text).to.contain('Page 3 of 3');
    expect(beyond.text).to.not.match(/page=999|Page 999/);
  });

  it('the menu folds behind a "Menu" control that needs no script (a <details>), in the reader’s language', async () => {
    const page = (await agents.learner!.get('/').expect(200)).text;
    expect(page).to.match(/<details class="nav-menu">\s*<summary>Menu<\/summary>\s*<nav class="main-nav"/);
    expect(page).to.not.contain('<script');
    await postForm(agents.learner!, '/language', { lang: 'ar', returnTo: '/' }, '/');
    expect((await agents.learner!.get('/').expect(200)).text).to.contain('<summary>القائمة</summary>');
    await postForm(agents.learner!, '/language', { lang: 'en', returnTo: '/' }, '/');
  });

  it('the verification page shows valid in green with a check, and a revoked certificate as a red REVOKED banner with its date (the reason stays private, as the revoke form says)', async () => {
    const db = t.app.olive.connection.db!;
    const valid = await db.collection('certificates_certificate').findOne({});
    const page = (await supertest(t.app).get(`/verify/${valid!._id}`).expect(200)).text;
    expect(page).to.match(/class="status-banner status-valid" role="status">\s*<span class="status-sign" aria-hidden="true">✓<\/span>/);
    const staff = agents.staff!;
    const revoke = await postForm(
      staff,
      `/certificates/c/${valid!._id}/revoke`,
      { reason: 'Issued to the wrong person' },
      `/certificates/c/${valid!._id}/manage`,
    );
    expect(revoke.status).to.equal(303);
    const revoked = (await supertest(t.app).get(`/verify/${valid!._id}`).expect(200)).text;
    expect(revoked).to.contain('class="status-banner status-revoked" role="alert"');
    expect(revoked).to.match(/<h2 id="result">Revoked<\/h2>/);
    expect(revoked).to.match(/This certificate was revoked on \d{1,2} \w+ \d{4}: it is no longer valid\./);
    expect(revoked).to.not.contain('Issued to the wrong person');
    const json = await supertest(t.app).get(`/verify/${valid!._id}`).set('Accept', 'application/json').expect(200);
    expect(json.body).to.include({ status: 'revoked' });
    expect(JSON.stringify(json.body)).to.not.contain('Issued to the wrong person');
  });

  describe('branding', () => {
    const upload = async (agent: Agent, fields: Record<string, string>, logo?: { data: Buffer; name: string }) => {
      const token = await tokenFor(agent, '/admin/branding');
      let req = agent.post(`/admin/branding?_csrf=${encodeURIComponent(token)}`);
      for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
      if (logo) req = req.attach('logo', logo.data, logo.name);
      return req;
    };
    const settings = () => t.app.olive.connection.db!.collection('host_settings').findOne({ _id: 'branding' as never });

    it('measures contrast as WCAG does and reads colour codes', () => {
      expect(contrastWithWhite('#000000')).to.be.closeTo(21, 0.01);
      expect(contrastWithWhite('#ffffff')).to.be.closeTo(1, 0.01);
      expect(contrastWithWhite('#767676')).to.be.closeTo(4.54, 0.01);
      expect(normaliseHex(' #ABC ')).to.equal('#aabbcc');
      expect(normaliseHex('red')).to.equal(undefined);
      expect(normaliseHex('#12345')).to.equal(undefined);
    });

    it('is for administrators only', async () => {
      for (const who of ['learner', 'trainer', 'staff']) {
        await agents[who]!.get('/admin/branding').expect(403);
        const token = await tokenFor(agents[who]!, '/');
        await agents[who]!.post(`/admin/branding?_csrf=${encodeURIComponent(token)}`)
          .field('name', 'Taken over')
          .field('brand', '#000000')
          .field('accent', '#000000')
          .expect(403);
      }
      await supertest(t.app).get('/admin/branding').expect(303);
      expect(await settings()).to.equal(null);
      // Until an administrator sets it, pages show the configured name and the stylesheet's colours.
      const home = (await agents.learner!.get('/').expect(200)).text;
      expect(home).to.contain('<a class="brand" href="/"><span dir="auto">Olive</span></a>');
      expect(home).to.not.contain('/branding/colours/');
    });

    it('refuses a colour that is not a colour code, or too light for white text, with the reason, and changes nothing', async () => {
      const admin = agents.admin!;
      const notHex = await upload(admin, { name: 'PPCP', brand: 'green', accent: '#0b5cad' });
      expect(notHex.status).to.equal(400);
      expect(notHex.text).to.contain('Enter a colour code: # followed by 6 (or 3) hexadecimal digits, such as #4e6b1f.');
      expect(notHex.text).to.match(/id="brand-brand"[^>]*value="green"[^>]*aria-invalid="true"/);
      const light = await upload(admin, { name: 'PPCP', brand: '#4e6b1f', accent: '#ffcc00' });
      expect(light.status).to.equal(400);
      expect(light.text).to.contain('This colour is too light: white text on it has a contrast of 1.51:1, and at least 4.5:1 is needed.');
      const noName = await upload(admin, { name: '  ', brand: '#4e6b1f', accent: '#0b5cad' });
      expect(noName.status).to.equal(400);
      expect(noName.text).to.contain('Enter the programme&#39;s name.');
      expect(await settings()).to.equal(null);
      // In the reader's language.
      await postForm(admin, '/language', { lang: 'fr', returnTo: '/admin/branding' }, '/admin/branding');
      const fr = await upload(admin, { name: 'PPCP', brand: '#eeeeee', accent: '#0b5cad' });
      expect(fr.status).to.equal(400);
      expect(fr.text).to.contain('Cette couleur est trop claire');
      await postForm(admin, '/language', { lang: 'en', returnTo: '/admin/branding' }, '/admin/branding');
    });

    it('refuses an SVG logo, a file that is no image and a logo over the size limit, and changes nothing', async () => {
      const admin = agents.admin!;
      const fields = { name: 'PPCP', brand: '#4e6b1f', accent: '#0b5cad' };
      const svg = await upload(admin, fields, { data: SVG, name: 'logo.svg' });
      expect(svg.status).to.equal(400);
      expect(svg.text).to.contain('The file logo.svg is an SVG drawing, which is not accepted (it can carry scripts): export it as PNG.');
      const text = await upload(admin, fields, { data: Buffer.from('not an image at all'), name: 'logo.png' });
      expect(text.status).to.equal(400);
      expect(text.text).to.contain('The file logo.png is not a PNG or JPEG image.');
      const big = Buffer.concat([PNG, Buffer.alloc(250 * 1024)]);
      const large = await upload(admin, fields, { data: big, name: 'big.png' });
      expect(large.status).to.equal(400);
      expect(large.text).to.contain('The file big.png is 251 KB: a logo may be at most 200 KB.');
      const huge = await upload(admin, fields, { data: Buffer.alloc(1024 * 1024), name: 'huge.png' });
      expect(huge.status).to.equal(413);
      expect(huge.text).to.contain('The logo is far larger than the 200 KB limit');
      expect(await settings()).to.equal(null);
      expect(await t.app.olive.connection.db!.collection('host_branding.files').countDocuments()).to.equal(0);
    });

    it('saves the name, colours and logo: every page shows them at once, and the change is audited', async () => {
      const admin = agents.admin!;
      const res = await upload(admin, { name: 'UNITAR Peacemaking Programme', brand: '#1F4E79', accent: '#0b5cad' }, { data: PNG, name: 'unitar.png' });
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal('/admin/branding');
      const saved = await settings();
      expect(saved).to.include({ name: 'UNITAR Peacemaking Programme', brand: '#1f4e79', accent: '#0b5cad' });
      const home = (await agents.learner!.get('/').expect(200)).text;
      const logo =
        /<a class="brand" href="\/"><img src="(\/branding\/logo\/[0-9a-f]{16})" alt="" width="32" height="32"><span dir="auto">UNITAR Peacemaking Programme<\/span><\/a>/.exec(
          home,
        );
      expect(logo, 'the header shows the logo and the name').to.not.equal(null);
      expect(home).to.match(/<title>[^<]* – UNITAR Peacemaking Programme<\/title>/);
      const css = /<link rel="stylesheet" href="(\/branding\/colours\/[0-9a-f]{12}\.css)">/.exec(home);
      expect(css, 'the colours stylesheet is linked').to.not.equal(null);
      const sheet = await supertest(t.app)
        .get(css![1]!)
        .expect(200)
        .expect('content-type', /text\/css/);
      expect(sheet.text).to.equal(':root{--brand:#1f4e79;--accent:#0b5cad}\n');
      expect(sheet.headers['cache-control']).to.contain('immutable');
      // Another version's address is not this one's colours under an immutable cache.
      await supertest(t.app).get('/branding/colours/000000000000.css').expect(404);
      const image = await supertest(t.app).get(logo![1]!).expect(200).expect('content-type', 'image/png');
      expect(Buffer.compare(image.body as Buffer, PNG)).to.equal(0);
      await supertest(t.app).get('/branding/logo/0000000000000000').expect(404);
      // Audited, on the administrator's own page.
      const audit = await t.app.olive.connection.db!.collection('host_audit').findOne({ action: 'branding-changed' });
      expect(audit!.details).to.contain('name: UNITAR Peacemaking Programme');
      expect(audit!.details).to.contain('colour #1f4e79');
      expect(audit!.details).to.contain('new logo');
      // Mail is signed with the name people see on the pages, not the configured default.
      const visitor = supertest.agent(t.app);
      const token = await tokenFor(visitor, '/account/forgot');
      await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'learner@olive.example' }).expect(200);
      const outbox = t.app.olive.connection.db!.collection('host_mail');
      // The request is answered at once; a job composes the message.
      let reset = null;
      for (let i = 0; i < 200 && !reset; i++) {
        reset = await outbox.findOne({ to: 'learner@olive.example', subject: /new password/ });
        if (!reset) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(reset!.subject).to.equal('Choose a new password for UNITAR Peacemaking Programme');
      expect(reset!.text).to.contain('-- \nUNITAR Peacemaking Programme\n');
      expect(reset!.html).to.contain('UNITAR Peacemaking Programme').and.not.contain('>Olive<');
      // So are the pages' texts that name it (the footer, the account pages), in every language.
      const forgot = (await visitor.get('/account/forgot').expect(200)).text;
      expect(forgot).to.contain('Enter the address of your UNITAR Peacemaking Programme account.');
      expect(forgot).to.contain('UNITAR Peacemaking Programme — learning for the Programme in Peacemaking');
      expect(forgot).to.not.match(/\bOlive\b/);
      const french = (await supertest(t.app).get('/account/forgot').set('Accept-Language', 'fr').expect(200)).text;
      expect(french).to.contain('Saisissez l’adresse de votre compte UNITAR Peacemaking Programme.');

      // The logo removed: the old file is gone and its address answers 404.
      const removed = await upload(admin, { name: 'UNITAR Peacemaking Programme', brand: '#1f4e79', accent: '#0b5cad', removeLogo: 'on' });
      expect(removed.status).to.equal(303);
      expect((await agents.learner!.get('/').expect(200)).text).to.contain(
        '<a class="brand" href="/"><span dir="auto">UNITAR Peacemaking Programme</span></a>',
      );
      await supertest(t.app).get(logo![1]!).expect(404);
      expect(await t.app.olive.connection.db!.collection('host_branding.files').countDocuments()).to.equal(0);
    });

    it('a second instance sees the change on its next page (the cache is renewed through the database)', async () => {
      const other = await createTestApp({ plugins, pluginConfig: config.pluginConfig, dbName: t.dbName, label: 'look2' });
      try {
        const visitor = supertest(other.app);
        expect((await visitor.get('/login').expect(200)).text).to.contain('<span dir="auto">UNITAR Peacemaking Programme</span>');
        const res = await upload(agents.admin!, { name: 'PPCP', brand: '#1f4e79', accent: '#0b5cad' });
        expect(res.status).to.equal(303);
        expect((await visitor.get('/login').expect(200)).text).to.contain('<a class="brand" href="/"><span dir="auto">PPCP</span></a>');
      } finally {
        await other.app.olive.stop();
      }
    });
  });
});
