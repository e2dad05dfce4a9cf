/**
 * Error pages as a browser gets them: the layout drawn once (one header, one <main>, one footer),
 * a heading and a <title> that name the error, in the reader's language. JSON clients keep the
 * `{ error: { code, message } }` body.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import { allow, definePlugin, forbidden, HttpError } from '../src/index.ts';
import { createTestApp, type TestApp } from './helpers/app.ts';

const failing = definePlugin({
  name: 'failing',
  version: '1.0.0',
  register(ctx) {
    ctx.router.get('/gone', allow.public, () => {
      throw new HttpError(410, 'GONE', 'This page was removed.');
    });
    ctx.router.get('/closed', allow.public, () => {
      throw forbidden();
    });
    ctx.router.get('/broken', allow.public, () => {
      throw new Error('a bug');
    });
    ctx.router.get('/teapot', allow.public, () => {
      throw new HttpError(418, 'TEAPOT', 'Not here.');
    });
  },
});

const count = (html: string, tag: string) => html.split(`<${tag}`).length - 1;
const titleOf = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1];

function expectOneLayout(html: string, label: string) {
  expect(count(html, 'main'), `${label}: <main>`).to.equal(1);
  expect(count(html, 'header'), `${label}: <header>`).to.equal(1);
  expect(count(html, 'footer'), `${label}: <footer>`).to.equal(1);
  expect(count(html, 'html'), `${label}: <html>`).to.equal(1);
}

describe('error pages', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [failing], label: 'error-pages' });
  });
  after(async () => {
    await t?.stop();
  });

  const cases: { path: string; status: number; heading: string; code: string }[] = [
    { path: '/no-such-page', status: 404, heading: 'Page not found', code: 'NOT_FOUND' },
    { path: '/failing/gone', status: 410, heading: 'No longer available', code: 'GONE' },
    { path: '/failing/closed', status: 403, heading: 'You do not have access to this page', code: 'FORBIDDEN' },
    { path: '/failing/broken', status: 500, heading: 'Something went wrong', code: 'INTERNAL' },
    // A status without a heading of its own takes its class's.
    { path: '/failing/teapot', status: 418, heading: 'This request could not be handled', code: 'TEAPOT' },
  ];

  for (const c of cases) {
    it(`a ${c.status} draws the layout once and is headed and titled "${c.heading}"`, async () => {
      const res = await supertest(t.app).get(c.path).expect(c.status);
      expect(res.type).to.equal('text/html');
      expectOneLayout(res.text, c.path);
      expect(res.text).to.contain(`<h1 id="error-title">${c.heading}</h1>`);
      expect(titleOf(res.text)).to.equal(`${c.heading} – Olive`);
      expect(res.text).to.contain(`<code>${c.code}</code>`);
    });
  }

  it('a form posted without its CSRF token gets a 403 page drawn once, titled as such', async () => {
    const res = await supertest(t.app).post('/language').type('form').send({ lang: 'fr' }).expect(403);
    expectOneLayout(res.text, 'CSRF');
    expect(titleOf(res.text)).to.equal('You do not have access to this page – Olive');
    expect(res.text).to.contain('<code>CSRF_INVALID</code>');
  });

  it('an error raised before the page machinery (an unreadable body) still gets one layout', async () => {
    const res = await supertest(t.app).post('/language').set('Content-Type', 'application/json').set('Accept', 'text/html').send('{"lang":').expect(400);
    expectOneLayout(res.text, 'malformed body');
    expect(titleOf(res.text)).to.equal('This request could not be handled – Olive');
  });

  it('the heading and title are in the reader’s language', async () => {
    const res = await supertest(t.app).get('/failing/gone').set('Accept-Language', 'fr').expect(410);
    expectOneLayout(res.text, 'fr 410');
    expect(titleOf(res.text)).to.equal('Plus disponible – Olive');
    const missing = await supertest(t.app).get('/nowhere').set('Cookie', 'olive.lang=fr').expect(404);
    expect(titleOf(missing.text)).to.equal('Page introuvable – Olive');
  });

  it('JSON clients get the error body, not a page', async () => {
    const res = await supertest(t.app).get('/failing/gone').set('Accept', 'application/json').expect(410);
    expect(res.body).to.deep.equal({ error: { code: 'GONE', message: 'This page was removed.' } });
  });
});
