import { expect } from 'chai';
import supertest from 'supertest';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import announcements from '../index.ts';

describe('announcements plugin', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [announcements], seed: true, label: 'announcements' });
  });
  after(() => t.stop());

  it('shows each person the announcements meant for them, newest first', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    const page = (await learner.get('/announcements').expect(200)).text;
    const fellowship = page.indexOf('Fellowship Programme 2027 near Oslo: selection results');
    const elearning = page.indexOf('Conflict Analysis e-learning: new edition opens on 1 February');
    expect(fellowship).to.be.greaterThan(-1);
    expect(elearning).to.be.greaterThan(fellowship);
    expect(page).to.not.contain('Trainers: case studies');
    expect(page).to.not.contain('/withdraw"');
    expect(page).to.not.contain('href="/announcements/new"');
  });

  it('is for signed-in people only', async () => {
    await supertest(t.app).get('/announcements').expect(303).expect('location', '/login?returnTo=%2Fannouncements');
  });

  it('lets staff publish, and refuses learners and trainers', async () => {
    for (const email of ['learner@olive.example', 'trainer@olive.example']) {
      const agent = await signIn(t.app, email);
      await agent.get('/announcements/new').expect(403);
      const token = await tokenFor(agent, '/announcements');
      await agent.post('/announcements').type('form').send({ title: 'Sneaky', body: 'x', audience: 'everyone', _csrf: token }).expect(403);
    }
    const staff = await signIn(t.app, 'staff@olive.example');
    const token = await tokenFor(staff, '/announcements/new');
    await staff
      .post('/announcements')
      .type('form')
      .send({
        title: 'Seminar for special representatives: programme online',
        body: 'The programme of the seminar is online.\n\nPlease read the briefing notes.',
        audience: 'everyone',
        _csrf: token,
      })
      .expect(303)
      .expect('location', '/announcements');
    const page = (await staff.get('/announcements').expect(200)).text;
    expect(page).to.contain('The announcement is published.');
    // Each paragraph takes its direction from its own text (an English notice on an Arabic page).
    expect(page).to.contain('<p dir="auto">The programme of the seminar is online.</p>');
    expect(page).to.contain('Posted by Ingrid Solberg');
    const sneaky = (await staff.get('/announcements').expect(200)).text;
    expect(sneaky).to.not.contain('Sneaky');
  });

  it('keeps what was typed and says what to fix when the form is wrong', async () => {
    const staff = await signIn(t.app, 'staff@olive.example');
    const token = await tokenFor(staff, '/announcements/new');
    const res = await staff.post('/announcements').type('form').send({ title: 'No', body: 'Kept body', audience: 'martians', _csrf: token }).expect(400);
    expect(res.text).to.contain('Write a title of at least 3 characters.');
    expect(res.text).to.contain('Choose who should see it.');
    expect(res.text).to.contain('>Kept body</textarea>');
  });

  it('escapes what people write', async () => {
    const staff = await signIn(t.app, 'staff@olive.example');
    const token = await tokenFor(staff, '/announcements/new');
    await staff
      .post('/announcements')
      .type('form')
      .send({ title: '<script>alert(1)</script> title', body: '<img src=x onerror=alert(1)>', audience: 'staff', _csrf: token })
      .expect(303);
    const page = (await staff.get('/announcements').expect(200)).text;
    expect(page).to.contain('&lt;script&gt;alert(1)&lt;/script&gt; title');
    expect(page).to.not.contain('<script>alert(1)');
    expect(page).to.not.contain('<img src=x');
  });

  it('counts published announcements through its event listener', async () => {
    const before = (await supertest(t.app).get('/metrics')).text.match(/olive_announcements_published_total\{audience="trainer"\} (\d+)/);
    const staff = await signIn(t.app, 'staff@olive.example');
    const token = await tokenFor(staff, '/announcements/new');
    await staff
      .post('/announcements')
      .type('form')
      .send({ title: 'For trainers only', body: 'Hello trainers.', audience: 'trainer', _csrf: token })
      .expect(303);
    const after = (await supertest(t.app).get('/metrics')).text.match(/olive_announcements_published_total\{audience="trainer"\} (\d+)/);
    expect(Number(after?.[1])).to.equal(Number(before?.[1] ?? 0) + 1);
  });

  it('lets staff withdraw an announcement, which then disappears for everyone', async () => {
    const staff = await signIn(t.app, 'staff@olive.example');
    const learner = await signIn(t.app, 'learner@olive.example');
    const title = 'Mediation seminar: venue changed';
    await staff
      .post('/announcements')
      .type('form')
      .send({ title, body: 'The seminar moves to the second floor.', audience: 'everyone', _csrf: await tokenFor(staff, '/announcements/new') })
      .expect(303);
    // Where a learner reads announcements: the list and the home page's panel.
    const learnerPages = async () => Promise.all(['/announcements', '/'].map(async (url) => [url, (await learner.get(url).expect(200)).text] as const));
    for (const [url, page] of await learnerPages()) expect(page, `the learner's ${url}`).to.contain(title);
    const page = (await staff.get('/announcements').expect(200)).text;
    const id = new RegExp(`${title}[\\s\\S]*?action="/announcements/([a-f0-9]{24})/withdraw"`).exec(page)![1]!;
    expect(page).to.contain('>Withdraw this announcement</button>');
    const token = await tokenFor(staff, '/announcements');
    await staff.post(`/announcements/${id}/withdraw`).type('form').send({ _csrf: token }).expect(303);
    const after = (await staff.get('/announcements').expect(200)).text;
    expect(after).to.not.contain(`/announcements/${id}/withdraw`);
    expect(after, 'the staff list').to.not.contain(title);
    for (const [url, page] of await learnerPages()) expect(page, `the learner's ${url}`).to.not.contain(title);
    await staff
      .post(`/announcements/${id}/withdraw`)
      .type('form')
      .send({ _csrf: await tokenFor(staff, '/announcements') })
      .expect(404);
    await staff
      .post('/announcements/nonsense/withdraw')
      .type('form')
      .send({ _csrf: await tokenFor(staff, '/announcements') })
      .expect(404);
  });

  it('seeds its demo announcements only once', async () => {
    const collection = t.app.olive.connection.collection('announcements_announcement');
    const count = await collection.countDocuments({ title: 'Fellowship Programme 2027 near Oslo: selection results' });
    await t.app.olive.seedDemo();
    expect(await collection.countDocuments({ title: 'Fellowship Programme 2027 near Oslo: selection results' }))
      .to.equal(count)
      .and.equal(1);
  });
});
