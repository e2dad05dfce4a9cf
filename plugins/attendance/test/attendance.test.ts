import { expect } from 'chai';
import supertest from 'supertest';
import { postForm, signIn, tokenFor } from '../../../test/helpers/app.ts';
import { AttendanceRecords } from '../contract.ts';
import { enrol, gridForm, inPersonEdition, postGrid, preEnrol, Rules, startApp, type World } from './setup.ts';

describe('attendance plugin', function () {
  this.timeout(60_000);
  let w: World;
  let edition: string;
  let amal: Awaited<ReturnType<typeof enrol>>;
  let bruno: Awaited<ReturnType<typeof enrol>>;
  let zoe: Awaited<ReturnType<typeof preEnrol>>;
  let trainer: Awaited<ReturnType<typeof signIn>>;
  const page = () => `/attendance/editions/${edition}`;
  const db = () => w.t.app.olive.connection.db!;

  before(async () => {
    w = await startApp('attendance');
    edition = await inPersonEdition(w, 'Mediation Seminar Geneva');
    amal = await enrol(w, edition, 'amal.haddad@example.org', 'Amal Haddad');
    bruno = await enrol(w, edition, 'bruno.costa@example.org', 'Bruno Costa');
    zoe = await preEnrol(w, edition, 'zoe.pre@example.org');
    trainer = await signIn(w.t.app, 'trainer@olive.example');
  });
  after(() => w.t.stop());

  it('gives a dated edition one session per day, and lists everyone enrolled, by name or e-mail', async () => {
    const html = (await w.staff.get(page()).expect(200)).text;
    for (const day of ['2 March 2027', '3 March 2027', '4 March 2027', '5 March 2027', '6 March 2027']) expect(html).to.contain(day);
    expect(html).to.not.contain('1 March 2027');
    expect(html).to.not.contain('7 March 2027');
    expect(html.indexOf('Amal Haddad')).to.be.lessThan(html.indexOf('Bruno Costa'));
    expect(html).to.contain('zoe.pre@example.org');
    expect(html).to.contain('no account yet');
    expect(gridForm(html).s).to.have.length(5);
    expect(html).to.contain('Completion: attending all sessions.');
    expect(Buffer.byteLength(html)).to.be.below(30_000);
    // Opening the page again (or twice at once) makes no second set of sessions.
    await Promise.all([w.staff.get(page()).expect(200), trainer.get(page()).expect(200)]);
    expect(await db().collection('attendance_session').countDocuments({ editionId: edition })).to.equal(5);
  });

  it('saves ticks from the plain form and shows them, with what each person attended', async () => {
    const form = gridForm((await w.staff.get(page()).expect(200)).text);
    // Amal (row 0) at all five, Bruno (row 1) at the first two, Zoé (row 2, no account) at day 1.
    const res = await postGrid(w.staff, edition, form, ['0.0', '0.1', '0.2', '0.3', '0.4', '1.0', '1.1', '2.0']);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(page());
    const html = (await w.staff.get(page()).expect(200)).text;
    expect(html).to.contain('Attendance saved: 8 changes.');
    expect(gridForm(html).checked).to.deep.equal(['0.0', '0.1', '0.2', '0.3', '0.4', '1.0', '1.1', '2.0']);
    expect(html).to.contain('5 of 5 (100 %)');
    expect(html).to.contain('2 of 5 (40 %)');
    expect(html).to.contain('1 of 5 (20 %)');
    expect(html).to.contain('1 of 3 participants qualifies.');
    const mark = await db()
      .collection('attendance_mark')
      .findOne({ _id: `${zoe.enrolmentId}:${form.s[0]}` as never });
    expect(mark).to.include({ present: true, editionId: edition, enrolmentId: zoe.enrolmentId });
  });

  it('keeps the ticks of two people saving at once (each writes the cells it changed)', async () => {
    const staffForm = gridForm((await w.staff.get(page()).expect(200)).text);
    const trainerForm = gridForm((await trainer.get(page()).expect(200)).text);
    const [staffToken, trainerToken] = await Promise.all([tokenFor(w.staff, page()), tokenFor(trainer, page())]);
    // Staff ticks Bruno at day 3; the trainer, from the same page, ticks Zoé at day 2 and unticks Amal at day 5.
    const [a, b] = await Promise.all([
      postGrid(w.staff, edition, staffForm, [...staffForm.checked, '1.2'], staffToken),
      postGrid(trainer, edition, trainerForm, [...trainerForm.checked.filter((c) => c !== '0.4'), '2.1'], trainerToken),
    ]);
    expect([a.status, b.status]).to.deep.equal([303, 303]);
    const html = (await w.staff.get(page()).expect(200)).text;
    expect(gridForm(html).checked).to.deep.equal(['0.0', '0.1', '0.2', '0.3', '1.0', '1.1', '1.2', '2.0', '2.1']);
  });

  it('renames, adds and removes sessions; a session with ticks is removed only when confirmed, and its ticks are kept', async () => {
    const form = gridForm((await w.staff.get(page()).expect(200)).text);
    const [day1, day2] = form.s;
    await postForm(w.staff, `${page()}/sessions/${day2}`, { day: '2027-03-03', title: 'Day 2 morning' }, `${page()}/sessions`, 303);
    await postForm(w.staff, `${page()}/sessions`, { day: '2027-03-03', title: 'Day 2 afternoon' }, `${page()}/sessions`, 303);
    let html = (await w.staff.get(page()).expect(200)).text;
    expect(html).to.contain('Day 2 morning');
    expect(html.indexOf('Day 2 morning')).to.be.lessThan(html.indexOf('Day 2 afternoon'));
    expect(gridForm(html).s).to.have.length(6);

    // Bad input: said in the page, nothing changed.
    const bad = await postForm(w.staff, `${page()}/sessions`, { day: '3 March', title: 'x'.repeat(101) }, `${page()}/sessions`, 400);
    expect(bad.text).to.contain('Enter the day as a date (such as 2026-03-02).');
    expect(bad.text).to.contain('The name is at most 100 characters long.');
    expect(gridForm((await w.staff.get(page()).expect(200)).text).s).to.have.length(6);

    // Day 1 has ticks (Amal, Bruno, Zoé): the first request asks, and changes nothing.
    const asked = await postForm(w.staff, `${page()}/sessions/${day1}/remove`, {}, `${page()}/sessions`, 409);
    expect(asked.text).to.contain('3 participants are ticked present at “2 March 2027”');
    expect(gridForm((await w.staff.get(page()).expect(200)).text).s).to.include(day1);
    await postForm(w.staff, `${page()}/sessions/${day1}/remove`, { confirm: 'on' }, `${page()}/sessions`, 303);
    html = (await w.staff.get(`${page()}/sessions`).expect(200)).text;
    expect(html).to.contain('The session is removed. Its 3 ticks are kept');
    expect(html).to.contain('Removed sessions');
    html = (await w.staff.get(page()).expect(200)).text;
    expect(gridForm(html).s).to.not.include(day1);
    expect(html).to.contain('3 of 5 (60 %)'); // Amal: days 2 to 4 of the five left (day 2 afternoon unticked).
    expect(await db().collection('attendance_mark').countDocuments({ sessionId: day1 })).to.equal(3);

    // A session without ticks goes at once; restoring brings day 1 back with its ticks.
    const afternoon = gridForm(html).s[1]!;
    await postForm(w.staff, `${page()}/sessions/${afternoon}/remove`, {}, `${page()}/sessions`, 303);
    await postForm(w.staff, `${page()}/sessions/${day1}/restore`, {}, `${page()}/sessions`, 303);
    html = (await w.staff.get(page()).expect(200)).text;
    expect(gridForm(html).s).to.deep.equal(form.s);
    expect(gridForm(html).checked).to.include('2.0');
  });

  it('lets staff set the rule (at least N %), shows who qualifies, and gives it to the certificates plugin', async () => {
    const bad = await postForm(w.staff, `${page()}/rule`, { rule: 'percent', percent: '0' }, `${page()}/sessions`, 400);
    expect(bad.text).to.contain('Enter a whole share between 1 and 100 %.');
    const refused = await postForm(trainer, `${page()}/rule`, { rule: 'percent', percent: '50' }, `${page()}/sessions`);
    expect(refused.status).to.equal(403);
    expect((await w.staff.get(page()).expect(200)).text).to.contain('Completion: attending all sessions.');

    await postForm(w.staff, `${page()}/rule`, { rule: 'percent', percent: '60' }, `${page()}/sessions`, 303);
    const html = (await w.staff.get(page()).expect(200)).text;
    expect(html).to.contain('Completion: attending at least 60 % of the sessions.');
    // Amal 4 of 5, Bruno 3 of 5 (60 %): both qualify; Zoé 2 of 5 does not.
    expect(html).to.contain('2 of 3 participants qualify.');

    const [rule] = w.t.app.olive.service(Rules).all();
    expect(rule!.id).to.equal('attendance');
    const done = await rule!.completedOf(edition, [amal.enrolmentId, bruno.enrolmentId, zoe.enrolmentId]);
    expect([...done.keys()].sort()).to.deep.equal([amal.enrolmentId, bruno.enrolmentId].sort());
    // Amal's third session of five was day 3 (4 March); Bruno's third was day 3 as well.
    expect(done.get(amal.enrolmentId)!.toISOString().slice(0, 10)).to.equal('2027-03-04');
    expect(done.get(bruno.enrolmentId)!.toISOString().slice(0, 10)).to.equal('2027-03-04');
    const records = await w.t.app.olive.service(AttendanceRecords).attendanceOf(edition, [zoe.enrolmentId]);
    expect(records[0]).to.include({ attended: 2, sessions: 5, percent: 40, qualifies: false });

    // An edition nobody keeps attendance for completes by no attendance rule.
    const other = await inPersonEdition(w, 'Untouched seminar');
    expect((await rule!.completedOf(other, [])).size).to.equal(0);
  });

  it('imports ticks from a CSV file: preview, then confirm', async () => {
    const csv = ['email,2027-03-05,6 March 2027', 'bruno.costa@example.org,1,x', 'zoe.pre@example.org,,0'].join('\n');
    const up = await w.staff
      .post(`${page()}/import?_csrf=${encodeURIComponent(await tokenFor(w.staff, `${page()}/import`))}`)
      .attach('file', Buffer.from(csv), 'ticks.csv')
      .expect(303);
    const preview = (await w.staff.get(up.headers.location as string).expect(200)).text;
    expect(preview).to.contain('3 ticks will be saved, in 2 rows.');
    expect(preview).to.contain('Present: 5 March 2027 · 6 March 2027');
    expect(preview).to.contain('Absent: 6 March 2027');
    // Nothing is saved before the confirmation.
    let form = gridForm((await w.staff.get(page()).expect(200)).text);
    expect(form.checked).to.not.include('1.3');
    const token = await tokenFor(w.staff, up.headers.location as string);
    await w.staff.post(`${up.headers.location}/commit`).type('form').send({ _csrf: token }).expect(303).expect('location', page());
    const html = (await w.staff.get(page()).expect(200)).text;
    expect(html).to.contain('3 ticks imported.');
    form = gridForm(html);
    expect(form.checked).to.include.members(['1.3', '1.4']);
    expect(form.checked).to.not.include('2.4');

    // The long shape, with headers in French.
    const long = ['courriel;séance;présent', 'zoe.pre@example.org;2027-03-06;oui'].join('\n');
    const up2 = await w.staff
      .post(`${page()}/import?_csrf=${encodeURIComponent(await tokenFor(w.staff, `${page()}/import`))}`)
      .attach('file', Buffer.from(long), 'long.csv')
      .expect(303);
    await w.staff
      .post(`${up2.headers.location}/commit`)
      .type('form')
      .send({ _csrf: await tokenFor(w.staff, up2.headers.location as string) })
      .expect(303);
    expect(gridForm((await w.staff.get(page()).expect(200)).text).checked).to.include('2.4');
  });

  it('reports unknown e-mails and sessions per row, and saves nothing from such a file', async () => {
    const before = await db().collection('attendance_mark').find({ editionId: edition }).sort({ _id: 1 }).toArray();
    const csv = [
      'email,session,present',
      'amal.haddad@example.org,2027-03-02,0',
      'nobody@example.org,2027-03-02,1',
      'bruno.costa@example.org,Day 9,1',
      'bruno.costa@example.org,2027-03-03,maybe',
    ].join('\n');
    const up = await w.staff
      .post(`${page()}/import?_csrf=${encodeURIComponent(await tokenFor(w.staff, `${page()}/import`))}`)
      .attach('file', Buffer.from(csv), 'bad.csv')
      .expect(303);
    const preview = (await w.staff.get(up.headers.location as string).expect(200)).text;
    expect(preview).to.contain('3 rows have problems: nothing can be saved.');
    expect(preview).to.contain('nobody@example.org is not enrolled in this edition.');
    expect(preview).to.contain('“Day 9” is not a session of this edition.');
    expect(preview).to.contain('“maybe” (present) is neither present nor absent: write 1 or 0.');
    expect(preview).to.not.contain('Save these ticks');
    const refused = await w.staff
      .post(`${up.headers.location}/commit`)
      .type('form')
      .send({ _csrf: await tokenFor(w.staff, up.headers.location as string) })
      .expect(409);
    expect(refused.text).to.contain('3 rows of the file have problems: nothing was saved.');

    // A column that is no session: the file is refused as a whole.
    const wide = await w.staff
      .post(`${page()}/import?_csrf=${encodeURIComponent(await tokenFor(w.staff, `${page()}/import`))}`)
      .attach('file', Buffer.from('email,2027-03-02,Excursion\namal.haddad@example.org,1,1\n'), 'wide.csv')
      .expect(400);
    expect(wide.text).to.contain('The column “Excursion” is not a session of this edition.');
    const noEmail = await w.staff
      .post(`${page()}/import?_csrf=${encodeURIComponent(await tokenFor(w.staff, `${page()}/import`))}`)
      .attach('file', Buffer.from('who,2027-03-02\nAmal,1\n'), 'x.csv')
      .expect(400);
    expect(noEmail.text).to.contain('The file has no “email” column.');
    const after = await db().collection('attendance_mark').find({ editionId: edition }).sort({ _id: 1 }).toArray();
    expect(after).to.deep.equal(before);
  });

  it('prints a sign-in sheet and exports the attendance as CSV', async () => {
    const sheet = await w.staff.get(`${page()}/sheet`).expect(200);
    expect(sheet.text).to.contain('<link rel="stylesheet" href="/attendance/print.css">');
    expect(sheet.text).to.contain('Mediation Seminar Geneva');
    expect(sheet.text).to.contain('Amal Haddad');
    expect(sheet.text).to.contain('zoe.pre@example.org');
    expect(sheet.text.match(/<td class="sign"><\/td>/g)).to.have.length(15);
    expect(sheet.text).to.not.contain('site-header');
    await supertest(w.t.app)
      .get('/attendance/print.css')
      .expect(200)
      .expect('content-type', /text\/css/);

    const csv = await w.staff
      .get(`${page()}/attendance.csv`)
      .expect(200)
      .expect('content-type', /text\/csv/);
    const lines = csv.text
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).to.equal('name,email,2 March 2027,Day 2 morning,4 March 2027,5 March 2027,6 March 2027,sessions attended,percent,qualifies');
    expect(lines[1]).to.equal('Amal Haddad,amal.haddad@example.org,1,1,1,1,0,4,80,yes');
    expect(lines[3]).to.equal(',zoe.pre@example.org,1,1,0,0,1,3,60,yes');

    // The export reads back as an import (its extra columns read past), changing nothing.
    const up = await w.staff
      .post(`${page()}/import?_csrf=${encodeURIComponent(await tokenFor(w.staff, `${page()}/import`))}`)
      .attach('file', Buffer.from(csv.text), 'attendance.csv')
      .expect(303);
    expect((await w.staff.get(up.headers.location as string).expect(200)).text).to.contain('15 ticks will be saved, in 3 rows.');
  });

  it('is for staff and the edition’s own trainers: learners, other trainers and strangers are refused', async () => {
    await supertest(w.t.app).get(page()).expect(303);
    await amal.agent.get(page()).expect(403);
    await amal.agent.get(`${page()}/sheet`).expect(403);
    await amal.agent.get(`${page()}/attendance.csv`).expect(403);
    const token = await tokenFor(amal.agent, '/');
    await amal.agent.post(`${page()}/marks`).type('form').send({ _csrf: token, s: 'x', e: 'y', c: '0.0' }).expect(403);

    // A trainer of another edition only.
    await w.t.app.olive.users.create({ email: 'other.trainer@example.org', name: 'Other Trainer', password: 'olive-demo', roles: ['trainer'] }, 'test');
    const other = await signIn(w.t.app, 'other.trainer@example.org');
    const refused = await other.get(page()).expect(403);
    expect(refused.text).to.contain('Only programme staff and the edition&#39;s trainers keep its attendance.');
    const before = await db().collection('attendance_mark').countDocuments({ editionId: edition });
    const form = gridForm((await w.staff.get(page()).expect(200)).text);
    const res = await postGrid(other, edition, form, [], await tokenFor(other, '/'));
    expect(res.status).to.equal(403);
    expect(await db().collection('attendance_mark').countDocuments({ editionId: edition })).to.equal(before);

    await w.staff.get('/attendance/editions/000000000000000000000000').expect(404);
    const selfPaced = (await db().collection('enrolment_edition').findOne({ selfPaced: true }))!;
    const answer = await w.staff.get(`/attendance/editions/${selfPaced._id}`).expect(409);
    expect(answer.text).to.contain('A self-paced edition has no sessions to attend.');
  });

  it("is linked from a dated edition's manage page, not from a self-paced one's", async () => {
    const link = `<a href="${page()}">Attendance</a>`;
    expect((await w.staff.get(`/enrolment/manage/editions/${edition}`).expect(200)).text).to.contain(link);
    const selfPaced = (await db().collection('enrolment_edition').findOne({ selfPaced: true }))!;
    const html = (await w.staff.get(`/enrolment/manage/editions/${selfPaced._id}`).expect(200)).text;
    expect(html).to.contain('/roster"');
    expect(html).to.not.contain('/attendance/editions/');
  });

  it('refuses a grid form that was tampered with, and changes nothing', async () => {
    const form = gridForm((await w.staff.get(page()).expect(200)).text);
    const before = await db().collection('attendance_mark').find({ editionId: edition }).sort({ _id: 1 }).toArray();
    const res = await postGrid(w.staff, edition, form, ['9.9']);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('The attendance form could not be read: open the page again.');
    expect(await db().collection('attendance_mark').find({ editionId: edition }).sort({ _id: 1 }).toArray()).to.deep.equal(before);
  });

  it('seeds the demo in-person edition: sessions per day, ticks, an 80 % rule, one participant below it; seeding again changes nothing', async () => {
    const demo = (await db().collection('enrolment_edition').findOne({ place: 'Addis Ababa, Ethiopia' }))!;
    const demoPage = `/attendance/editions/${demo._id}`;
    const html = (await w.staff.get(demoPage).expect(200)).text;
    expect(html).to.contain('Completion: attending at least 80 % of the sessions.');
    expect(gridForm(html).s).to.have.length(12);
    expect(html).to.contain('13 of 14 participants qualify.');
    // Pre-enrolled without an account: the imported profile's name, and the badge saying so.
    expect(html).to.match(/<bdi>Chipo Moyo<\/bdi> <span class="badge">no account yet<\/span>/);
    expect(html).to.match(/<bdi>Joseph Mwangi<\/bdi><\/th>/);
    const marks = await db()
      .collection('attendance_mark')
      .countDocuments({ editionId: String(demo._id) });
    expect(marks).to.equal(14 * 12);
    await w.t.app.olive.seedDemo();
    expect(
      await db()
        .collection('attendance_mark')
        .countDocuments({ editionId: String(demo._id) }),
    ).to.equal(marks);
    expect(
      await db()
        .collection('attendance_session')
        .countDocuments({ editionId: String(demo._id) }),
    ).to.equal(12);
    expect((await w.staff.get(demoPage).expect(200)).text).to.contain('13 of 14 participants qualify.');
  });

  it('shows a large cohort in pages of as many people as keep the page light; saving a page writes its people only, and comes back to it', async () => {
    const big = await inPersonEdition(w, 'Fellowship of fourteen days', { startsAt: '2027-06-07', endsAt: '2027-06-20' });
    const people = [];
    for (let i = 0; i < 25; i++) people.push(await preEnrol(w, big, `fellow${String(i).padStart(2, '0')}@example.org`));
    const url = `/attendance/editions/${big}`;
    // 14 sessions: 240 boxes a page hold 17 people.
    const first = (await w.staff.get(url).expect(200)).text;
    const firstForm = gridForm(first);
    expect(firstForm.s).to.have.length(14);
    expect(firstForm.e).to.have.length(17);
    expect(first).to.contain('Participants 1–17 of 25');
    expect(first).to.contain(`href="${url}?page=2" rel="next"`);
    expect(first).to.contain('0 of 25 participants qualify.');
    expect(Buffer.byteLength(first), 'a page of the grid').to.be.below(30_000);

    const second = (await w.staff.get(`${url}?page=2`).expect(200)).text;
    const secondForm = gridForm(second);
    expect(secondForm.e).to.have.length(8);
    expect(secondForm.e).to.not.include.members(firstForm.e);
    expect(second).to.contain('Participants 18–25 of 25');
    // The first person of page two at every session: they qualify, nobody on page one changes.
    const res = await postGrid(
      w.staff,
      big,
      secondForm,
      Array.from({ length: 14 }, (_, j) => `0.${j}`),
    );
    expect(res.headers.location).to.equal(`${url}?page=2`);
    const after = (await w.staff.get(`${url}?page=2`).expect(200)).text;
    expect(gridForm(after).checked).to.have.length(14);
    expect(after).to.contain('1 of 25 participants qualifies.');
    expect(gridForm((await w.staff.get(url).expect(200)).text).checked).to.deep.equal([]);
    const marks = await db().collection('attendance_mark').find({ editionId: big, present: true }).toArray();
    expect(new Set(marks.map((m) => m.enrolmentId))).to.deep.equal(new Set([secondForm.e[0]]));
    expect(people.map((p) => p.enrolmentId)).to.include(secondForm.e[0]);
    // A page past the last, or no number, shows a page that exists.
    expect(gridForm((await w.staff.get(`${url}?page=9`).expect(200)).text).e).to.deep.equal(secondForm.e);
    expect(gridForm((await w.staff.get(`${url}?page=x`).expect(200)).text).e).to.deep.equal(firstForm.e);
  });
});
