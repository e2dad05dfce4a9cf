/**
 * Certificate templates against the real database and the PDF renderer: editing, images, languages,
 * previews and who may. Over 400 lines: each test follows one template from form to printed PDF.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import mongoose, { type Connection } from 'mongoose';
import { HttpError } from '../../../src/index.ts';
import { createTestApp, listen, signIn, tokenFor, type TestApp, asBytes } from '../../../test/helpers/app.ts';
import { launchBrowser } from '../../../test/helpers/browser.ts';
import courses from '../../courses/index.ts';
import enrolment from '../../enrolment/index.ts';
import certificates from '../index.ts';
import type { TemplateModels } from '../models/template.model.ts';
import { renderCertificate, SAMPLE_DATA } from '../render/index.ts';
import { createTemplateService, type TemplateInput, type TemplateService } from '../services/template.service.ts';

const PLUGINS = [courses, enrolment, certificates];

/**
 * For calls below the HTTP layer: a template service of the test's own over the plugin's
 * collections (the plugin keeps its instance to itself). Same data and checks, its own cache.
 */
const services = new WeakMap<Connection, { models: TemplateModels; templates: TemplateService }>();
const built = {
  get(db: Connection) {
    let s = services.get(db);
    if (!s) {
      const models = { Template: db.model('certificates_template'), TemplateVersion: db.model('certificates_template_version') } as unknown as TemplateModels;
      const templates = createTemplateService(models, db, {
        maxImageKb: MAX_KB,
        courseExists: async (id) => !!(await db.collection('courses_course').findOne({ _id: new mongoose.Types.ObjectId(id) })),
      });
      s = { models, templates };
      services.set(db, s);
    }
    return s;
  },
};

const FIXTURES = new URL('../../../fixtures/certificates/', import.meta.url);
const logo = fs.readFileSync(new URL('programme-logo.png', FIXTURES));
const partner = fs.readFileSync(new URL('partner-logo.png', FIXTURES));
const signature = fs.readFileSync(new URL('signature-1.png', FIXTURES));
const MAX_KB = 64;

function windowsProgram(): Buffer {
  const exe = Buffer.alloc(2048);
  exe.write('MZ', 0, 'latin1');
  exe.writeUInt32LE(0x80, 0x3c);
  exe.write('This program cannot be run in DOS mode.\r\r\n$', 0x4e, 'latin1');
  exe.write('PE\0\0', 0x80, 'latin1');
  exe.writeUInt16LE(0x14c, 0x84);
  return exe;
}
const svg = Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>\n');
/** A real PNG made larger than the limit (bytes after IEND are ignored by readers). */
const hugePng = Buffer.concat([logo, Buffer.alloc((MAX_KB + 8) * 1024, 7)]);

