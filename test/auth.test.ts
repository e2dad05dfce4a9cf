import { expect } from 'chai';
import supertest from 'supertest';
import { createTestApp, csrfFrom, DEMO_PASSWORD, signIn, tokenFor, type TestApp } from './helpers/app.ts';

describe('accounts, sign-in and guards', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ seed: true, label: 'auth', env: { LOGIN_RATE_LIMIT: '5' } });
  });
  after(() => t.stop());

  it('signs in with e-mail and password, regenerating the session id', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login').expect(200);
    const before = (page.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('olive.sid='));
    expect(before, 'a session exists before sign-in (it holds the CSRF token)').to.exist;
    const res = await agent
      .post('/login')
      .type('form')
      .send({ email: 'Learner@Olive.example ', password: DEMO_PASSWORD, _csrf: csrfFrom(page.text) })
      .expect(303);
    expect(res.headers.location).to.equal('/');
    const after = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('olive.sid='));
    expect(after!.split(';')[0]).to.not.equal(before!.split(';')[0]);
    expect(after)
      .to.match(/HttpOnly/i)
      .and.match(/SameSite=Lax/i);
    const home = await agent.get('/').expect(200);
    expect(home.text).to.contain('Welcome back, Leila Haddad.');
    expect(home.text).to.contain('Welcome, Leila Haddad');
  });

  it('refuses a wrong password with a clear message and no session for the account', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login');
    const res = await agent
      .post('/login')
      .type('form')
      .send({ email: 'staff@olive.example', password: 'wrong-password', _csrf: csrfFrom(page.text) })
      .expect(401);
    expect(res.text).to.contain('The e-mail address or the password is not right.');
    expect(res.text).to.contain('value="staff@olive.example"');
    await agent.get('/admin/users').expect(303);
  });

  it('says which field is missing', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login');
    const res = await agent
      .post('/login')
      .type('form')
      .send({ email: '', password: '', _csrf: csrfFrom(page.text) })
      .expect(400);
    expect(res.text).to.contain('Enter your e-mail address.');
    expect(res.text).to.contain('Enter your password.');
  });

  it('treats operator injection in the sign-in form as plain text', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login');
    await agent
      .post('/login')
      .type('form')
      .send(`email[$ne]=x&password[$ne]=x&_csrf=${encodeURIComponent(csrfFrom(page.text))}`)
      .expect(400);
    await agent
      .post('/login')
      .set('content-type', 'application/json')
      .set('x-csrf-token', csrfFrom(page.text))
      .send({ email: { $gt: '' }, password: { $gt: '' } })
      .expect(400);
    await agent.get('/account').expect(303);
  });

  it('rejects a form without a valid CSRF token and changes nothing', async () => {
    const admin = await signIn(t.app, 'admin@olive.example');
    const res = await admin
      .post('/admin/users')
      .type('form')
      .send({ email: 'csrf@olive.example', name: 'No Token', password: 'long-enough-pw', roles: 'learner' })
      .expect(403);
    expect(res.text).to.contain('This form has expired or was not sent from this site');
    await admin
      .post('/admin/users')
      .type('form')
      .send({ email: 'csrf@olive.example', name: 'Bad Token', password: 'long-enough-pw', roles: 'learner', _csrf: 'forged' })
      .expect(403);
    expect(await t.app.olive.users.findByEmail('csrf@olive.example')).to.equal(null);
  });

  it('signs out with POST /logout and forgets the session', async () => {
    const agent = await signIn(t.app, 'trainer@olive.example');
    const token = await tokenFor(agent);
    const res = await agent.post('/logout').type('form').send({ _csrf: token }).expect(303);
    expect(res.headers.location).to.equal('/login?signedOut=1');
    const login = await agent.get('/login?signedOut=1').expect(200);
    expect(login.text).to.contain('You have signed out.');
    await agent.get('/account').expect(303).expect('location', '/login?returnTo=%2Faccount');
  });

  it('forgets a session whose expiry has passed, even before the clean-up removes it', async () => {
    // Someone signed in nowhere else: the one session stored for them is this browser's.
    const person = await t.app.olive.users.create({ email: 'expiring.session@example.org', name: 'Expiring Session', password: DEMO_PASSWORD }, 'test');
    const agent = await signIn(t.app, 'expiring.session@example.org');
    await agent.get('/account').expect(200);
    const sessions = t.app.olive.connection.collection('host_sessions');
    const { modifiedCount } = await sessions.updateMany({ 'session.passport.user': person.id }, { $set: { expires: new Date(Date.now() - 1000) } });
    expect(modifiedCount, 'this person’s one session is stored').to.equal(1);
    await agent.get('/account').expect(303).expect('location', '/login?returnTo=%2Faccount');
  });

  it('moves a session’s expiry forward at most once a minute, not with every page (each move is a write)', async () => {
    const agent = await signIn(t.app, 'staff@olive.example');
    const sessions = t.app.olive.connection.collection('host_sessions');
    const staffId = (await t.app.olive.users.findByEmail('staff@olive.example'))!.id;
    const stored = async () => (await sessions.findOne({ 'session.passport.user': staffId }, { sort: { lastModified: -1 } }))!;
    await agent.get('/account').expect(200);
    const before = await stored();
    await new Promise((r) => setTimeout(r, 20));
    await agent.get('/account').expect(200);
    expect((await stored()).expires.getTime(), 'a second page within the minute writes nothing').to.equal(before.expires.getTime());

    // A minute later the next page moves it.
    await sessions.updateOne({ _id: before._id }, { $set: { lastModified: new Date(Date.now() - 61_000) } });
    await agent.get('/account').expect(200);
    expect((await stored()).expires.getTime()).to.be.greaterThan(before.expires.getTime());
  });

  it('returns to the requested local page after sign-in, never to another site', async () => {
    for (const [returnTo, expected] of [
      ['/admin/users?q=a', '/admin/users?q=a'],
      ['//evil.example/x', '/'],
      ['https://evil.example', '/'],
      ['/\\evil.example', '/'],
    ] as const) {
      const agent = supertest.agent(t.app);
      const page = await agent.get('/login');
      const res = await agent
        .post('/login')
        .type('form')
        .send({ email: 'admin@olive.example', password: DEMO_PASSWORD, returnTo, _csrf: csrfFrom(page.text) })
        .expect(303);
      expect(res.headers.location, returnTo).to.equal(expected);
    }
  });

  it('guards pages by role: learners get 403 on admin pages, visitors are asked to sign in, JSON clients get 401', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    const page = await learner.get('/admin/users').expect(403);
    expect(page.text).to.contain('You do not have access to this page');
    const token = await tokenFor(learner);
    await learner
      .post('/admin/users')
      .type('form')
      .send({ email: 'x@olive.example', name: 'X', password: 'long-enough-pw', roles: 'admin', _csrf: token })
      .expect(403);
    expect(await t.app.olive.users.findByEmail('x@olive.example')).to.equal(null);

    await supertest(t.app).get('/admin/users').expect(303).expect('location', '/login?returnTo=%2Fadmin%2Fusers');
    const json = await supertest(t.app).get('/admin/users').set('accept', 'application/json').expect(401);
    expect(json.body).to.deep.equal({ error: { code: 'UNAUTHENTICATED', message: 'Please sign in to continue.' } });
  });

  it('lets an admin create local accounts, with clear messages for bad input', async () => {
    const admin = await signIn(t.app, 'admin@olive.example');
    let token = await tokenFor(admin, '/admin/users');
    const bad = await admin.post('/admin/users').type('form').send({ email: 'not-an-email', name: '', password: 'short', _csrf: token }).expect(400);
    expect(bad.text).to.contain('Enter a valid e-mail address.');
    expect(bad.text).to.contain('Use at least 10 characters.');
    expect(bad.text).to.contain('Choose at least one role.');

    token = await tokenFor(admin, '/admin/users');
    await admin
      .post('/admin/users')
      .type('form')
      .send({
        email: 'Nadia.Benali@olive.example',
        name: 'Nadia Benali',
        organisation: 'African Union',
        password: 'a-good-passphrase',
        roles: ['learner', 'trainer'],
        _csrf: token,
      })
      .expect(303);
    const created = await t.app.olive.users.findByEmail('nadia.benali@olive.example');
    expect(created).to.include({ name: 'Nadia Benali' });
    expect(created!.roles).to.have.members(['learner', 'trainer']);
    await signIn(t.app, 'nadia.benali@olive.example', 'a-good-passphrase');

    token = await tokenFor(admin, '/admin/users');
    const dup = await admin
      .post('/admin/users')
      .type('form')
      .send({ email: 'nadia.benali@olive.example', name: 'Again', password: 'a-good-passphrase', roles: 'learner', _csrf: token })
      .expect(409);
    expect(dup.text).to.contain('An account with the e-mail address nadia.benali@olive.example already exists.');
    const { total } = await t.app.olive.users.list({ search: 'nadia' });
    expect(total).to.equal(1);
  });

  it('lets an admin change roles, but not remove their own admin role', async () => {
    const admin = await signIn(t.app, 'admin@olive.example');
    const trainer = (await t.app.olive.users.findByEmail('trainer@olive.example'))!;
    let token = await tokenFor(admin, '/admin/users');
    await admin
      .post(`/admin/users/${trainer.id}/roles`)
      .type('form')
      .send({ roles: ['trainer', 'staff'], _csrf: token })
      .expect(303);
    expect((await t.app.olive.users.findById(trainer.id))!.roles).to.have.members(['trainer', 'staff']);
    // The change applies to the next request of that person: roles are read per request.
    const asTrainer = await signIn(t.app, 'trainer@olive.example');
    const account = await asTrainer.get('/account').expect(200);
    expect(account.text).to.contain('Trainer and Programme staff');
    await asTrainer.get('/admin/users').expect(403);

    const me = (await t.app.olive.users.findByEmail('admin@olive.example'))!;
    token = await tokenFor(admin, '/admin/users');
    const res = await admin.post(`/admin/users/${me.id}/roles`).type('form').send({ roles: 'learner', _csrf: token }).expect(409);
    expect(res.text).to.contain('You cannot remove your own administrator role');
    expect((await t.app.olive.users.findById(me.id))!.roles).to.deep.equal(['admin']);

    token = await tokenFor(admin, '/admin/users');
    await admin.post(`/admin/users/${trainer.id}/roles`).type('form').send({ roles: 'emperor', _csrf: token }).expect(400);
    await admin.post('/admin/users/not-an-id/roles').type('form').send({ roles: 'learner', _csrf: token }).expect(404);
  });

  it('searches and filters the user list', async () => {
    const admin = await signIn(t.app, 'admin@olive.example');
    const res = await admin.get('/admin/users?q=haddad').expect(200);
    expect(res.text).to.contain('learner@olive.example');
    expect(res.text).to.not.contain('staff@olive.example');
    const staff = await admin.get('/admin/users?role=staff').expect(200);
    expect(staff.text).to.contain('staff@olive.example');
    expect(staff.text).to.not.contain('learner@olive.example');
    // Regular-expression characters are searched for literally.
    await admin.get('/admin/users?q=(.*').expect(200);
  });

  it('lets people change their password, checking the current one', async () => {
    const agent = await signIn(t.app, 'joseph.mwangi@olive.example');
    const otherDevice = await signIn(t.app, 'joseph.mwangi@olive.example');
    let token = await tokenFor(agent, '/account');
    const wrong = await agent
      .post('/account/password')
      .type('form')
      .send({ current: 'nope-nope-nope', password: 'new-passphrase-1', confirm: 'new-passphrase-1', _csrf: token })
      .expect(400);
    expect(wrong.text).to.contain('The current password is not right.');
    token = await tokenFor(agent, '/account');
    const mismatch = await agent
      .post('/account/password')
      .type('form')
      .send({ current: DEMO_PASSWORD, password: 'new-passphrase-1', confirm: 'other', _csrf: token })
      .expect(400);
    expect(mismatch.text).to.contain('The two new passwords differ.');
    token = await tokenFor(agent, '/account');
    await agent
      .post('/account/password')
      .type('form')
      .send({ current: DEMO_PASSWORD, password: 'new-passphrase-1', confirm: 'new-passphrase-1', _csrf: token })
      .expect(303);
    // This session goes on; the one on the other device is ended.
    expect((await agent.get('/account').expect(200)).text).to.contain('you are signed out everywhere else');
    await otherDevice.get('/account').expect(303);
    await signIn(t.app, 'joseph.mwangi@olive.example', 'new-passphrase-1');
    // The old password is refused as a wrong password (not a limit, not an error).
    const browser = supertest.agent(t.app);
    const page = await browser.get('/login').expect(200);
    const old = await browser
      .post('/login')
      .type('form')
      .send({ email: 'joseph.mwangi@olive.example', password: DEMO_PASSWORD, _csrf: csrfFrom(page.text) });
    expect(old.status, 'old password no longer works').to.equal(401);
    expect(old.text).to.contain('The e-mail address or the password is not right.');
    await browser.get('/account').expect(303);
  });

  it('limits sign-in attempts per address and account', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login');
    const token = csrfFrom(page.text);
    for (let i = 0; i < 5; i++) {
      await agent
        .post('/login')
        .type('form')
        .send({ email: 'ana.ruiz@olive.example', password: `guess-${i}`, _csrf: token })
        .expect(401);
    }
    const limited = await agent.post('/login').type('form').send({ email: 'ana.ruiz@olive.example', password: DEMO_PASSWORD, _csrf: token }).expect(429);
    expect(limited.text).to.contain('Too many sign-in attempts');
    // Another account from the same address is not locked out.
    await agent.post('/login').type('form').send({ email: 'tenzin.dorje@olive.example', password: DEMO_PASSWORD, _csrf: token }).expect(303);
  });
});

describe('request logs', () => {
  it('never hold session cookies, passwords or query strings', async () => {
    const { captureLogger } = await import('./helpers/app.ts');
    const { logger, lines } = captureLogger('info');
    const t = await createTestApp({ seed: true, logger, label: 'logs' });
    try {
      const agent = await signIn(t.app, 'learner@olive.example');
      await agent.get('/account?token=secret-in-url').expect(200);
      const text = JSON.stringify(lines);
      expect(
        lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/account'),
        'requests are logged',
      ).to.equal(true);
      expect(text).to.not.contain('olive.sid');
      expect(text).to.not.contain(DEMO_PASSWORD);
      expect(text).to.not.contain('secret-in-url');
    } finally {
      await t.stop();
    }
  });
});
