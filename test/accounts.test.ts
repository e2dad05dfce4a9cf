import { expect } from 'chai';
import supertest from 'supertest';
import { createTestApp, csrfFrom, signIn, tokenFor, type TestApp } from './helpers/app.ts';
import { inbox, linkIn, mailTestEnv } from './helpers/mail.ts';

type Agent = ReturnType<typeof supertest.agent>;

async function form(agent: Agent, page: string) {
  return csrfFrom((await agent.get(page).expect(200)).text);
}

/** The path of the first link to this app in a delivered message. */
async function linkFrom(test: TestApp, from: string, to: string, subject: RegExp, prefix: string) {
  const [message] = await inbox(from).waitFor((m) => m.To[0]!.Address === to && subject.test(m.Subject));
  const text = (await inbox(from).read(message!.ID)).Text;
  return linkIn(text, `${test.app.olive.config.BASE_URL}${prefix}`).slice(test.app.olive.config.BASE_URL.length);
}

const sessionsOf = (test: TestApp, userId: string) => test.app.olive.connection.collection('host_sessions').countDocuments({ 'session.passport.user': userId });

describe('accounts without single sign-on: invitations, resets, registration, address changes', function () {
  this.timeout(90_000);
  let test: TestApp;
  let from: string;

  beforeEach(async () => {
    const env = mailTestEnv({ REGISTRATION: 'domains', REGISTRATION_DOMAINS: 'mediators.example, @au.example', TRUST_PROXY: 'true' });
    from = env.MAIL_FROM;
    test = await createTestApp({ env, seed: true, label: 'accounts' });
  });
  afterEach(() => test.stop());

  it('an admin invites a new person, who sets their own password through a single-use link and signs in', async () => {
    const admin = await signIn(test.app, 'admin@olive.example');
    const page = await admin.get('/admin/users').expect(200);
    const requestKey = /name="requestKey" value="([^"]+)"/.exec(page.text)![1]!;
    const body = { _csrf: csrfFrom(page.text), requestKey, name: 'Nomvula Dlamini', email: 'Nomvula@Mediators.example', roles: 'learner', invite: 'on' };
    // A double click: the same form twice makes one account and one invitation.
    const [first, second] = await Promise.all([admin.post('/admin/users').type('form').send(body), admin.post('/admin/users').type('form').send(body)]);
    expect([first.status, second.status].sort()).to.deep.equal([303, 409]);
    const path = await linkFrom(test, from, 'nomvula@mediators.example', /Your account/, '/account/invitation/');
    await test.app.olive.jobs.idle(['host.mail']);
    expect(await inbox(from).to('nomvula@mediators.example')).to.have.length(1);
    // Neither the outbox nor its admin page holds a usable link: the token is sealed in the database.
    const secret = path.split('/').pop()!;
    const stored = JSON.stringify(await test.app.olive.connection.collection('host_mail').find({}).toArray());
    expect(stored).to.not.contain(secret);
    const [record] = await test.app.olive.connection.collection('host_mail').find({ to: 'nomvula@mediators.example' }).toArray();
    const shown = await admin.get(`/admin/mail/${encodeURIComponent(String(record!._id))}`).expect(200);
    expect(shown.text).to.contain('/account/invitation/[hidden]').and.not.contain(secret);

    const person = supertest.agent(test.app);
    const setPage = await person.get(path).expect(200);
    expect(setPage.headers['referrer-policy']).to.equal('no-referrer');
    // Bad input: a clear message, nothing changes, the link still works.
    const short = await person
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(setPage.text), password: 'short', confirm: 'short' })
      .expect(400);
    expect(short.text).to.contain('Use at least 10 characters.');
    const differ = await person
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(setPage.text), password: 'a-strong-passphrase', confirm: 'another-passphrase' })
      .expect(400);
    expect(differ.text).to.contain('The two passwords differ.');
    await person
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(setPage.text), password: 'a-strong-passphrase', confirm: 'a-strong-passphrase' })
      .expect(303);
    await signIn(test.app, 'nomvula@mediators.example', 'a-strong-passphrase');
    // Used once: the second use is refused with a way to get a new link.
    const again = await person
      .post(path)
      .type('form')
      .send({ _csrf: await tokenFor(person, '/login'), password: 'another-passphrase', confirm: 'another-passphrase' })
      .expect(410);
    expect(again.text).to.contain('already been used').and.contain('Send me a new link');
    await signIn(test.app, 'nomvula@mediators.example', 'a-strong-passphrase');
    // The admin never saw a password; the person's page shows what was sent and done.
    const id = (await test.app.olive.users.findByEmail('nomvula@mediators.example'))!.id;
    const personPage = await admin.get(`/admin/users/${id}`).expect(200);
    expect(personPage.text).to.contain('Your account for Olive').and.contain('Invitation sent').and.contain('Invitation accepted');
  });

  it('an expired or unknown link explains itself and offers a new one', async () => {
    const user = await test.app.olive.users.create({ email: 'late@mediators.example', name: 'Late Comer' }, 'test');
    await test.app.olive.connection.collection('host_users').updateOne({ email: 'late@mediators.example' }, { $set: { localSignIn: true } });
    await test.app.olive.users.invite({ email: user.email, name: user.name }, { by: 'test', key: 'expired' });
    const path = await linkFrom(test, from, 'late@mediators.example', /Your account/, '/account/invitation/');
    await test.app.olive.connection.collection('host_account_tokens').updateMany({ userId: user.id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const agent = supertest.agent(test.app);
    const expired = await agent.get(path).expect(410);
    expect(expired.text).to.contain('This link has expired').and.contain('Send me a new link');
    // The page does not tell whoever holds the link which address the account has now.
    expect(expired.text).to.not.contain('late@mediators.example');
    const unknown = await agent.get('/account/invitation/not-a-real-token').expect(404);
    expect(unknown.text).to.contain('This link is not valid');
    // Asking for a new link from the expired page sends a fresh invitation-style link (a reset, since the person may have a password).
    await agent
      .post('/account/forgot')
      .type('form')
      .send({ _csrf: csrfFrom(expired.text), email: 'late@mediators.example' })
      .expect(200);
    const fresh = await linkFrom(test, from, 'late@mediators.example', /new password/, '/account/reset/');
    await agent.get(fresh).expect(200);
  });

  it('forgot password: the same answer for known and unknown addresses, a link only for the known one, every session ended at reset', async () => {
    const learner = await signIn(test.app, 'learner@olive.example');
    const other = await signIn(test.app, 'learner@olive.example');
    const id = (await test.app.olive.users.findByEmail('learner@olive.example'))!.id;
    expect(await sessionsOf(test, id)).to.equal(2);
    const visitor = supertest.agent(test.app);
    const token = await form(visitor, '/account/forgot');
    const known = await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'learner@olive.example' }).expect(200);
    const unknown = await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'nobody@nowhere.example' }).expect(200);
    const strip = (html: string) => html.replace(/learner@olive\.example|nobody@nowhere\.example/g, 'X').replace(/name="_csrf" value="[^"]+"/g, '');
    expect(strip(known.text)).to.equal(strip(unknown.text));
    const path = await linkFrom(test, from, 'learner@olive.example', /new password/, '/account/reset/');
    await test.app.olive.jobs.idle(['host.password-reset']);
    expect(await inbox(from).to('nobody@nowhere.example')).to.have.length(0);
    // Bad input gets a message and records nothing.
    const before = await test.app.olive.connection.collection('host_jobs').countDocuments();
    const bad = await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'not-an-address' }).expect(400);
    expect(bad.text).to.contain('Enter a valid e-mail address');
    expect(await test.app.olive.connection.collection('host_jobs').countDocuments()).to.equal(before);

    // A second reset link, asked for before the first is used, is spent by the reset.
    await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'learner@olive.example' }).expect(200);
    await inbox(from).waitFor((m) => m.To[0]!.Address === 'learner@olive.example' && /new password/.test(m.Subject), { count: 2 });
    const both = (await Promise.all((await inbox(from).to('learner@olive.example')).map((m) => inbox(from).read(m.ID)))).map((m) =>
      linkIn(m.Text, `${test.app.olive.config.BASE_URL}/account/reset/`).slice(test.app.olive.config.BASE_URL.length),
    );
    const second = both.find((p) => p !== path)!;
    const resetPage = await visitor.get(path).expect(200);
    await visitor
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(resetPage.text), password: 'my-new-passphrase', confirm: 'my-new-passphrase' })
      .expect(303);
    const late = await visitor
      .post(second)
      .type('form')
      .send({ _csrf: csrfFrom(resetPage.text), password: 'attacker-passphrase', confirm: 'attacker-passphrase' })
      .expect(410);
    expect(late.text).to.contain('already been used');
    expect(await sessionsOf(test, id)).to.equal(0);
    await learner.get('/account').expect(303);
    await other.get('/account').expect(303);
    await signIn(test.app, 'learner@olive.example', 'my-new-passphrase');
    let oldRefused = false;
    try {
      await signIn(test.app, 'learner@olive.example');
    } catch (err) {
      oldRefused = /failed with 401/.test((err as Error).message);
    }
    expect(oldRefused, 'the old password no longer signs in (401)').to.equal(true);
  });

  it('forgot password takes as long for an unknown address as for a known one (50 tries each)', async () => {
    const visitor = supertest.agent(test.app);
    const token = await form(visitor, '/account/forgot');
    // Ten known and ten unknown addresses, five tries each (the limit per address and hour), each
    // try from an address of its own (documentation range) so that the limit per address holds.
    for (let i = 0; i < 10; i++)
      await test.app.olive.users.create({ email: `known${i}@mediators.example`, name: `Known ${i}`, password: 'a-long-passphrase' }, 'test');
    let n = 0;
    const time = async (email: string) => {
      n += 1;
      // The work behind the previous answer (a known address's link and its mail) is done first:
      // it would otherwise fall on this answer's time, which is what is compared.
      await test.app.olive.jobs.idle();
      const t0 = process.hrtime.bigint();
      await visitor
        .post('/account/forgot')
        .type('form')
        .set('X-Forwarded-For', `203.0.113.${n % 250}`)
        .send({ _csrf: token, email })
        .expect(200);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    // Interleaved, so that drift in the machine's speed falls on both alike.
    for (let i = 0; i < 50; i++) {
      known.push(await time(`known${i % 10}@mediators.example`));
      unknown.push(await time(`nobody${i % 10}@nowhere.example`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const diff = Math.abs(median(known) - median(unknown));
    expect(diff, `median known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms`).to.be.below(Math.max(3, 0.25 * median(unknown)));
    // The work was done behind the answer: a link for each known address, none for the others.
    await test.app.olive.jobs.idle(['host.password-reset'], 60_000);
    await inbox(from).waitFor((m) => /^known\d@/.test(m.To[0]!.Address), { count: 50, timeoutMs: 60_000 });
    expect((await inbox(from).messages()).filter((m) => /^nobody/.test(m.To[0]!.Address))).to.have.length(0);
  });

  it('limits reset requests per address', async () => {
    const visitor = supertest.agent(test.app);
    const token = await form(visitor, '/account/forgot');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'trainer@olive.example' })).status);
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 429, 429]);
  });

  it('an SSO-only person has no password to reset unless an admin allows one', async () => {
    const sso = await test.app.olive.users.create({ email: 'staffer@un.example', name: 'Unite Person' }, 'saml:unite');
    const visitor = supertest.agent(test.app);
    const token = await form(visitor, '/account/forgot');
    await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'staffer@un.example' }).expect(200);
    const [note] = await inbox(from).waitFor((m) => m.To[0]!.Address === 'staffer@un.example');
    expect(note!.Subject).to.equal('Signing in to Olive');
    expect((await inbox(from).read(note!.ID)).Text).to.not.contain('/account/reset/');
    expect(await test.app.olive.connection.collection('host_account_tokens').countDocuments({ userId: sso.id })).to.equal(0);
    const admin = await signIn(test.app, 'admin@olive.example');
    const page = await admin.get(`/admin/users/${sso.id}`).expect(200);
    expect(page.text).to.contain('Single sign-on only').and.not.contain('Send an invitation');
    await admin
      .post(`/admin/users/${sso.id}/allow-local-password`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text) })
      .expect(303);
    const after = await admin.get(`/admin/users/${sso.id}`).expect(200);
    expect(after.text).to.contain('Send an invitation').and.contain('Local password allowed');
  });

  it('a deactivated person is signed out at once and cannot sign in; reactivation lets them back; every action is audited', async () => {
    const trainer = await signIn(test.app, 'trainer@olive.example');
    const id = (await test.app.olive.users.findByEmail('trainer@olive.example'))!.id;
    const admin = await signIn(test.app, 'admin@olive.example');
    const page = await admin.get(`/admin/users/${id}`).expect(200);
    await admin
      .post(`/admin/users/${id}/deactivate`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text) })
      .expect(303);
    expect(await sessionsOf(test, id)).to.equal(0);
    await trainer.get('/account').expect(303);
    let refused = false;
    try {
      await signIn(test.app, 'trainer@olive.example');
    } catch (err) {
      refused = /failed with 401/.test((err as Error).message);
    }
    expect(refused, 'sign-in refused (401)').to.equal(true);
    // No reset link for a deactivated account either.
    const visitor = supertest.agent(test.app);
    const token = await form(visitor, '/account/forgot');
    await visitor.post('/account/forgot').type('form').send({ _csrf: token, email: 'trainer@olive.example' }).expect(200);
    await test.app.olive.jobs.idle(['host.password-reset']);
    expect(await test.app.olive.connection.collection('host_account_tokens').countDocuments({ userId: id })).to.equal(0);
    // An admin cannot deactivate themself.
    const adminId = (await test.app.olive.users.findByEmail('admin@olive.example'))!.id;
    await admin
      .post(`/admin/users/${adminId}/deactivate`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text) })
      .expect(409);
    expect(await test.app.olive.users.isDisabled(adminId)).to.equal(false);
    await admin
      .post(`/admin/users/${id}/reactivate`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text) })
      .expect(303);
    await signIn(test.app, 'trainer@olive.example');
    const audit = await test.app.olive.connection.collection('host_audit').find({ userId: id }).sort({ at: 1 }).toArray();
    expect(audit.map((a) => [a.action, a.actor])).to.deep.equal([
      ['deactivated', adminId],
      ['reactivated', adminId],
    ]);
    // The history names who did it.
    const history = await admin.get(`/admin/users/${id}`).expect(200);
    expect(history.text)
      .to.contain('Deactivated')
      .and.contain('Reactivated')
      .and.contain((await test.app.olive.users.findById(adminId))!.name);
    // Only admins.
    const staff = await signIn(test.app, 'staff@olive.example');
    const staffToken = await tokenFor(staff);
    await staff.post(`/admin/users/${id}/deactivate`).type('form').send({ _csrf: staffToken }).expect(403);
    expect(await test.app.olive.users.isDisabled(id)).to.equal(false);
  });

  it('self-registration: allowed domains only, the address confirmed before sign-in, no enumeration', async () => {
    const visitor = supertest.agent(test.app);
    const token = await form(visitor, '/register');
    const refused = await visitor
      .post('/register')
      .type('form')
      .send({ _csrf: token, name: 'Out Sider', email: 'someone@gmail.example', password: 'a-long-passphrase', confirm: 'a-long-passphrase' })
      .expect(400);
    expect(refused.text).to.contain('Registration is open only to addresses at: mediators.example, au.example');
    expect(await test.app.olive.users.findByEmail('someone@gmail.example')).to.equal(null);

    const fresh = await visitor
      .post('/register')
      .type('form')
      .send({ _csrf: token, name: 'Amani Njoroge', email: 'amani@au.example', password: 'a-long-passphrase', confirm: 'a-long-passphrase' })
      .expect(200);
    // Registering a known address answers the same (its owner is told by mail instead).
    await test.app.olive.users.create({ email: 'known@au.example', name: 'Known Person', password: 'known-passphrase' }, 'test');
    const known = await visitor
      .post('/register')
      .type('form')
      .send({ _csrf: token, name: 'Impostor', email: 'known@au.example', password: 'a-long-passphrase', confirm: 'a-long-passphrase' })
      .expect(200);
    const strip = (html: string) => html.replace(/amani@au\.example|known@au\.example/g, 'X').replace(/name="_csrf" value="[^"]+"/g, '');
    expect(strip(fresh.text)).to.equal(strip(known.text));
    await inbox(from).waitFor((m) => m.To[0]!.Address === 'known@au.example' && /Your account/.test(m.Subject));

    // Not before the address is confirmed.
    const loginPage = await visitor.get('/login').expect(200);
    const early = await visitor
      .post('/login')
      .type('form')
      .send({ _csrf: csrfFrom(loginPage.text), email: 'amani@au.example', password: 'a-long-passphrase' })
      .expect(403);
    expect(early.text).to.contain('confirm your e-mail address first');
    const path = await linkFrom(test, from, 'amani@au.example', /Confirm your address/, '/account/verify/');
    // Opening the link (as a mail scanner does) confirms nothing: the button does.
    const confirmPage = await visitor.get(path).expect(200);
    await visitor
      .post('/login')
      .type('form')
      .send({ _csrf: csrfFrom(loginPage.text), email: 'amani@au.example', password: 'a-long-passphrase' })
      .expect(403);
    await visitor
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(confirmPage.text) })
      .expect(303);
    await signIn(test.app, 'amani@au.example', 'a-long-passphrase');
    expect((await test.app.olive.users.findByEmail('known@au.example'))!.name).to.equal('Known Person');
  });

  it('registration is off by default: no page, no form', async () => {
    const closed = await createTestApp({ env: mailTestEnv(), label: 'accounts-closed' });
    try {
      const visitor = supertest.agent(closed.app);
      await visitor.get('/register').expect(404);
      expect((await visitor.get('/login').expect(200)).text).to.not.contain('/register');
      const token = await form(visitor, '/login');
      await visitor
        .post('/register')
        .type('form')
        .send({ _csrf: token, name: 'X', email: 'x@y.example', password: 'a-long-passphrase', confirm: 'a-long-passphrase' })
        .expect(404);
      expect(await closed.app.olive.users.findByEmail('x@y.example')).to.equal(null);
    } finally {
      await closed.stop();
    }
  });

  it('a change of address is confirmed through the new address, and the old one is told', async () => {
    const agent = await signIn(test.app, 'learner@olive.example');
    const learnerId = (await test.app.olive.users.findByEmail('learner@olive.example'))!.id;
    const account = await agent.get('/account').expect(200);
    const wrong = await agent
      .post('/account/email')
      .type('form')
      .send({ _csrf: csrfFrom(account.text), email: 'new.me@mediators.example', current: 'not-my-password' })
      .expect(400);
    expect(wrong.text).to.contain('The current password is not right.');
    // A taken address gets the same answer as a free one (no enumeration); its owner is told.
    await agent
      .post('/account/email')
      .type('form')
      .send({ _csrf: csrfFrom(account.text), email: 'staff@olive.example', current: 'olive-demo' })
      .expect(303);
    await inbox(from).waitFor((m) => m.To[0]!.Address === 'staff@olive.example' && /tried to use your address/.test(m.Subject));
    expect(
      await test.app.olive.connection.collection('host_account_tokens').countDocuments({ purpose: 'email-change', email: 'staff@olive.example' }),
    ).to.equal(0);
    await agent
      .post('/account/email')
      .type('form')
      .send({ _csrf: csrfFrom(account.text), email: 'New.Me@mediators.example', current: 'olive-demo' })
      .expect(303);
    await inbox(from).waitFor((m) => m.To[0]!.Address === 'learner@olive.example' && /change of your e-mail address was requested/.test(m.Subject));
    expect(await test.app.olive.users.findByEmail('learner@olive.example')).to.not.equal(null);
    const path = await linkFrom(test, from, 'new.me@mediators.example', /Confirm your new address/, '/account/confirm-email/');
    const confirm = await agent.get(path).expect(200);
    expect(confirm.text).to.contain('new.me@mediators.example');
    await agent
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(confirm.text) })
      .expect(303);
    expect(await test.app.olive.users.findByEmail('learner@olive.example')).to.equal(null);
    expect((await test.app.olive.users.findByEmail('new.me@mediators.example'))!.id).to.equal(learnerId);
    await signIn(test.app, 'new.me@mediators.example');
    await inbox(from).waitFor((m) => m.To[0]!.Address === 'learner@olive.example' && /was changed/.test(m.Subject));
    await agent
      .post(path)
      .type('form')
      .send({ _csrf: csrfFrom(confirm.text) })
      .expect(410);
  });
});
