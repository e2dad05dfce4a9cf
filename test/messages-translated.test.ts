/**
 * Messages that the code raises (a schema's, a service's refusal, the host's own for an expired
 * form or an oversized body) reach a French reader in French, through real requests; JSON clients
 * keep the English words. The words come from the catalogues: this file checks a representative
 * set of them, not every one (test/catalogues.test.ts checks the catalogues themselves).
 */
import { expect } from 'chai';
import supertest from 'supertest';
import oliveConfig from '../olive.config.ts';
import { form } from '../plugins/courses/test/forms.ts';
import { createTestApp, csrfFrom, DEMO_PASSWORD, postForm, signIn, tokenFor, type TestApp } from './helpers/app.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

/** A signed-in person who chose French (saved on their account, as the switcher does). */
async function inFrench(t: TestApp, email: string): Promise<Agent> {
  const agent = await signIn(t.app, email);
  await postForm(agent, '/language', { lang: 'fr', returnTo: '/' }, '/', 303);
  return agent;
}

/** The messages a page shows by its fields and at its top, as text. */
const shownErrors = (html: string) =>
  [...html.matchAll(/class="(?:field-error|flash flash-error)"[^>]*>([\s\S]*?)<\/(?:p|div|span)>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ' ').trim());

describe('messages raised in code reach the reader in their language', function () {
  this.timeout(60_000);
  let t: TestApp;

  before(async () => {
    t = await createTestApp({ plugins: oliveConfig.plugins, pluginConfig: oliveConfig.pluginConfig, seed: true, label: 'messages' });
  });
  after(async () => {
    await t?.stop();
  });

  describe('the host', () => {
    it('a schema’s messages (a too-short new password, the two that differ) are in French on the form, in English for JSON', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const res = await postForm(staff, '/account/password', { current: DEMO_PASSWORD, password: 'short', confirm: 'other' }, '/account', 400);
      expect(shownErrors(res.text)).to.include.members(['Utilisez au moins 10 caractères.', 'Les deux nouveaux mots de passe diffèrent.']);
      expect(res.text).not.to.contain('Use at least');
      expect(res.text).not.to.contain('account.');

      const json = await staff
        .post('/account/password')
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(staff, '/account'))
        .send({ current: DEMO_PASSWORD, password: 'short', confirm: 'other' })
        .expect(400);
      expect(json.body.error).to.deep.equal({
        code: 'VALIDATION_FAILED',
        message: 'Some fields need attention.',
        details: { fields: { password: 'Use at least 10 characters.', confirm: 'The two new passwords differ.' } },
      });
    });

    it('a check the schema names no message for (a limit alone) is said by the host, with the limit', async () => {
      const admin = await inFrench(t, 'admin@olive.example');
      const page = await admin.get('/admin/users').expect(200);
      const requestKey = /name="requestKey" value="([^"]+)"/.exec(page.text)![1]!;
      const res = await admin
        .post('/admin/users')
        .type('form')
        .send({ _csrf: csrfFrom(page.text), requestKey, name: 'x'.repeat(201), email: 'not an address', roles: 'learner', invite: 'on' })
        .expect(400);
      expect(shownErrors(res.text)).to.include.members(['Utilisez au plus 200 caractères.', 'Saisissez une adresse électronique valide.']);
    });

    it('a wrong current password (a check made after the schema) is in French', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const res = await postForm(
        staff,
        '/account/password',
        { current: 'not the password', password: 'a-long-enough-one', confirm: 'a-long-enough-one' },
        '/account',
        400,
      );
      expect(shownErrors(res.text)).to.include('Le mot de passe actuel est incorrect.');
    });

    it('an expired or forged form (CSRF) is refused in the visitor’s language', async () => {
      const res = await supertest(t.app).post('/language').set('Accept-Language', 'fr').type('form').send({ lang: 'en' }).expect(403);
      expect(res.text).to.contain('Ce formulaire a expiré ou n’a pas été envoyé depuis ce site.');
      expect(res.text).not.to.contain('This form has expired');
    });

    it('an oversized body, refused before the page machinery runs, is still said in the visitor’s language', async () => {
      const res = await supertest(t.app)
        .post('/login')
        .set('Accept-Language', 'fr')
        .type('form')
        .send(`email=a%40b.example&password=${'x'.repeat(201 * 1024)}`)
        .expect(413);
      expect(res.text).to.contain('La demande est trop volumineuse.');
      expect(res.text).to.contain('<html lang="fr"');
      const json = await supertest(t.app)
        .post('/login')
        .set('Accept-Language', 'fr')
        .set('Accept', 'application/json')
        .send({ email: 'x'.repeat(201 * 1024) })
        .expect(413);
      expect(json.body.error.message).to.equal('The request is too large.');
    });

    it('the default words of a missing page and of a refused one are in French', async () => {
      const missing = await supertest(t.app).get('/no-such-page').set('Accept-Language', 'fr').expect(404);
      expect(missing.text).to.contain('Nous n’avons pas trouvé cette page.');
      const learner = await inFrench(t, 'learner@olive.example');
      const refused = await learner.get('/admin/users').expect(403);
      expect(refused.text).to.contain('Vous n’avez pas l’autorisation de faire cela.');
      expect(refused.text).not.to.contain('You do not have permission');
    });
  });

  describe('the plugins', () => {
    it('announcements: a schema’s messages, with their limit, are in French', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const res = await postForm(staff, '/announcements', { title: 'ab', body: '', audience: 'nobody' }, '/announcements/new', 400);
      expect(shownErrors(res.text)).to.include.members(['Écrivez un titre d’au moins 3 caractères.', 'Écrivez l’annonce.', 'Choisissez qui doit la voir.']);
    });

    it('certificates: a name the fonts cannot print is refused in French, naming the characters; a missing name too', async () => {
      const learner = await inFrench(t, 'learner@olive.example');
      const res = await postForm(learner, '/certificates/name', { name: 'Leila \u{12000}', nameAlt: ' ' }, '/certificates/name', 400);
      expect(shownErrors(res.text)).to.include(
        'Ces caractères ne peuvent pas être imprimés sur un certificat : \u{12000}. Écrivez le nom sans eux, ou dans une autre écriture.',
      );
      const empty = await postForm(learner, '/certificates/name', { name: '' }, '/certificates/name', 400);
      expect(shownErrors(empty.text)).to.include('Écrivez le nom tel qu’il doit être imprimé.');
    });

    it('enrolment: the edition form’s own checks and its refinements are in French, with their limits', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const db = t.app.olive.connection.db!;
      const course = (await db.collection('courses_course').findOne({ status: 'published' }))!;
      const post = (fields: Record<string, string>) =>
        postForm(
          staff,
          '/enrolment/manage/editions',
          {
            courseId: String(course._id),
            title: 'Session de test',
            language: 'fr',
            method: 'key',
            enrolmentKey: 'abc',
            status: 'published',
            startsAt: '2026-02-10',
            endsAt: '2026-01-10',
            ...fields,
          },
          '/enrolment/manage/editions/new',
          400,
        );
      // The fields' own checks first (a schema's refinements wait until its fields are valid)…
      const fields = await post({ title: 'ab', capacity: '1.5' });
      expect(shownErrors(fields.text)).to.include.members([
        'Donnez un titre à la session, par exemple « Bourse 2027, Holmenkollen ».',
        'Un nombre entier de places, s’il vous plaît.',
      ]);
      expect(fields.text).not.to.contain('Give the edition a title');
      // …then the checks of fields together.
      const together = await post({});
      expect(shownErrors(together.text)).to.include.members([
        'La fin ne peut pas précéder le début.',
        'Indiquez où elle a lieu, ou cochez « En ligne ».',
        'Utilisez au moins 6 caractères, pour que la clé ne puisse pas être devinée.',
      ]);
    });

    it('enrolment: a report asked for with a wrong year says so in French on the error page', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const res = await staff.get('/enrolment/reports?year=soon').expect(400);
      expect(res.text).to.contain('Choisissez une année dans la liste.');
      const json = await staff.get('/enrolment/reports?year=soon').set('Accept', 'application/json').expect(400);
      expect(json.body.error.message).to.equal('Choose a year from the list.');
    });

    it('courses: publishing an empty course is refused in French (a service’s refusal); JSON keeps the English words', async () => {
      const trainer = await inFrench(t, 'trainer@olive.example');
      await form(trainer, '/courses/manage', { slug: 'cours-vide', languages: 'fr', title_fr: 'Cours vide', hours: '2' }, 303);
      const refused = await form(trainer, '/courses/manage/cours-vide/status', { status: 'published' }, 409);
      expect(shownErrors(refused.text)).to.include('Ajoutez au moins un module avec du contenu avant de publier.');
      expect(refused.text).not.to.contain('Add at least one module');
      const json = await trainer
        .post('/courses/manage/cours-vide/status')
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(trainer, '/courses/manage'))
        .send({ status: 'published' })
        .expect(409);
      expect(json.body.error).to.deep.equal({ code: 'COURSE_EMPTY', message: 'Add at least one module with content before publishing.' });
    });

    it('courses: a quiz’s problems are listed in French with their line numbers', async () => {
      const trainer = await inFrench(t, 'trainer@olive.example');
      await form(trainer, '/courses/manage', { slug: 'cours-quiz', languages: 'fr', title_fr: 'Cours avec quiz', hours: '2' }, 303);
      const module = await form(trainer, '/courses/manage/cours-quiz/modules', { title_fr: 'Module 1' }, 303);
      const res = await form(
        trainer,
        `${module.headers.location as string}/items`,
        { type: 'quiz', title_fr: 'Quiz', questions_fr: '? Q\n- a\n- b\n\n? R\n+ c\n+ c', passMark: '50', maxAttempts: '0' },
        400,
      );
      const shown = shownErrors(res.text).join(' ');
      expect(shown).to.contain('Ligne 1 : Cette question n’a aucune option juste : marquez-en au moins une avec « + ».');
      expect(shown).to.contain('Ligne 7 : Cette option répète celle de la ligne 6.');
      expect(shown).not.to.contain('This question');
    });

    it('certificates: an image over the size limit in a template form is refused in French, with the limits', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const token = await tokenFor(staff, '/certificates/templates/new');
      const fields: Record<string, string> = {
        name: 'Modèle trop lourd',
        'page.size': 'A4',
        'page.orientation': 'landscape',
        'languages.0.lang': 'fr',
        'languages.0.title': 'Certificat',
        'languages.0.wording': 'Ceci certifie que\n{name}',
        'signatories.0.name': 'Elena Marchetti',
        'signatories.0.title.0': 'Directrice',
      };
      let req = staff.post(`/certificates/templates?_csrf=${encodeURIComponent(token)}`);
      for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
      const res = await req.attach('logos.programme', Buffer.alloc(600 * 1024, 1), 'logo.png').expect(400);
      expect(res.text).to.contain('logo.png dépasse la limite de 512 Ko pour les images (il fait 600 Ko) : réduisez-le.');
      expect(res.text).not.to.contain('is larger than');
    });

    it('certificates: a bulk issuance with nobody to issue to is refused in French on the edition’s page', async () => {
      const staff = await inFrench(t, 'staff@olive.example');
      const db = t.app.olive.connection.db!;
      const edition = (await db.collection('enrolment_edition').findOne({ status: 'published' }))!;
      const page = `/certificates/editions/${String(edition._id)}`;
      const res = await postForm(staff, `${page}/jobs`, { scope: 'chosen' }, page, 303);
      expect(res.headers.location).to.equal(page);
      const shown = await staff.get(page).expect(200);
      expect(shown.text).to.contain('Cochez les personnes qui doivent recevoir un certificat.');
    });
  });
});
