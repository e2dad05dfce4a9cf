import { expect } from 'chai';
import { signedInPage, useBrowserApp } from '../../../test/helpers/browser.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';

describe('enrolment in a real browser', function () {
  this.timeout(90_000);
  const env = useBrowserApp({ plugins: [courses, enrolment], label: 'enrolment_e2e' });

  const signedIn = (email: string) => signedInPage(env.browser, env.url, email);

  it('staff open an application edition, a learner applies, staff accept, the learner starts the course', async () => {
    // ---- Staff create the edition through the form -------------------------------------------------
    const staff = await signedIn('staff@olive.example');
    await staff.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Editions', exact: true }).click();
    await staff.getByRole('link', { name: 'New edition' }).click();
    await staff.getByLabel('Course', { exact: true }).selectOption({ label: 'Conflict Analysis' });
    await staff.getByLabel('Title of the edition').fill('Fellowship 2027, Holmenkollen');
    await staff.getByLabel('Starts').fill('2027-06-01');
    await staff.getByLabel('Ends', { exact: true }).fill('2099-06-14');
    await staff.getByLabel('Place (city, venue)').fill('Oslo, Holmenkollen Park');
    await staff.getByLabel('How people get in').selectOption('application');
    await staff.getByLabel('Seats').fill('12');
    await staff.getByLabel('Application questions').fill('* Describe a peace process you have worked on.');
    await staff.getByLabel('Status').selectOption('published');
    await staff.getByRole('button', { name: 'Create the edition' }).click();
    await staff.waitForURL(/\/enrolment\/manage\/editions\/[0-9a-f]{24}$/);
    const editionUrl = staff.url();
    expect(await staff.getByRole('heading', { level: 1 }).textContent()).to.equal('Fellowship 2027, Holmenkollen');

    // ---- A learner finds it from the course and applies --------------------------------------------
    const learner = await signedIn('tenzin.dorje@olive.example');
    await learner.goto(`${env.url}/courses/conflict-analysis`);
    await learner.getByRole('link', { name: 'See the editions and enrol' }).click();
    await learner.waitForURL(`${env.url}/enrolment/courses/conflict-analysis`);
    await learner.locator('li.card').filter({ hasText: 'Fellowship 2027, Holmenkollen' }).getByRole('link', { name: 'Apply' }).click();
    await learner.getByLabel('Why do you apply?').fill('I support a national dialogue process and want to design its mediation structures well.');
    await learner.getByLabel('Describe a peace process you have worked on.').fill('The 2024 national dialogue on land and water rights.');
    await learner.getByLabel('Kind of organisation').selectOption('civil-society');
    await learner.getByLabel('Country').selectOption({ label: 'Nepal' });
    await learner.getByLabel('Gender').selectOption('man');
    await learner.getByRole('button', { name: 'Send my application' }).click();
    expect(await learner.getByRole('status').allTextContents()).to.deep.include('Your application is sent. You will find the decision under My learning.');
    expect(await learner.locator('.badge').first().textContent()).to.equal('Application under review');

    // ---- Staff accept it with a message --------------------------------------------------------------
    await staff.goto(editionUrl);
    const card = staff.locator('article.card').filter({ hasText: 'The 2024 national dialogue' });
    await card.getByLabel('Message to the person (optional)').fill('Welcome to the Fellowship!');
    await card.getByRole('button', { name: 'Accept' }).click();
    await staff.waitForURL(editionUrl);
    expect(await staff.getByRole('heading', { name: /applications? to decide/ }).textContent()).to.equal('0 applications to decide');

    // ---- The learner is in -------------------------------------------------------------------------
    await learner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My learning', exact: true }).click();
    await learner.waitForURL(`${env.url}/enrolment/my`);
    const current = learner.locator('section', { has: learner.getByRole('heading', { name: 'My courses' }) });
    expect(await current.getByRole('link', { name: 'Conflict Analysis' }).count()).to.equal(1);
    // The staff's message comes with the place.
    expect(await current.getByText('Message from the programme team: Welcome to the Fellowship!').count()).to.equal(1);
    await current.getByRole('link', { name: 'Conflict Analysis' }).click();
    await learner.waitForURL(`${env.url}/courses/conflict-analysis`);
    // The edition starts in June 2027: until then its material is closed, and the outline says when it opens.
    expect(await learner.locator('.flash-info').textContent()).to.equal('The material of this course opens on 1 June 2027.');
    const modules = learner.locator('a[href^="/courses/conflict-analysis/modules/"]');
    expect(await modules.count()).to.equal(0);
  });
});
