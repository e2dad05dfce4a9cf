/**
 * Questions to an edition's trainers: only its participants ask (length checked), only its
 * trainers and staff answer, the asker reads the answer on the edition's page and is told by mail.
 */
import { expect } from 'chai';
import { createDemoPasswordUser, createTestApp, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import { inbox, mailTestEnv } from '../../../test/helpers/mail.ts';
import courses from '../../courses/index.ts';
import enrolment from '../../enrolment/index.ts';
import { postEdition } from '../../enrolment/test/import-pages.ts';
import questions from '../index.ts';

describe('questions to an edition’s trainers', function () {
  this.timeout(120_000);
  let t: TestApp;
  let editionId: string;
  let mailbox: ReturnType<typeof inbox>;

  before(async () => {
    const env = mailTestEnv({ BASE_URL: 'http://learn.example.org' });
    mailbox = inbox(env.MAIL_FROM);
    t = await createTestApp({ plugins: [courses, enrolment, questions], seed: true, label: 'questions', env, pluginConfig: { questions: { perHour: 3 } } });
    const staff = await signIn(t.app, 'staff@olive.example');
    const Course = t.app.olive.connection.model('courses_course');
    const courseId = String(((await Course.findOne({ slug: 'conflict-analysis' }).lean()) as { _id: unknown })._id);
    const trainerId = (await t.app.olive.users.findByEmail('trainer@olive.example'))!.id;
    editionId = await postEdition(staff, {
      courseId,
      title: 'Cohort with questions',
      language: 'en',
      method: 'open',
      status: 'published',
      online: 'on',
      startsAt: '2026-01-10',
      endsAt: '2099-12-31',
      trainerIds: trainerId,
    });
  });
  after(() => t.stop());

  it('lets a participant ask, the trainer answer, and the participant read the answer', async () => {
    await createDemoPasswordUser(t.app, { email: 'asker@example.org', name: 'Asker Person' });
    await createDemoPasswordUser(t.app, { email: 'stranger@example.org', name: 'Stranger Person' });
    const asker = await signIn(t.app, 'asker@example.org');
    const stranger = await signIn(t.app, 'stranger@example.org');
    const page = `/enrolment/editions/${editionId}`;
    const trainer = await signIn(t.app, 'trainer@olive.example');
    expect((await trainer.get(page).expect(200)).text, 'before anyone asks').to.contain('No one has asked a question yet.');

    // Not enrolled: no form, and a post is refused.
    expect((await stranger.get(page).expect(200)).text).to.not.contain('Send the question');
    expect((await postForm(stranger, `/questions/editions/${editionId}`, { text: 'Can I join the Monday session?' }, page)).status).to.equal(403);

    await postForm(asker, `/enrolment/editions/${editionId}/enrol`, {}, page, 303);
    expect((await asker.get(page).expect(200)).text).to.contain('Send the question');
    const short = await postForm(asker, `/questions/editions/${editionId}`, { text: 'Why?' }, page);
    expect(short.status).to.equal(400);
    expect(short.text).to.contain('Write a question of at least 10 characters.');
    expect(short.text).to.contain('>Why?</textarea>');
    const long = await postForm(asker, `/questions/editions/${editionId}`, { text: 'x'.repeat(2001) }, page);
    expect(long.status).to.equal(400);
    expect(long.text).to.contain('Keep the question under 2000 characters.');
    const sent = await postForm(asker, `/questions/editions/${editionId}`, { text: 'Where do we find the case for week two?' }, page);
    expect(sent.status).to.equal(303);
    expect((await asker.get(page).expect(200)).text).to.contain('Waiting for an answer');

    // Runners see the count; another trainer and the stranger may not read or answer.
    expect((await trainer.get(page).expect(200)).text).to.contain('1 question waiting for an answer.');
    const home = (await trainer.get('/').expect(200)).text;
    expect(home).to.contain('Questions waiting for your answer');
    expect(home).to.contain('(1 question waiting)');
    expect(home).to.contain(`href="/questions/editions/${editionId}"`);
    await createDemoPasswordUser(t.app, { email: 'other-trainer@example.org', name: 'Other Trainer', roles: ['trainer'] });
    const other = await signIn(t.app, 'other-trainer@example.org');
    await other.get(`/questions/editions/${editionId}`).expect(403);
    await stranger.get(`/questions/editions/${editionId}`).expect(403);

    const list = (await trainer.get(`/questions/editions/${editionId}`).expect(200)).text;
    expect(list).to.contain('Where do we find the case for week two?');
    const id = /\/questions\/editions\/[0-9a-f]{24}\/([0-9a-f]{24})\/answer/.exec(list)![1]!;
    const answerUrl = `/questions/editions/${editionId}/${id}/answer`;
    expect((await postForm(other, answerUrl, { answer: 'Not mine to answer' }, '/')).status).to.equal(403);
    const empty = await postForm(trainer, answerUrl, { answer: '  ' }, `/questions/editions/${editionId}`);
    expect(empty.status).to.equal(400);
    expect(empty.text).to.contain('Write the answer.');
    const answered = await postForm(trainer, answerUrl, { answer: 'It is in module two, under “Readings”.' }, `/questions/editions/${editionId}`);
    expect(answered.status).to.equal(303);
    const settled = (await trainer.get(page).expect(200)).text;
    expect(settled).to.contain('Every question has been answered.');
    expect(settled).not.to.contain('0 questions');
    const listAfter = (await trainer.get(`/questions/editions/${editionId}`).expect(200)).text;
    expect(listAfter).to.contain('<h2>Every question has been answered.</h2>');

    const after = (await asker.get(page).expect(200)).text;
    expect(after).to.contain('It is in module two, under “Readings”.');
    expect(after).to.contain('Answer by Dr. Rafael Montoya');
    const [mail] = await mailbox.waitFor((m) => m.To.some((r) => r.Address === 'asker@example.org'));
    expect(mail!.Subject).to.equal('Cohort with questions: your question has an answer');
    expect((await mailbox.read(mail!.ID)).Text).to.not.contain('module two');
  });

  it('seeds a demo question with its answer, once', async () => {
    const Question = t.app.olive.connection.model('questions_question');
    await t.app.olive.seedDemo();
    const demo = (await Question.find({ text: /stakeholder map/ }).lean()) as { answer?: string }[];
    expect(demo).to.have.length(1);
    expect(demo[0]!.answer).to.contain('Neighbouring States');
  });

  it('limits how many questions one person sends in an hour', async () => {
    const asker = await signIn(t.app, 'asker@example.org');
    const page = `/enrolment/editions/${editionId}`;
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await postForm(asker, `/questions/editions/${editionId}`, { text: `Another question number ${i}` }, page)).status);
    expect(statuses).to.include(429);
  });
});
