import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createTestApp, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import type { PersonDoc } from '../models/person.model.ts';
import { editionTitle } from '../seed.ts';

const FIXTURES = path.resolve('fixtures/enrolment');
const people = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'people.json'), 'utf8')).people as {
  email: string;
  account: boolean;
  givenName: string;
  familyName: string;
}[];
const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'editions.json'), 'utf8')) as {
  staff: string;
  editions: {
    course: string;
    title: string;
    startsInDays?: number;
    capacity: number | null;
    participants: { email: string; status: string; modulesDone?: number | 'all' }[];
  }[];
};

describe('enrolment: demo programme (seed)', function () {
  this.timeout(120000);
  // One seeded demo for the whole file (each seed is several seconds of work): the tests read it,
  // seed it again expecting no change, and try fixtures with mistakes expecting nothing written.
  let t: TestApp;
  let seedMs = 0;
  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], label: 'enrol_seed' });
    const t0 = Date.now();
    await t.app.olive.seedDemo();
    seedMs = Date.now() - t0;
  });
  after(async () => {
    await t?.stop();
  });

  describe('through the plugin’s own seed hook', () => {
    const Edition = () => t.app.olive.connection.model<EditionDoc>('enrolment_edition');
    const Enrolment = () => t.app.olive.connection.model<EnrolmentDoc>('enrolment_enrolment');
    const Person = () => t.app.olive.connection.model<PersonDoc>('enrolment_person');

    it('adds every demo edition, published, with its title’s year filled in and dates relative to today', async () => {
      const editions = await Edition().find({}).lean();
      expect(editions.map((e) => e.title).sort()).to.deep.equal(fixture.editions.map((e) => editionTitle(e)).sort());
      for (const e of editions) {
        expect(e.status).to.equal('published');
        expect(e.title).to.not.include('{year}');
      }
      const fellowship = editions.find((e) => e.method === 'application')!;
      expect(fellowship.enrolmentDeadline!.getTime()).to.be.greaterThan(Date.now());
      expect(fellowship.capacity).to.equal(12);
      expect(fellowship.contactEmail).to.equal('fellowship@olive.example');
      const past = editions.find((e) => e.method === 'invitation')!;
      expect(past.endsAt!.getTime()).to.be.lessThan(Date.now());
      expect(editions.find((e) => e.method === 'open')).to.include({ selfPaced: true, capacity: null });
    });

    it('puts every person of the fixture in the status it says, the waiting list in the fixture’s order', async () => {
      for (const entry of fixture.editions) {
        const edition = await Edition()
          .findOne({ title: editionTitle(entry) })
          .lean();
        const list = await Enrolment().find({ editionId: edition!._id.toString() }).lean();
        const actual = Object.fromEntries(list.map((e) => [e.email, e.status]));
        expect(actual, entry.title).to.deep.equal(Object.fromEntries(entry.participants.map((p) => [p.email, p.status])));
        const waiting = list
          .filter((e) => e.status === 'waitlisted')
          .sort((a, b) => a.waitlistedAt!.getTime() - b.waitlistedAt!.getTime())
          .map((e) => e.email);
        expect(waiting).to.deep.equal(entry.participants.filter((p) => p.status === 'waitlisted').map((p) => p.email));
        if (entry.capacity !== null) {
          const seats = await t.app.olive.connection.db!.collection('enrolment_seat').countDocuments({ editionId: edition!._id.toString() });
          expect(seats, `${entry.title}: seats held`).to.equal(entry.participants.filter((p) => p.status === 'enrolled').length);
        }
      }
    });

    it('makes learner@olive.example’s “My learning” real: enrolled in two editions, pending in the Fellowship', async () => {
      const mine = await Enrolment().find({ email: 'learner@olive.example' }).lean();
      const learner = await t.app.olive.users.findByEmail('learner@olive.example');
      expect(mine.map((e) => e.status).sort()).to.deep.equal(['enrolled', 'enrolled', 'pending']);
      for (const e of mine) expect(e.userId).to.equal(learner!.id);
      const pending = mine.find((e) => e.status === 'pending')!;
      expect((await Edition().findById(pending.editionId).lean())!.title).to.match(/^Fellowship Programme in Peacemaking and Preventive Diplomacy \d{4}$/);
      expect(pending.motivation).to.match(/water sharing/);
      expect(pending.answers.map((a) => a.questionId)).to.include('role');
    });

    it('creates accounts without a password for people with one, and only profiles for the pre-enrolled', async () => {
      const db = t.app.olive.connection.db!;
      for (const p of people) {
        const user = await t.app.olive.users.findByEmail(p.email);
        const profile = await Person().findById(p.email).lean();
        expect(profile, p.email).to.include({ givenName: p.givenName, familyName: p.familyName });
        if (p.account) {
          expect(user, p.email).to.not.equal(null);
          expect(profile!.userId).to.equal(user!.id);
        } else {
          expect(user, p.email).to.equal(null);
          expect(profile!.userId).to.equal(undefined);
          for (const e of await Enrolment().find({ email: p.email }).lean()) expect(e.userId).to.equal(undefined);
        }
      }
      // Demo participants are roster content: no password, so nobody can sign in as them.
      const mwangi = await t.app.olive.users.findByEmail('kwame.asante@mfa-gh.example');
      expect(await db.collection('host_credentials').countDocuments({ _id: mwangi!.id as never })).to.equal(0);
    });

    it('is fast, and a second seed adds nothing and changes nothing', async () => {
      expect(seedMs, `the whole demo seeded in ${seedMs} ms`).to.be.lessThan(15000);
      const snapshot = async () => ({
        editions: (await Edition().find({}).lean()).map((e) => `${e.title} ${e.updatedAt.toISOString()}`).sort(),
        enrolments: (await Enrolment().find({}).lean()).map((e) => `${e.email} ${e.editionId} ${e.status} ${e.updatedAt.toISOString()}`).sort(),
        people: await Person().countDocuments({}),
        users: await t.app.olive.connection.db!.collection('host_users').countDocuments({}),
      });
      const before = await snapshot();
      const t0 = Date.now();
      await t.app.olive.seedDemo();
      expect(Date.now() - t0).to.be.lessThan(5000);
      expect(await snapshot()).to.deep.equal(before);
    });
  });

  describe('with progress', () => {
    it('seeds the whole demo, progress included, in a few seconds', () => {
      // Host accounts, three courses with their material, four editions, 39 people, about 170 items done.
      expect(seedMs, `seeded in ${seedMs} ms`).to.be.lessThan(15000);
      console.log(`      (demo programme with progress seeded in ${seedMs} ms)`);
    });

    it('records each person’s modules in course order, completing the course for “all”', async () => {
      const Edition = t.app.olive.connection.model<EditionDoc>('enrolment_edition');
      for (const entry of fixture.editions) {
        const edition = (await Edition.findOne({ title: editionTitle(entry) }).lean())!;
        const course = await t.app.olive.connection.db!.collection('courses_course').findOne({ slug: entry.course });
        const modules = await t.app.olive.connection.db!.collection('courses_module').find({ courseId: course!._id }).sort({ position: 1 }).toArray();
        const done = await t.app.olive.connection.db!.collection('courses_module_progress').find({ editionId: edition._id.toString() }).toArray();
        const completions = await t.app.olive.connection.db!.collection('courses_course_completion').find({ editionId: edition._id.toString() }).toArray();
        for (const p of entry.participants) {
          const user = await t.app.olive.users.findByEmail(p.email);
          const expected = p.modulesDone === 'all' ? modules.length : (p.modulesDone ?? 0);
          const mine = user
            ? done
                .filter((d) => d.learnerId === user.id)
                .map((d) => d.moduleId)
                .sort()
            : [];
          expect(mine, `${entry.title}: ${p.email}`).to.deep.equal(
            modules
              .slice(0, expected)
              .map((m) => m._id.toString())
              .sort(),
          );
          expect(
            completions.some((c) => c.learnerId === user?.id),
            `${p.email} completed`,
          ).to.equal(expected === modules.length && expected > 0);
        }
      }
    });
  });

  describe('a fixture with mistakes', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-bad-fixtures-'));
    });
    after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /**
     * Seeds the test's database again with the demo fixtures, enrolment's files replaced by
     * `files`: the shipped plugins, through the seed's own path (a fixtures folder of the test's).
     */
    async function seedWith(files: Record<string, unknown>): Promise<string> {
      const fixtures = path.join(dir, String(fs.readdirSync(dir).length));
      fs.cpSync(path.resolve('fixtures'), fixtures, { recursive: true });
      for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(fixtures, 'enrolment', file), JSON.stringify(content));
      const again = await createTestApp({ plugins: [courses, enrolment], dbName: t.dbName, fixturesDir: fixtures });
      try {
        await again.app.olive.seedDemo();
        return '';
      } catch (err) {
        return (err as Error).message;
      } finally {
        await again.app.olive.stop();
      }
    }

    it('lists every problem of both files at once and writes nothing', async () => {
      const Edition = t.app.olive.connection.model<EditionDoc>('enrolment_edition');
      const before = await Edition.countDocuments({});
      let message = await seedWith({
        'people.json': {
          people: [
            {
              email: 'a@x.example',
              givenName: 'A',
              familyName: 'B',
              gender: 'robot',
              country: 'XX',
              organisation: '',
              organisationType: 'government',
              account: true,
            },
          ],
        },
        'editions.json': { staff: 'staff@olive.example', editions: [] },
      });
      expect(message).to.match(/people\.json is not valid/);
      expect(message).to.match(/Gender is one of/);
      expect(message).to.match(/ISO 3166/);

      message = await seedWith({
        'people.json': { people: [] },
        'editions.json': {
          staff: 'staff@olive.example',
          editions: [
            {
              course: 'conflict-analysis',
              title: 'Bad',
              selfPaced: false,
              online: false,
              place: '',
              capacity: 1,
              language: 'en',
              method: 'open',
              participants: [
                { email: 'a@x.example', status: 'pending' },
                { email: 'b@x.example', status: 'enrolled' },
                { email: 'c@x.example', status: 'enrolled' },
              ],
            },
          ],
        },
      });
      expect(message).to.match(/Only editions taking applications have pending/);
      expect(message).to.match(/needs startsInDays and lengthDays/);
      expect(message).to.match(/Say where it takes place/);
      expect(message).to.match(/2 people enrolled for 1 seats/);
      expect(await Edition.countDocuments({})).to.equal(before);
    });
  });
});
