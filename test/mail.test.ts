import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { startMailpit, type LocalMailServer } from '../src/core/mail/mailpit.ts';
import { MailTopics } from '../src/core/host-contract.ts';
import { definePlugin } from '../src/index.ts';
import { createTestApp, csrfFrom, signIn, freshDbName, type TestApp } from './helpers/app.ts';
import { inbox, mailTestEnv } from './helpers/mail.ts';

/** A plugin with one optional notice topic, as plugins declare them. */
const newsletter = definePlugin({
  name: 'digest',
  version: '1.0.0',
  register(ctx) {
    ctx.contribute(MailTopics, { id: 'digest.weekly', label: 'Weekly digest' });
  },
});

async function seedUser(test: TestApp, email: string, locale?: string) {
  return test.app.olive.users.create({ email, name: 'Aïcha Diallo', locale, password: 'a-long-password' }, 'test');
}

describe('e-mail: the outbox and its delivery through a real SMTP server', function () {
  this.timeout(120_000);
  let test: TestApp;
  let from: string;

  // One app for these tests: each writes to an account and message keys of its own, and reads the
  // inbox by subject or recipient. Retries 2 ms apart, growing: the message that can never be sent
  // spends its ten attempts in about a second (at 20 ms it took ten).
  before(async () => {
    const env = mailTestEnv({ PROGRAMME_NAME: 'UNITAR PPCP', MAIL_RETRY_MS: '2' });
    from = env.MAIL_FROM;
    test = await createTestApp({ env, plugins: [newsletter], seed: true, label: 'mail' });
  });
  after(() => test.stop());

  it('sends multipart mail in the recipient’s language, with the programme’s name and links on BASE_URL only', async () => {
    const user = await seedUser(test, 'aicha@example.org', 'fr');
    const result = await test.app.olive.mail.send({
      key: `test.hello:${user.id}`,
      to: { userId: user.id },
      category: 'account',
      compose: (t) => ({
        subject: t('mail.invite.subject', { programme: 'UNITAR PPCP' }),
        paragraphs: [t('mail.greeting', { name: 'Aïcha' }), 'Ligne <b>non</b> balisée'],
        action: { label: 'Ouvrir', url: '/account' },
      }),
    });
    expect(result.created).to.equal(true);
    const [delivered] = await inbox(from).waitFor((m) => m.To[0]!.Address === 'aicha@example.org');
    const detail = await inbox(from).read(delivered!.ID);
    expect(detail.Subject).to.equal('Votre compte pour UNITAR PPCP');
    expect(detail.Text).to.contain('Bonjour Aïcha,').and.contain(`${test.app.olive.config.BASE_URL}/account`).and.contain('UNITAR PPCP');
    expect(detail.HTML).to.contain('lang="fr"').and.contain(`href="${test.app.olive.config.BASE_URL}/account"`);
    // Text from the message is escaped in the HTML part, never taken as markup.
    expect(detail.HTML).to.contain('Ligne &lt;b&gt;non&lt;/b&gt; balisée');
    expect(detail.HTML.length).to.be.below(6000);
    expect(() => test.app.olive.mail.url('https://evil.example/phish')).to.throw(/BASE_URL/);
  });

  it('records one message per key, whatever is retried or raced', async () => {
    const user = await seedUser(test, 'once@example.org');
    const mail = {
      key: `test.once:${user.id}`,
      to: { userId: user.id },
      category: 'account' as const,
      compose: () => ({ subject: 'Only once', paragraphs: ['Hello'] }),
    };
    const results = await Promise.all(Array.from({ length: 8 }, () => test.app.olive.mail.send(mail)));
    expect(results.filter((r) => r.created)).to.have.length(1);
    await inbox(from).waitFor((m) => m.Subject === 'Only once');
    await test.app.olive.jobs.idle(['host.mail']);
    await new Promise((r) => setTimeout(r, 500));
    expect((await inbox(from).messages()).filter((m) => m.Subject === 'Only once')).to.have.length(1);
  });

  it('optional notices carry List-Unsubscribe; the one-click post and the preference page turn them off', async () => {
    const user = await seedUser(test, 'notices@example.org');
    const send = (n: number) =>
      test.app.olive.mail.send({
        key: `digest.weekly:${user.id}:${n}`,
        to: { userId: user.id },
        category: 'notice',
        topic: 'digest.weekly',
        compose: () => ({ subject: `Digest ${n}`, paragraphs: ['News'] }),
      });
    await send(1);
    const [first] = await inbox(from).waitFor((m) => m.Subject === 'Digest 1');
    const headers = (await inbox(from).read(first!.ID)).Headers;
    expect(headers['List-Unsubscribe-Post']).to.deep.equal(['List-Unsubscribe=One-Click']);
    const link = headers['List-Unsubscribe']![0]!.replace(/^<|>$/g, '');
    expect(link.startsWith(`${test.app.olive.config.BASE_URL}/mail/unsubscribe?`)).to.equal(true);
    const target = link.slice(test.app.olive.config.BASE_URL.length);

    // A tampered signature changes nothing.
    await supertest(test.app)
      .post(target.replace(/s=[^&]+/, 's=AAAA'))
      .type('form')
      .send({ 'List-Unsubscribe': 'One-Click' })
      .expect(400);
    expect(await test.app.olive.mail.optedOut(user.id)).to.deep.equal([]);
    // The mail program's one-click post: cross-site, no session, no form token.
    await supertest(test.app).post(target).type('form').send({ 'List-Unsubscribe': 'One-Click' }).expect(200);
    expect(await test.app.olive.mail.optedOut(user.id)).to.deep.equal(['digest.weekly']);
    expect((await send(2)).skipped).to.equal('opted-out');

    // Back on through the preference page.
    const agent = await signIn(test.app, 'notices@example.org', 'a-long-password');
    const page = await agent.get('/account/notifications').expect(200);
    expect(page.text).to.contain('Weekly digest');
    await agent
      .post('/account/notifications')
      .type('form')
      .send({ _csrf: csrfFrom(page.text), on: 'digest.weekly' })
      .expect(303);
    expect(await test.app.olive.mail.optedOut(user.id)).to.deep.equal([]);
    await agent
      .post('/account/notifications')
      .type('form')
      .send({ _csrf: csrfFrom(page.text), on: 'nonsense.topic' })
      .expect(400);
    expect(await test.app.olive.mail.optedOut(user.id)).to.deep.equal([]);
  });

  it('shows admins every message with its state; a refused message is marked failed with the reason, and can be sent again or dropped', async () => {
    const user = await seedUser(test, 'shown@example.org');
    await test.app.olive.mail.send({
      key: `test.shown:${user.id}`,
      to: { userId: user.id },
      category: 'account',
      compose: () => ({ subject: 'Shown to admins', paragraphs: ['Hi'] }),
    });
    // An address the SMTP server refuses for good (no domain part is accepted by nodemailer, so a
    // recipient the relay answers with 5xx: Mailpit refuses a message over its size limit; here a
    // missing GridFS attachment fails every attempt instead).
    await test.app.olive.mail.send({
      key: 'test.broken',
      to: { email: 'broken@example.org' },
      category: 'account',
      compose: () => ({ subject: 'Never arrives', paragraphs: ['x'] }),
      attachments: [{ filename: 'missing.pdf', contentType: 'application/pdf', bucket: 'nowhere', fileId: '0123456789abcdef01234567' }],
    });
    await inbox(from).waitFor((m) => m.Subject === 'Shown to admins');
    let job = await test.app.olive.jobs.get('host.mail:test.broken');
    for (let i = 0; i < 400 && job?.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = await test.app.olive.jobs.get('host.mail:test.broken');
    }
    expect(job?.state).to.equal('failed');
    expect(job?.attempts).to.equal(10);
    const admin = await signIn(test.app, 'admin@olive.example');
    const page = await admin.get('/admin/mail').expect(200);
    expect(page.text).to.contain('Shown to admins').and.contain('Never arrives').and.contain('Failed').and.contain('FileNotFound');
    const failedOnly = await admin.get('/admin/mail?state=failed').expect(200);
    expect(failedOnly.text).to.contain('Never arrives').and.not.contain('Shown to admins');
    const token = csrfFrom(page.text);
    await admin.post('/admin/jobs/host.mail%3Atest.broken/drop').type('form').send({ _csrf: token }).expect(303);
    expect((await test.app.olive.jobs.get('host.mail:test.broken'))?.state).to.equal('dropped');
    expect((await admin.get('/admin/mail?state=dropped').expect(200)).text).to.contain('Never arrives');
    await admin.post('/admin/jobs/host.mail%3Atest.broken/retry').type('form').send({ _csrf: token, back: '/admin/mail' }).expect(303);
    const again = await test.app.olive.jobs.get('host.mail:test.broken');
    expect(again?.state).to.be.oneOf(['waiting', 'running']);
    expect(again?.attempts).to.be.below(2);
    // Learners see none of it.
    const learner = await signIn(test.app, 'learner@olive.example');
    await learner.get('/admin/mail').expect(403);
    const learnerToken = csrfFrom((await learner.get('/').expect(200)).text);
    await learner.post('/admin/jobs/host.mail%3Atest.broken/retry').type('form').send({ _csrf: learnerToken }).expect(403);
  });
});