function pdfText(pdf: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-tpl-'));
  try {
    fs.writeFileSync(path.join(dir, 'p.pdf'), pdf);
    return execFileSync('pdftotext', [path.join(dir, 'p.pdf'), '-'], { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

type Agent = Awaited<ReturnType<typeof signIn>>;

/** The fields of a valid bilingual template form, as the browser sends them. */
function formFields(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    name: 'Default EN/FR',
    courseId: '',
    'page.size': 'A4',
    'page.orientation': 'landscape',
    'colours.primary': '#1f3a5f',
    'colours.accent': '#b08d3c',
    'colours.text': '#222222',
    'colours.muted': '#555555',
    'languages.0.lang': 'en',
    'languages.0.title': 'Certificate of completion',
    'languages.0.wording': 'This is to certify that\r\n{name}\r\nhas completed\r\n{course}\r\n{edition}, {hours} hours',
    'languages.0.codeLabel': 'Verification code',
    'languages.1.lang': 'fr',
    'languages.1.title': 'Certificat de réussite',
    'languages.1.wording': 'Nous certifions que\r\n{name}\r\na suivi\r\n{course}',
    'languages.1.codeLabel': '',
    'signatories.0.name': 'Elena Marchetti',
    'signatories.0.title.0': 'Director, Division for Peace',
    'signatories.0.title.1': 'Directrice, Division de la paix',
    'signatories.1.name': '',
    'signatories.1.title.0': '',
    'signatories.1.title.1': '',
    'signatories.2.name': '',
    'signatories.2.title.0': '',
    'signatories.2.title.1': '',
    'signatories.3.name': '',
    'signatories.3.title.0': '',
    'signatories.3.title.1': '',
    ...overrides,
  };
}

/** Posts the multipart template form with the CSRF token in the URL, as the page does. */
async function postTemplate(agent: Agent, url: string, fields: Record<string, string>, files: Record<string, [string, Buffer]> = {}) {
  const token = await tokenFor(agent, '/certificates/templates/new');
  let req = agent.post(`${url}?_csrf=${encodeURIComponent(token)}`);
  for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
  for (const [k, [name, data]] of Object.entries(files)) req = req.attach(k, data, name);
  return req;
}

const idFrom = (location: string) => /\/certificates\/templates\/([0-9a-f]{24})$/.exec(location)![1]!;

describe('certificate templates', function () {
  this.timeout(120000);
  let t: TestApp;
  let staff: Agent;
  let db: Connection;
  const counts = async () => ({
    templates: await db.collection('certificates_template').countDocuments(),
    versions: await db.collection('certificates_template_version').countDocuments(),
    gridfs: (await db.db!.listCollections({}, { nameOnly: true }).toArray()).filter((c) => c.name.includes('.files')).length,
  });

  // One seeded programme for the file (a seed takes seconds): its demo templates are checked
  // first, then removed, and the other tests start from none.
  before(async () => {
    t = await createTestApp({ plugins: PLUGINS, pluginConfig: { certificates: { maxImageKb: MAX_KB } }, seed: true, label: 'cert_templates' });
    db = t.app.olive.connection;
  });
  after(() => t.stop());

  describe('demo data', () => {
    it('seeds a bilingual programme default and an English + Arabic course template, once', async () => {
      const { templates } = built.get(t.app.olive.connection)!;
      const list = await templates.list();
      expect(list.map((l) => l.name).sort()).to.deep.equal(['Interest-Based Negotiation (English and Arabic)', 'Programme default (English and French)']);
      const course = await t.app.olive.connection.collection('courses_course').findOne({ slug: 'interest-based-negotiation' });
      const forCourse = await templates.templateFor(String(course!._id));
      expect(list.find((l) => l.id === forCourse.templateId)!.name).to.contain('Arabic');
      const text = pdfText(await templates.preview(forCourse.templateId));
      expect(text).to.contain('Certificate of completion');
      expect(text).to.contain('Samuel Okafor');
      await t.app.olive.seedDemo();
      expect(await t.app.olive.connection.collection('certificates_template_version').countDocuments()).to.equal(2);
      const staff = await signIn(t.app, 'staff@olive.example');
      const page = (await staff.get('/certificates/templates').expect(200)).text;
      expect(page).to.contain('Programme default (English and French)');
    });
  });

  describe('made by staff, starting from none', () => {
    before(async () => {
      // The demo people and courses, without the demo templates.
      await db.collection('certificates_template').deleteMany({});
      await db.collection('certificates_template_version').deleteMany({});
      // And a service of the test's own that has not cached them.
      services.delete(db);
      staff = await signIn(t.app, 'staff@olive.example');
    });

    it('says clearly that no template exists before the first one is saved', async () => {
      const { templates } = built.get(db)!;
      const err = await templates.templateFor('000000000000000000000000').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HttpError);
      expect((err as HttpError).status).to.equal(409);
      expect((err as HttpError).code).to.equal('NO_TEMPLATE');
      expect((err as HttpError).message).to.contain('Certificates → Templates');
    });

    let templateId = '';
    let v1Preview: Buffer;
    let v1Certificate: Buffer;

    it('saves a template as version 1, with its images, and lists it', async () => {
      const res = await postTemplate(staff, '/certificates/templates', formFields(), {
        'logos.programme': ['logo.png', logo],
        'logos.partners.0': ['partner.png', partner],
        'signatories.0.signature': ['signature.png', signature],
      });
      expect(res.status, res.text).to.equal(303);
      templateId = idFrom(res.headers.location as string);
      const page = (await staff.get(res.headers.location as string).expect(200)).text;
      expect(page).to.contain('Template saved as version 1.');
      // Saved as written, with a word on "{hours} hours", which prints "1 hours" (write {duration}).
      expect(page).to.contain('“{hours} hours” prints the word “hour” in the same form whatever the number');
      expect(page).to.contain('logo.png');
      const list = (await staff.get('/certificates/templates').expect(200)).text;
      expect(list).to.contain('Default EN/FR');
      expect(list).to.contain('Programme default');

      const version = await db.collection('certificates_template_version').findOne({ _id: `${templateId}:1` as never });
      expect(version!.content.logos.programme.size).to.equal(logo.length);
      expect(version!.content.signatories).to.have.length(1); // blank blocks are ignored
      expect(version!.content.signatories[0].title).to.deep.equal({ en: 'Director, Division for Peace', fr: 'Directrice, Division de la paix' });
      expect(version!.content.languages[0].wording).to.equal('This is to certify that\n{name}\nhas completed\n{course}\n{edition}, {hours} hours');

      const { templates } = built.get(db)!;
      expect(await templates.templateFor('000000000000000000000000')).to.deep.equal({ templateId, version: 1 });
      v1Preview = (await staff.get(`/certificates/templates/${templateId}/versions/1/preview.pdf`).expect(200)).body as Buffer;
      v1Certificate = await renderCertificate(await templates.load(templateId, 1), SAMPLE_DATA);
    });

    it('previews a template as a PDF with the sample name and the template’s titles', async () => {
      const res = await staff.get(`/certificates/templates/${templateId}/preview.pdf`).buffer(true).parse(asBytes).expect(200);
      expect(res.headers['content-type']).to.equal('application/pdf');
      expect(res.headers['content-disposition']).to.match(/^inline/);
      const pdf = res.body as Buffer;
      expect(pdf.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
      const text = pdfText(pdf);
      expect(text).to.contain('Amina Haddad');
      expect(text).to.contain('Certificate of completion');
      expect(text).to.contain('Certificat de réussite');
      // Drawn rotated across the page: pdftotext gives its letters one per line.
      expect(text).to.match(/N\s*E\s*M\s*I\s*C\s*E\s*P\s*S|S\s*P\s*E\s*C\s*I\s*M\s*E\s*N/);
      await staff.get(`/certificates/templates/${templateId}/versions/9/preview.pdf`).expect(404);
    });

    it('saves an edit as version 2, keeping images unless removed, while version 1 prints exactly as before', async () => {
      const res = await postTemplate(
        staff,
        `/certificates/templates/${templateId}`,
        formFields({
          baseVersion: '1',
          'languages.0.title': 'Certificate of participation',
          'remove.logos.partners.0': 'on',
          'signatories.1.name': 'Samuel Okafor',
          'signatories.1.title.0': 'Manager, Peacemaking and Conflict Prevention Programme',
          'signatories.1.title.1': 'Responsable du programme',
        }),
      );
      expect(res.status, res.text).to.equal(303);
      const v2 = await db.collection('certificates_template_version').findOne({ _id: `${templateId}:2` as never });
      expect(v2!.content.languages[0].title).to.equal('Certificate of participation');
      expect(v2!.content.logos.programme.sha256).to.be.a('string'); // kept without being sent again
      expect(v2!.content.logos.partners).to.have.length(0); // removed by its box
      expect(v2!.content.signatories.map((s: { name: string }) => s.name)).to.deep.equal(['Elena Marchetti', 'Samuel Okafor']);
      expect(v2!.content.signatories[0].signature.sha256).to.be.a('string');

      // Version 1 is untouched: a fresh service (no cache) renders it byte for byte as before.
      const { models, templates } = built.get(db)!;
      const fresh = createTemplateService(models, db);
      expect(Buffer.compare(await renderCertificate(await fresh.load(templateId, 1), SAMPLE_DATA), v1Certificate)).to.equal(0);
      const again = (await staff.get(`/certificates/templates/${templateId}/versions/1/preview.pdf`).expect(200)).body as Buffer;
      expect(Buffer.compare(again, v1Preview)).to.equal(0);
      const v2Pdf = (await staff.get(`/certificates/templates/${templateId}/preview.pdf`).expect(200)).body as Buffer;
      expect(Buffer.compare(v2Pdf, v1Preview)).to.not.equal(0);
      expect(pdfText(v2Pdf)).to.contain('Certificate of participation');
      expect(pdfText(v2Pdf)).to.contain('Samuel Okafor');
      expect(await templates.templateFor('000000000000000000000000')).to.deep.equal({ templateId, version: 2 });
      const page = (await staff.get(`/certificates/templates/${templateId}`).expect(200)).text;
      expect(page).to.contain(`/certificates/templates/${templateId}/versions/1/preview.pdf`);
      expect(page).to.contain('name="baseVersion" value="2"');
    });

    it('accepts a JPEG signature, and drops the second language when “None” is chosen', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-jpg-'));
      fs.writeFileSync(path.join(dir, 'p.pdf'), v1Preview);
      execFileSync('pdftoppm', ['-jpeg', '-r', '20', '-singlefile', path.join(dir, 'p.pdf'), path.join(dir, 'sig')]);
      const jpeg = fs.readFileSync(path.join(dir, 'sig.jpg'));
      fs.rmSync(dir, { recursive: true });
      const course = await db.collection('courses_course').findOne({ slug: 'conflict-analysis' });
      const res = await postTemplate(
        staff,
        '/certificates/templates',
        formFields({
          name: 'English only',
          courseId: String(course!._id),
          'languages.1.lang': '',
          'signatories.0.title.1': '',
        }),
        { 'signatories.0.signature': ['scan.jpeg', jpeg] },
      );
      expect(res.status, res.text.slice(0, 500)).to.equal(303);
      const id = idFrom(res.headers.location as string);
      const v1 = await db.collection('certificates_template_version').findOne({ _id: `${id}:1` as never });
      expect(v1!.content.languages.map((l: { lang: string }) => l.lang)).to.deep.equal(['en']);
      expect(v1!.content.signatories[0].signature.contentType).to.equal('image/jpeg');
      expect(v1!.content.signatories[0].title).to.deep.equal({ en: 'Director, Division for Peace' });
      const list = (await staff.get('/certificates/templates').expect(200)).text;
      expect(list).to.match(/English only[\s\S]*Conflict/);
    });

    it('lets only one of two simultaneous saves create the next version; the other gets a 409 and changes nothing', async () => {
      const before = await counts();
      const [a, b] = await Promise.all([
        postTemplate(staff, `/certificates/templates/${templateId}`, formFields({ baseVersion: '2', 'languages.0.title': 'Edit A' })),
        postTemplate(staff, `/certificates/templates/${templateId}`, formFields({ baseVersion: '2', 'languages.0.title': 'Edit B' })),
      ]);
      expect([a.status, b.status].sort()).to.deep.equal([303, 409]);
      const loser = a.status === 409 ? a : b;
      expect(loser.text).to.contain('Someone saved this template meanwhile');
      expect(loser.text).to.match(/value="Edit [AB]"/); // the typed values are still in the form
      expect((await counts()).versions).to.equal(before.versions + 1);

      // The same through the service, five at once from one base: one version 4, four 409s.
      const { templates } = built.get(db)!;
      const detail = (await templates.get(templateId))!;
      const input = (title: string): TemplateInput => ({
        name: detail.name,
        baseVersion: detail.version,
        page: detail.content.page,
        colours: detail.content.colours,
        languages: detail.content.languages.map((l, i) => (i === 0 ? { ...l, title } : l)),
        signatories: detail.content.signatories.map((s) => ({ name: s.name, title: detail.content.languages.map((l) => s.title[l.lang]!) })),
      });
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => templates.save(templateId, input(`Concurrent ${n}`), 'test')));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused).to.have.length(4);
      for (const r of refused) expect((r.reason as HttpError).status).to.equal(409);
      expect((await templates.get(templateId))!.version).to.equal(detail.version + 1);
    });

    it('gives a course one template even when three are created at once, and heals a current version left behind', async () => {
      const { templates } = built.get(db)!;
      const course = await db.collection('courses_course').findOne({ slug: 'mediation-process-design' });
      const input = (name: string): TemplateInput => ({
        name,
        courseId: String(course!._id),
        page: { size: 'A4', orientation: 'portrait' },
        languages: [{ lang: 'en', title: 'Certificate', wording: '{name}\n{course}' }],
        signatories: [{ name: 'Elena Marchetti', title: ['Director'] }],
      });
      const results = await Promise.allSettled(['One', 'Two', 'Three'].map((n) => templates.save(null, input(n), 'test')));
      const won = results.filter((r): r is PromiseFulfilledResult<{ id: string; version: number }> => r.status === 'fulfilled');
      expect(won).to.have.length(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as HttpError).status).to.equal(409);
      expect(await db.collection('certificates_template').countDocuments({ courseId: String(course!._id) })).to.equal(1);

      // A save that stopped between its two writes: version 2 exists, the template still says 1.
      const id = won[0]!.value.id;
      await templates.save(id, { ...input('Edited'), baseVersion: 1 }, 'test');
      await db.collection('certificates_template').updateOne({ _id: new mongoose.Types.ObjectId(id) }, { $set: { currentVersion: 1 } });
      expect(await templates.templateFor(String(course!._id))).to.deep.equal({ templateId: id, version: 2 });
      expect((await db.collection('certificates_template').findOne({ courseId: String(course!._id) }))!.currentVersion).to.equal(2);
    });

    it('works in Chromium with JavaScript off: a refused upload is explained, then the edit is saved and previewed', async () => {
      const server = await listen(t.app);
      const browser = await launchBrowser();
      try {
        const context = await browser.newContext({ javaScriptEnabled: false });
        const page = await context.newPage();
        await page.goto(`${server.url}/login`);
        await page.fill('input[name=email]', 'staff@olive.example');
        await page.fill('input[name=password]', 'olive-demo');
        await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('form[action="/login"] button[type=submit]')]);
        await page.goto(`${server.url}/certificates/templates`);
        await page.click('text=Default EN/FR');
        const version = (await built.get(db)!.templates.get(templateId))!.version;

        await page.fill('[name="languages.1.title"]', 'Attestation de participation');
        await page.setInputFiles('[name="logos.partners.2"]', { name: 'partner.svg', mimeType: 'image/svg+xml', buffer: svg });
        await Promise.all([page.waitForLoadState('load'), page.click('button.primary')]);
        expect(await page.textContent('[role=alert]')).to.contain('partner.svg is not a PNG or JPEG image');
        expect(await page.inputValue('[name="languages.1.title"]')).to.equal('Attestation de participation');
        expect((await built.get(db)!.templates.get(templateId))!.version).to.equal(version);

        await page.setInputFiles('[name="logos.partners.2"]', { name: 'partner.png', mimeType: 'image/png', buffer: partner });
        await Promise.all([page.waitForLoadState('load'), page.click('button.primary')]);
        expect(await page.textContent('main')).to.contain(`Template saved as version ${version + 1}.`);
        const pdf = await page.request.get(`${server.url}/certificates/templates/${templateId}/preview.pdf`);
        expect(pdf.headers()['content-type']).to.equal('application/pdf');
        expect(pdfText(Buffer.from(await pdf.body()))).to.contain('Attestation de participation');
      } finally {
        await browser.close();
        await server.close();
      }
    });

    describe('refused forms: a clear message, the typed values kept, nothing changed', () => {
      const cases: Array<{ what: string; fields?: Record<string, string>; files?: Record<string, [string, Buffer]>; status?: number; message: RegExp }> = [
        { what: 'an unknown placeholder', fields: { 'languages.0.wording': 'Awarded to {name} for {foo}' }, message: /Unknown placeholder \{foo\}/ },
        {
          what: 'three languages',
          fields: { 'languages.2.lang': 'es', 'languages.2.title': 'Certificado', 'languages.2.wording': '{name}' },
          message: /one or two languages/,
        },
        {
          what: 'five signatories',
          fields: Object.fromEntries(
            [0, 1, 2, 3, 4].flatMap((i) => [
              [`signatories.${i}.name`, `Signatory ${i}`],
              [`signatories.${i}.title.0`, 'Director'],
              [`signatories.${i}.title.1`, 'Directeur'],
            ]),
          ),
          message: /at most 4 signatories/,
        },
        { what: 'a signatory without a name', fields: { 'signatories.1.title.0': 'Director' }, message: /Give the signatory’s name/ },
        { what: 'a missing position in the second language', fields: { 'signatories.0.title.1': '' }, message: /position in each language/ },
        { what: 'a course that does not exist', fields: { courseId: 'abcdefabcdefabcdefabcdef' }, message: /This course does not exist/ },
        { what: 'a colour that is not #rrggbb', fields: { 'colours.primary': 'red' }, message: /#rrggbb/ },
        {
          what: 'an SVG logo',
          files: { 'logos.programme': ['logo.png', svg] },
          status: 400,
          message: /logo\.png is not a PNG or JPEG image: its content is XML or SVG/,
        },
        {
          what: 'a Windows program as a logo',
          files: { 'logos.partners.1': ['partner.jpg', windowsProgram()] },
          message: /partner\.jpg is not a PNG or JPEG image: its content is a Windows program/,
        },
        {
          what: 'a PDF as a signature',
          files: { 'signatories.0.signature': ['sig.png', Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n')] },
          message: /sig\.png is not a PNG or JPEG image: its content is a PDF document/,
        },
        {
          what: 'an image over the size limit',
          files: { 'logos.programme': ['big.png', hugePng] },
          message: new RegExp(`big\\.png is larger than the ${MAX_KB} KB limit`),
        },
        {
          what: 'a name no font can print (Cuneiform)',
          fields: { 'signatories.0.name': 'Sargon \u{12000}' },
          message: /cannot be printed with the certificate fonts: \u{12000} \(U\+12000\)/u,
        },
      ];
      for (const c of cases) {
        it(`refuses ${c.what}`, async () => {
          const before = await counts();
          const detail = (await built.get(db)!.templates.get(templateId))!;
          const res = await postTemplate(
            staff,
            `/certificates/templates/${templateId}`,
            formFields({ baseVersion: String(detail.version), name: 'Typed name kept', ...c.fields }),
            c.files,
          );
          expect(res.status, res.text.slice(0, 300)).to.equal(c.status ?? 400);
          const text = res.text
            .replace(/&#34;|&quot;/g, '"')
            .replace(/&#39;/g, "'")
            .replace(/&lt;/g, '<')
            .replace(/&gt;/g, '>')
            .replace(/&amp;/g, '&');
          expect(text).to.match(c.message);
          expect(text).to.contain('Nothing was saved');
          expect(res.text).to.contain('value="Typed name kept"');
          if (c.files) expect(text).to.contain('The images you chose in this attempt were not kept');
          expect(await counts()).to.deep.equal(before);
          expect((await built.get(db)!.templates.get(templateId))!.version).to.equal(detail.version);
        });
      }

      it('refuses a second programme default, and a new template with nothing in it, listing every problem', async () => {
        const before = await counts();
        const dup = await postTemplate(staff, '/certificates/templates', formFields({ name: 'Another default' }));
        expect(dup.status).to.equal(409);
        expect(dup.text).to.contain('A programme default template already exists');
        const empty = await postTemplate(staff, '/certificates/templates', {
          name: '',
          'page.size': 'A4',
          'page.orientation': 'landscape',
          'languages.0.lang': 'en',
        });
        expect(empty.status).to.equal(400);
        for (const m of [
          'Give the template a name.',
          'Give the title in this language.',
          'Write the wording in this language.',
          'A certificate needs at least one signatory.',
        ])
          expect(empty.text).to.contain(m);
        expect(await counts()).to.deep.equal(before);
      });
    });

    it('chooses the preferred template, else the course’s, else the programme default', async () => {
      const { templates } = built.get(db)!;
      const course = await db.collection('courses_course').findOne({ slug: 'interest-based-negotiation' });
      const courseId = String(course!._id);
      const defaultNow = await templates.templateFor(courseId);
      expect(defaultNow.templateId).to.equal(templateId);
      const detail = (await templates.get(templateId))!;
      const own = await templates.save(
        null,
        {
          name: 'Course template',
          courseId,
          page: { size: 'LETTER', orientation: 'portrait' },
          languages: [{ lang: 'ar', title: 'شهادة إتمام', wording: 'تُمنح هذه الشهادة إلى\n{name}\n{course}' }],
          signatories: [{ name: 'Elena Marchetti', title: ['مديرة شعبة السلام'] }],
        },
        'test',
      );
      expect(await templates.templateFor(courseId)).to.deep.equal({ templateId: own.id, version: 1 });
      expect(await templates.templateFor(courseId, templateId)).to.deep.equal({ templateId, version: detail.version });
      // An unknown preferred template falls back to the course's.
      expect(await templates.templateFor(courseId, 'bbbbbbbbbbbbbbbbbbbbbbbb')).to.deep.equal({ templateId: own.id, version: 1 });
      const text = pdfText(await templates.preview(own.id));
      expect(text).to.contain('Amina Haddad');
    });

    it('refuses every template page to learners and trainers (403)', async () => {
      for (const email of ['learner@olive.example', 'trainer@olive.example']) {
        const agent = await signIn(t.app, email);
        for (const url of [
          '/certificates/templates',
          '/certificates/templates/new',
          `/certificates/templates/${templateId}`,
          `/certificates/templates/${templateId}/preview.pdf`,
          `/certificates/templates/${templateId}/versions/1/preview.pdf`,
        ]) {
          await agent.get(url).expect(403);
        }
        const token = await tokenFor(agent, '/');
        const before = await counts();
        await agent
          .post(`/certificates/templates?_csrf=${encodeURIComponent(token)}`)
          .field('name', 'x')
          .expect(403);
        await agent
          .post(`/certificates/templates/${templateId}?_csrf=${encodeURIComponent(token)}`)
          .field('name', 'x')
          .expect(403);
        expect(await counts()).to.deep.equal(before);
      }
    });
  });
});
