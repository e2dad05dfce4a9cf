import { expect } from 'chai';
import supertest from 'supertest';
import announcements from '../plugins/announcements/index.ts';
import { createTestApp, csrfFrom, signIn, tokenFor, type TestApp } from './helpers/app.ts';

describe('pages, languages and probes', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [announcements], seed: true, label: 'pages' });
  });
  after(() => t.stop());

  it('shows visitors a public home page with landmarks, a skip link and a sign-in link', async () => {
    const res = await supertest(t.app).get('/').expect(200).expect('content-type', /html/);
    expect(res.text).to.match(/<html lang="en" dir="ltr">/);
    expect(res.text).to.contain('<a class="skip-link" href="#main">Skip to main content</a>');
    expect(res.text).to.contain('<main id="main"');
    expect(res.text).to.contain('href="/login"');
    expect(res.text).to.not.contain('aria-label="Main"'); // no menu entries for visitors
  });

  it('builds the menu from what plugins contribute, per role', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    const page = (await learner.get('/').expect(200)).text;
    expect(page).to.contain('<a href="/announcements">Announcements</a>');
    expect(page).to.not.contain('href="/admin/users"');
    const admin = await signIn(t.app, 'admin@olive.example');
    const adminPage = (await admin.get('/admin/users').expect(200)).text;
    expect(adminPage).to.contain('<a href="/admin/users" aria-current="page">Users</a>');
    expect(adminPage.indexOf('>Home<')).to.be.lessThan(adminPage.indexOf('>Announcements<'));
    expect(adminPage.indexOf('>Announcements<')).to.be.lessThan(adminPage.indexOf('>Users<'));
  });

  it('shows dashboard panels contributed by plugins', async () => {
    const trainer = await signIn(t.app, 'trainer@olive.example');
    const home = (await trainer.get('/').expect(200)).text;
    expect(home).to.contain('data-panel="announcements"');
    expect(home).to.contain('Trainers: case studies for the mediation process design module');
    expect(home).to.not.contain('Conflict Analysis e-learning: new edition'); // meant for learners
  });

  it('speaks French when the browser asks for it, when chosen, and remembers a signed-in person\u2019s choice', async () => {
    const fr = await supertest(t.app).get('/login').set('accept-language', 'fr-CH, fr;q=0.9, en;q=0.5').expect(200);
    expect(fr.text).to.contain('<html lang="fr" dir="ltr">');
    expect(fr.text).to.contain('Adresse électronique');

    const agent = await signIn(t.app, 'staff@olive.example');
    const token = await tokenFor(agent);
    const res = await agent.post('/language').type('form').send({ lang: 'fr', returnTo: '/announcements', _csrf: token }).expect(303);
    expect(res.headers.location).to.equal('/announcements');
    expect((await agent.get('/announcements').expect(200)).text).to.contain('<h1>Annonces</h1>');
    // Saved on the account: a new session on another device speaks French too.
    const elsewhere = await signIn(t.app, 'staff@olive.example');
    expect((await elsewhere.get('/').expect(200)).text).to.contain('Bienvenue, Ingrid Solberg');

    await agent
      .post('/language')
      .type('form')
      .send({ lang: 'xx', _csrf: await tokenFor(agent) })
      .expect(400);
    const back = await agent
      .post('/language')
      .type('form')
      .send({ lang: 'en', returnTo: 'https://evil.example', _csrf: await tokenFor(agent) })
      .expect(303);
    expect(back.headers.location).to.equal('/');
  });

  it('answers unknown pages with a 404 page in the layout, or JSON for JSON clients', async () => {
    const html = await supertest(t.app).get('/no/such/page').expect(404);
    expect(html.text).to.contain('Page not found');
    expect(html.text).to.contain('<a class="skip-link"');
    const json = await supertest(t.app).get('/no/such/page').set('accept', 'application/json').expect(404);
    expect(json.body).to.deep.equal({ error: { code: 'NOT_FOUND', message: 'We could not find that page.' } });
  });

  it('rejects malformed and oversized bodies with a clear error', async () => {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/login')).text);
    const broken = await agent
      .post('/login')
      .set('content-type', 'application/json')
      .set('accept', 'application/json')
      .set('x-csrf-token', token)
      .send('{"email": ')
      .expect(400);
    expect(broken.body.error.code).to.equal('MALFORMED_BODY');
    const big = await agent
      .post('/login')
      .set('accept', 'application/json')
      .type('form')
      .send(`email=${'a'.repeat(300 * 1024)}`)
      .expect(413);
    expect(big.body.error.code).to.equal('PAYLOAD_TOO_LARGE');
  });

  it('sets strict security headers', async () => {
    const res = await supertest(t.app).get('/login').expect(200);
    const csp = res.headers['content-security-policy'];
    expect(csp).to.contain("default-src 'self'").and.contain("script-src 'self'").and.contain("frame-ancestors 'none'").and.contain("object-src 'none'");
    expect(csp).to.not.contain('unsafe-inline');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(res.headers).to.not.have.property('x-powered-by');
  });

  it('answers health, readiness and Prometheus metrics', async () => {
    await supertest(t.app).get('/healthz').expect(200, { status: 'ok' });
    await supertest(t.app).get('/readyz').expect(200, { status: 'ready' });
    const metrics = await supertest(t.app)
      .get('/metrics')
      .expect(200)
      .expect('content-type', /text\/plain/);
    expect(metrics.text).to.contain('# TYPE olive_http_requests_total counter');
    expect(metrics.text).to.match(/olive_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(metrics.text).to.contain('olive_process_resident_memory_bytes');
  });

  it('serves the stylesheet compressed', async () => {
    const res = await supertest(t.app).get('/static/olive.css').set('accept-encoding', 'gzip').expect(200);
    expect(res.headers['content-encoding']).to.equal('gzip');
    expect(res.text).to.contain(':focus-visible');
  });
});

describe('metrics token', () => {
  it('requires the bearer token when METRICS_TOKEN is set', async () => {
    const t = await createTestApp({ env: { METRICS_TOKEN: 'a-long-metrics-token-1234' } });
    try {
      await supertest(t.app).get('/metrics').expect(401);
      await supertest(t.app).get('/metrics').set('authorization', 'Bearer a-long-metrics-token-1234').expect(200);
    } finally {
      await t.stop();
    }
  });
});

describe('flash messages', () => {
  it('survive a stray request to a missing page (such as the browser\u2019s favicon) before the real page', async () => {
    const t = await createTestApp({ plugins: [announcements], seed: true, label: 'flash' });
    try {
      const staff = await signIn(t.app, 'staff@olive.example');
      const token = await tokenFor(staff, '/announcements/new');
      await staff.post('/announcements').type('form').send({ title: 'Flash test', body: 'Body', audience: 'staff', _csrf: token }).expect(303);
      await staff.get('/no-such-image.png').expect(404);
      await staff.get('/favicon.ico').expect(301).expect('location', '/static/favicon.svg');
      expect((await staff.get('/announcements').expect(200)).text).to.contain('The announcement is published.');
    } finally {
      await t.stop();
    }
  });
});