describe('e-mail: nothing is lost when the mail server goes away', function () {
  this.timeout(180_000);
  let server: LocalMailServer;
  let dataDir: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-mailpit-'));
    server = await startMailpit({ dataDir, max: 0 });
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('100 messages queued while the server is down for 10 s each arrive exactly once when it returns', async () => {
    const env = mailTestEnv({ SMTP_URL: server.smtpUrl, MAIL_PER_MINUTE: '100000' });
    const test = await createTestApp({ env, label: 'mail-outage' });
    try {
      const { smtpPort, httpPort } = server;
      await server.stop();
      const sends = Array.from({ length: 100 }, (_, i) =>
        test.app.olive.mail.send({
          key: `outage:${i}`,
          to: { email: `person${i}@example.org` },
          category: 'account',
          compose: () => ({ subject: `Outage ${i}`, paragraphs: ['x'] }),
        }),
      );
      await Promise.all(sends);
      await new Promise((r) => setTimeout(r, 10_000));
      // While it was away: none sent, none failed, none given up.
      const counts = await test.app.olive.jobs.counts();
      expect(counts.filter((c) => c.queue === 'host.mail' && (c.state === 'failed' || c.state === 'done'))).to.deep.equal([]);
      server = await startMailpit({ dataDir, smtpPort, httpPort, max: 0 });
      await test.app.olive.jobs.idle(['host.mail'], 60_000);
      const arrived = await inbox(env.MAIL_FROM, server.httpUrl).messages();
      const subjects = arrived.map((m) => m.Subject).sort();
      expect(subjects).to.have.length(100);
      expect(new Set(subjects).size).to.equal(100);
    } finally {
      await test.stop();
    }
  });

  it('two instances on one database deliver 500 queued messages, each exactly once', async () => {
    const env = mailTestEnv({ SMTP_URL: server.smtpUrl, MAIL_PER_MINUTE: '100000' });
    const dbName = freshDbName('mail-two');
    // The first instance records the messages with no mail server configured: they wait.
    const quiet = await createTestApp({ dbName, env: { ...env, SMTP_URL: '' } as never, label: 'mail-two' });
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          quiet.app.olive.mail.send({
            key: `pair:${i + j}`,
            to: { email: `pair${i + j}@example.org` },
            category: 'account',
            compose: () => ({ subject: `Pair ${i + j}`, paragraphs: ['x'] }),
          }),
        ),
      );
    }
    await quiet.app.olive.stop();
    const one = await createTestApp({ dbName, env, label: 'mail-two' });
    const two = await createTestApp({ dbName, env, label: 'mail-two' });
    try {
      await one.app.olive.jobs.idle(['host.mail'], 120_000);
      const arrived = await inbox(env.MAIL_FROM, server.httpUrl).messages();
      expect(arrived).to.have.length(500);
      expect(new Set(arrived.map((m) => m.Subject)).size).to.equal(500);
      const sent = await one.app.olive.connection.collection('host_jobs').countDocuments({ queue: 'host.mail', state: 'done', attempts: 1 });
      expect(sent, 'each delivered by one attempt').to.equal(500);
    } finally {
      await two.app.olive.stop();
      await one.stop();
    }
  });

  it('throttles delivery to MAIL_PER_MINUTE across instances', async () => {
    const env = mailTestEnv({ SMTP_URL: server.smtpUrl, MAIL_PER_MINUTE: '7' });
    const dbName = freshDbName('mail-throttle');
    const one = await createTestApp({ dbName, env, label: 'mail-throttle' });
    const two = await createTestApp({ dbName, env, label: 'mail-throttle' });
    try {
      const started = Date.now();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          one.app.olive.mail.send({
            key: `throttle:${i}`,
            to: { email: `t${i}@example.org` },
            category: 'account',
            compose: () => ({ subject: `Throttle ${i}`, paragraphs: ['x'] }),
          }),
        ),
      );
      // The minute's seven go out at once; the rest wait for the next minute (no attempt spent).
      await inbox(env.MAIL_FROM, server.httpUrl).waitFor(() => true, { count: 7 });
      await new Promise((r) => setTimeout(r, 1500));
      const sent = (await inbox(env.MAIL_FROM, server.httpUrl).messages()).length;
      // Seven per minute begun since the start, across both instances (the test may straddle a minute).
      const minutes = Math.floor(Date.now() / 60_000) - Math.floor(started / 60_000) + 1;
      expect(sent)
        .to.be.at.least(7)
        .and.at.most(7 * minutes);
      const counts = (await one.app.olive.jobs.counts()).filter((c) => c.queue === 'host.mail');
      const count = (state: string) => counts.find((c) => c.state === state)?.count ?? 0;
      expect(count('failed') + count('dropped'), 'none given up').to.equal(0);
      expect(count('done') + count('waiting') + count('running'), 'none lost').to.equal(20);
      expect(count('done'), 'the ones not sent yet wait').to.be.at.most(7 * minutes);
    } finally {
      await two.app.olive.stop();
      await one.stop();
    }
  });
});
