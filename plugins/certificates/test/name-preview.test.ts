/**
 * "How your name will print" on the printed-name page: the name drawn as the certificate draws it
 * (an inline SVG from the renderer), and the SVG itself (accessible, deterministic, sized to the text).
 */
import { expect } from 'chai';
import { createTestApp, DEMO_PASSWORD, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../../enrolment/index.ts';
import certificates from '../index.ts';
import { nameSvg, shapeLine } from '../render/index.ts';

describe('certificates: how your name will print', function () {
  this.timeout(60_000);
  let t: TestApp;

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment, certificates], label: 'name-preview' });
  });
  after(() => t.stop());

  it('draws a name as an SVG of glyph outlines, with its name for screen readers and a viewBox fitted to it', () => {
    const svg = nameSvg('प्रिया शर्मा');
    expect(svg).to.match(
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" role="img" aria-label="प्रिया शर्मा" viewBox="[-\d. ]+" width="\d+" height="56" fill="currentColor"><path d="M[^"]+"\/><\/svg>$/,
    );
    expect(nameSvg('प्रिया शर्मा')).to.equal(svg);
    // The viewBox is as wide as the shaped name (plus a margin), whatever the script.
    for (const name of ['प्रिया शर्मा', 'عبد الله الصَّالِح', '김민준', 'Zoë Ødegård-Nuñez']) {
      const [, , w] = /viewBox="([-\d.]+) ([-\d.]+) ([\d.]+) ([\d.]+)"/.exec(nameSvg(name))!.slice(1).map(Number) as [number, number, number, number];
      const em = shapeLine(name, /[\u0600-\u06ff]/.test(name) ? 'rtl' : 'ltr', 'bold').em * 40;
      expect(w, name).to.be.within(em, em + 8);
    }
    // Markup in a name is text in the label, never markup.
    expect(nameSvg('Amina <b>"Haddad"</b> & co')).to.include('aria-label="Amina &#60;b&#62;&#34;Haddad&#34;&#60;/b&#62; &#38; co"');
  });

  it('shows the confirmed name and the name in another script as they will print, under the page’s rules (no script, no inline style)', async () => {
    const email = 'preview@example.org';
    await t.app.olive.users.create({ email, name: 'Priya Sharma', password: DEMO_PASSWORD }, 'test');
    const agent = await signIn(t.app, email);
    const res = await postForm(agent, '/certificates/name', { name: 'Priya Sharma', nameAlt: 'प्रिया शर्मा' }, '/certificates/name');
    expect(res.status).to.equal(303);
    const page = await agent.get('/certificates/name').expect(200);
    expect(page.text).to.contain('How your name will print');
    expect(page.text).to.contain(nameSvg('Priya Sharma'));
    expect(page.text).to.contain(nameSvg('प्रिया शर्मा'));
    const csp = String(page.headers['content-security-policy']);
    expect(csp).to.match(/script-src/);
    const preview = /<section[^>]*aria-labelledby="name-preview"[\s\S]*?<\/section>/.exec(page.text)![0];
    expect(preview).not.to.match(/<script|style=|on\w+=/);

    // A name that cannot print is refused and not drawn; the other one still is.
    const refused = await postForm(agent, '/certificates/name', { name: 'ि Priya', nameAlt: 'प्रिया शर्मा' }, '/certificates/name');
    expect(refused.status).to.equal(400);
    expect(refused.text).to.contain('ि');
    expect(refused.text).to.contain(nameSvg('प्रिया शर्मा'));
    expect(refused.text).not.to.contain('aria-label="ि Priya"');
  });
});
