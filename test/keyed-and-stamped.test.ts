/**
 * The host's read helpers for plugins, against the test database: reads by key (findByKeys,
 * findNumbered) and insert-once records (insertOnce), each shared by the callers of one turn of the
 * event loop, reads shared by the parts of one page (readEachOncePerPage) and values kept per
 * instance under a stamp (stampedCache), with two connections standing for two app instances.
 */
import { expect } from 'chai';
import express from 'express';
import mongoose, { type Connection } from 'mongoose';
import { pino } from 'pino';
import supertest from 'supertest';
import { badRequest } from '../src/core/errors.ts';
import { insertOnce } from '../src/core/insert-once.ts';
import { findByKeys, findNumbered } from '../src/core/keyed-reads.ts';
import { pageReadsMiddleware, readEachOncePerPage } from '../src/core/page-reads.ts';
import { STAMPS_COLLECTION, stampedCache } from '../src/core/stamped-cache.ts';
import { allow, definePlugin } from '../src/index.ts';
import { createTestApp, freshDbName, testDatabaseUri } from './helpers/app.ts';

describe('reading by key and keeping what many pages read', function () {
  this.timeout(30_000);
  let one: Connection;
  let two: Connection;
  const logger = pino({ level: 'silent' });

  before(async () => {
    const dbName = freshDbName('keyed');
    // `one` reports the commands it sends, so that a test can count round trips.
    one = await mongoose.createConnection(testDatabaseUri(), { dbName, monitorCommands: true }).asPromise();
    two = await mongoose.createConnection(testDatabaseUri(), { dbName }).asPromise();
  });
  after(async () => {
    await one.db?.dropDatabase();
    await one.close();
    await two.close();
  });

  describe('findByKeys and findNumbered', () => {
    type Thing = { _id: string; n: number };
    const Keyed = () =>
      (one.models.keyed_thing as mongoose.Model<Thing> | undefined) ??
      one.model<Thing>('keyed_thing', new mongoose.Schema<Thing>({ _id: String, n: Number }, { versionKey: false }));
    const ById = () =>
      (one.models.object_thing as mongoose.Model<{ n: number }> | undefined) ??
      one.model<{ n: number }>('object_thing', new mongoose.Schema<{ n: number }>({ n: Number }, { versionKey: false }));

    it('answers the keys that exist, in the order asked, each as often as asked, in one query', async () => {
      await Keyed().insertMany(Array.from({ length: 30 }, (_, n) => ({ _id: `k:${n}`, n })));
      const queries: string[] = [];
      const client = one.getClient();
      const listen = (e: { commandName: string }) => queries.push(e.commandName);
      client.on('commandStarted', listen);
      const found = await findByKeys(Keyed(), ['k:20', 'missing', 'k:3', 'k:20'], { n: 1 });
      client.off('commandStarted', listen);
      expect(found.map((d) => d.n)).to.deep.equal([20, 3, 20]);
      expect(await findByKeys(Keyed(), [])).to.deep.equal([]);
      // Object ids too: a string and an ObjectId of the same id are the same key.
      const [a, b] = await ById().insertMany([{ n: 1 }, { n: 2 }]);
      expect((await findByKeys(ById(), [b!._id, a!._id])).map((d) => d.n)).to.deep.equal([2, 1]);
      expect(queries, 'one round trip for all the keys').to.deep.equal(['find']);
    });

    it('reads of one collection asked for in the same turn, by different callers, go as one query; each caller gets documents of its own', async () => {
      await Keyed().insertMany(Array.from({ length: 5 }, (_, n) => ({ _id: `turn:${n}`, n })));
      const queries: { name: string; filter: unknown }[] = [];
      const listen = (e: { commandName: string; command: { filter?: unknown } }) => queries.push({ name: e.commandName, filter: e.command.filter });
      one.getClient().on('commandStarted', listen);
      // Three requests at once, two wanting the same record; a fourth with another projection.
      const [first, second, third, projected] = await Promise.all([
        findByKeys(Keyed(), ['turn:0', 'turn:1']),
        findByKeys(Keyed(), ['turn:1', 'turn:4', 'none']),
        findByKeys(Keyed(), ['turn:1']),
        findByKeys(Keyed(), ['turn:2'], { _id: 1 }),
      ]);
      // The next turn's read is a query of its own.
      const later = await findByKeys(Keyed(), ['turn:3']);
      one.getClient().off('commandStarted', listen);
      expect(first!.map((d) => d.n)).to.deep.equal([0, 1]);
      expect(second!.map((d) => d.n)).to.deep.equal([1, 4]);
      expect(third!.map((d) => d.n)).to.deep.equal([1]);
      expect(projected).to.deep.equal([{ _id: 'turn:2' }]);
      expect(later.map((d) => d.n)).to.deep.equal([3]);
      expect(queries.map((q) => q.name)).to.deep.equal(['find', 'find', 'find']);
      expect(queries[0]!.filter).to.deep.equal({ _id: { $in: ['turn:0', 'turn:1', 'turn:4', 'none'] } });
      // A caller changing what it read changes nobody else's copy.
      first![1]!.n = 99;
      expect([second![0]!.n, third![0]!.n]).to.deep.equal([1, 1]);
    });

    it('a failed query reaches every caller of its turn', async () => {
      const closed = await mongoose.createConnection(testDatabaseUri(), { dbName: freshDbName('keyed-closed') }).asPromise();
      const Model = closed.model<Thing>('keyed_thing', new mongoose.Schema<Thing>({ _id: String, n: Number }, { versionKey: false }));
      await closed.close();
      const outcomes = await Promise.allSettled([findByKeys(Model, ['a']), findByKeys(Model, ['b'])]);
      expect(outcomes.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
    });

    it('insert-once records asked for in the same turn go as one write; each caller hears its own outcome', async () => {
      await Keyed().create({ _id: 'once:there', n: 0 });
      const commands: string[] = [];
      const listen = (e: { commandName: string }) => commands.push(e.commandName);
      one.getClient().on('commandStarted', listen);
      const outcomes = await Promise.allSettled([
        insertOnce(Keyed(), { _id: 'once:a', n: 1 }),
        insertOnce(Keyed(), { _id: 'once:b', n: 2 }),
        // The same record twice in one turn (a double click): one is created.
        insertOnce(Keyed(), { _id: 'once:a', n: 3 }),
        insertOnce(Keyed(), { _id: 'once:there', n: 4 }),
        // Refused by the database for a reason of its own (a field name it does not store).
        insertOnce(Keyed(), { _id: 'once:bad', n: 5, $bad: 1 } as Thing),
      ]);
      one.getClient().off('commandStarted', listen);
      expect(commands, 'one write').to.deep.equal(['insert']);
      expect(outcomes.slice(0, 4).map((o) => (o.status === 'fulfilled' ? o.value : 'rejected'))).to.deep.equal([true, true, false, false]);
      expect(outcomes[4]!.status).to.equal('rejected');
      const stored = await findByKeys(Keyed(), ['once:a', 'once:b', 'once:there', 'once:bad']);
      expect(stored.map((d) => [d._id, d.n])).to.deep.equal([
        ['once:a', 1],
        ['once:b', 2],
        ['once:there', 0],
      ]);
    });

    it('an insert-once record the whole write refuses (too large to send) fails alone: the others of its turn are written', async () => {
      const outcomes = await Promise.allSettled([
        insertOnce(Keyed(), { _id: 'alone:fine', n: 1 }),
        insertOnce(Keyed(), { _id: 'alone:huge', n: 2, text: 'x'.repeat(17 * 1024 * 1024) } as Thing),
        insertOnce(Keyed(), { _id: 'alone:also-fine', n: 3 }),
      ]);
      expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect((await findByKeys(Keyed(), ['alone:fine', 'alone:huge', 'alone:also-fine'])).map((d) => d._id)).to.deep.equal(['alone:fine', 'alone:also-fine']);
    });

    it('reads more than a query can carry in slices, and a numbered run up to its first gap', async () => {
      // 2,300 different keys, 30 of which exist: three queries of at most 1,000 keys.
      const keys = Array.from({ length: 2300 }, (_, n) => `k:${n}`);
      const queries: string[] = [];
      const listen = (e: { commandName: string }) => queries.push(e.commandName);
      one.getClient().on('commandStarted', listen);
      const found = await findByKeys(Keyed(), keys);
      one.getClient().off('commandStarted', listen);
      expect(found.map((d) => d.n)).to.deep.equal(Array.from({ length: 30 }, (_, n) => n));
      expect(queries).to.deep.equal(['find', 'find', 'find']);
      await Keyed().insertMany([
        { _id: 'run:1', n: 1 },
        { _id: 'run:2', n: 2 },
        { _id: 'run:3', n: 3 },
        { _id: 'run:5', n: 5 },
      ]);
      expect((await findNumbered(Keyed(), (n) => `run:${n}`, 2)).map((d) => d.n)).to.deep.equal([1, 2, 3]);
      expect(await findNumbered(Keyed(), (n) => `none:${n}`)).to.deep.equal([]);
    });
  });

  describe('readEachOncePerPage', () => {
    it('loads together only the ids no part of the page has asked for, and nothing is kept after the page', async () => {
      const batches: string[][] = [];
      const loadMany = async (ids: string[]) => {
        batches.push(ids);
        return new Map(ids.filter((id) => id !== 'gone').map((id) => [id, { id }]));
      };
      const app = express();
      app.use(pageReadsMiddleware);
      app.get('/', async (_req, res) => {
        const first = await readEachOncePerPage('thing', ['a', 'b', 'gone'], loadMany);
        const second = await readEachOncePerPage('thing', ['b', 'c', 'a', 'c'], loadMany);
        res.json({ first: [...first.keys()], second: [...second.keys()], same: first.get('a') === second.get('a') });
      });
      const res = await supertest(app).get('/').expect(200);
      expect(res.body).to.deep.equal({ first: ['a', 'b'], second: ['b', 'c', 'a'], same: true });
      expect(batches).to.deep.equal([['a', 'b', 'gone'], ['c']]);
      await supertest(app).get('/').expect(200);
      expect(batches).to.have.length(4);
    });
  });

  describe('readEachOncePerPage when the database fails', () => {
    it('a failed load is an error for every part that waits on it, never a record that does not exist', async () => {
      const app = express();
      app.use(pageReadsMiddleware);
      app.get('/', async (_req, res) => {
        const failing = async () => {
          await new Promise((r) => setTimeout(r, 5));
          throw new Error('database away');
        };
        const slow = async (ids: string[]) => {
          await new Promise((r) => setTimeout(r, 30));
          return new Map(ids.map((id) => [id, id]));
        };
        // Two parts of the page at once: the second loads 'c' itself and waits on the first one's
        // load for 'a', which fails while 'c' is still on its way.
        const answers = await Promise.allSettled([readEachOncePerPage('thing', ['a'], failing), readEachOncePerPage('thing', ['c', 'a'], slow)]);
        res.json(answers.map((a) => (a.status === 'rejected' ? (a.reason as Error).message : [...a.value.keys()])));
      });
      expect((await supertest(app).get('/').expect(200)).body).to.deep.equal(['database away', 'database away']);
    });
  });

  describe('stampedCache', () => {
    it('keeps a value until a change through any instance, which every instance sees on its next read', async () => {
      let loadsA = 0;
      let loadsB = 0;
      const onA = stampedCache(one, 'test.list', { logger });
      const onB = stampedCache(two, 'test.list', { logger });
      const List = one.collection<{ _id: string }>('stamped_list');
      const read = (cache: typeof onA, count: () => void) =>
        cache.get('all', async () => {
          count();
          return (await List.find().toArray()).map((d) => d._id).sort();
        });

      expect(await read(onA, () => loadsA++)).to.deep.equal([]);
      expect(await read(onB, () => loadsB++)).to.deep.equal([]);
      expect(await read(onA, () => loadsA++)).to.deep.equal([]);
      expect([loadsA, loadsB], 'read once, then kept').to.deep.equal([1, 1]);

      await onA.changing(() => List.insertOne({ _id: 'first' }));
      expect(await read(onB, () => loadsB++), 'changed through A, seen on B').to.deep.equal(['first']);
      expect(await read(onA, () => loadsA++)).to.deep.equal(['first']);
      await onB.changing(() => List.insertOne({ _id: 'second' }));
      expect(await read(onA, () => loadsA++), 'and the other way round').to.deep.equal(['first', 'second']);
      expect([loadsA, loadsB]).to.deep.equal([3, 2]);
    });

    it('a write refused before it wrote (an HttpError) leaves the stamp alone; a failed one renews it', async () => {
      const cache = stampedCache(one, 'test.refusals', { logger });
      const stamps = one.collection<{ _id: string; stamp: string }>(STAMPS_COLLECTION);
      await cache.changing(async () => undefined);
      const before = (await stamps.findOne({ _id: 'test.refusals' }))!.stamp;
      const refused = await cache.changing(() => Promise.reject(badRequest('No.'))).catch((e: Error) => e.message);
      expect(refused).to.equal('No.');
      expect((await stamps.findOne({ _id: 'test.refusals' }))!.stamp).to.equal(before);
      const failed = await cache.changing(() => Promise.reject(new Error('the database went away part-way'))).catch((e: Error) => e.message);
      expect(failed).to.equal('the database went away part-way');
      expect((await stamps.findOne({ _id: 'test.refusals' }))!.stamp).not.to.equal(before);
    });

    it('reads again once a value is older than its maximum age, and never keeps a failed read', async () => {
      let loads = 0;
      const cache = stampedCache(one, 'test.ageing', { logger, maxAgeMs: 50 });
      const read = () => cache.get('k', async () => ++loads);
      expect(await read()).to.equal(1);
      expect(await read()).to.equal(1);
      await new Promise((r) => setTimeout(r, 80));
      expect(await read()).to.equal(2);

      let fail = true;
      const flaky = () =>
        cache.get('flaky', async () => {
          if (fail) throw new Error('away');
          return 'back';
        });
      expect(await flaky().catch((e: Error) => e.message)).to.equal('away');
      fail = false;
      expect(await flaky()).to.equal('back');
    });
  });

  describe('a cached model (ctx.cachedModel)', function () {
    this.timeout(60_000);
    interface NoteDoc {
      _id: mongoose.Types.ObjectId;
      text: string;
      n: number;
    }
    /** A plugin that keeps the list of notes; `loads` counts the queries behind the kept values. */
    function notesPlugin(loads: { n: number }) {
      return definePlugin({
        name: 'notes',
        version: '0.0.0-test',
        register(ctx) {
          const { model: Note, cache } = ctx.cachedModel<NoteDoc>('note', new mongoose.Schema<NoteDoc>({ text: String, n: Number }, { versionKey: false }));
          ctx.router.get('/', allow.public, async (_req, res) => {
            const texts = await cache.get('all', async () => {
              loads.n++;
              return (await Note.find().sort({ text: 1 }).lean()).map((d) => `${d.text}:${d.n}`);
            });
            res.json(texts);
          });
        },
      });
    }

    it('every kind of write through the model, on any instance, renews what every instance kept', async () => {
      const loads = { n: 0 };
      const a = await createTestApp({ plugins: [notesPlugin(loads)], label: 'cached_model' });
      const b = await createTestApp({ plugins: [notesPlugin({ n: 0 })], dbName: a.dbName });
      try {
        const Note = b.app.olive.connection.model<NoteDoc>('notes_note');
        const seen = async () => (await supertest(a.app).get('/notes').expect(200)).body as string[];
        expect(await seen()).to.deep.equal([]);
        expect(await seen()).to.deep.equal([]);
        expect(loads.n, 'kept between two reads').to.equal(1);

        const writes: [string, () => Promise<unknown>, string[]][] = [
          ['create', () => Note.create({ text: 'a', n: 1 }), ['a:1']],
          [
            'insertMany',
            () =>
              Note.insertMany([
                { text: 'b', n: 1 },
                { text: 'c', n: 1 },
              ]),
            ['a:1', 'b:1', 'c:1'],
          ],
          ['updateOne', () => Note.updateOne({ text: 'a' }, { $set: { n: 2 } }), ['a:2', 'b:1', 'c:1']],
          ['updateMany', () => Note.updateMany({}, { $inc: { n: 1 } }), ['a:3', 'b:2', 'c:2']],
          ['findOneAndUpdate', () => Note.findOneAndUpdate({ text: 'b' }, { $set: { n: 9 } }), ['a:3', 'b:9', 'c:2']],
          [
            'save',
            async () => {
              const d = (await Note.findOne({ text: 'c' }))!;
              d.n = 7;
              await d.save();
            },
            ['a:3', 'b:9', 'c:7'],
          ],
          ['replaceOne', () => Note.replaceOne({ text: 'c' }, { text: 'd', n: 0 }), ['a:3', 'b:9', 'd:0']],
          ['deleteOne', () => Note.deleteOne({ text: 'd' }), ['a:3', 'b:9']],
          ['findOneAndDelete', () => Note.findOneAndDelete({ text: 'b' }), ['a:3']],
          ['bulkWrite', () => Note.bulkWrite([{ insertOne: { document: { text: 'e', n: 5 } } }]), ['a:3', 'e:5']],
          ['deleteMany', () => Note.deleteMany({}), []],
        ];
        for (const [how, write, expected] of writes) {
          const before = loads.n;
          await write();
          expect(await seen(), `after ${how} on the other instance`).to.deep.equal(expected);
          expect(loads.n, `${how}: read again once, then kept`).to.equal(before + 1);
          await seen();
          expect(loads.n).to.equal(before + 1);
        }

        // A write that changed nothing, or was refused before it reached the database, renews nothing.
        const before = loads.n;
        await Note.updateOne({ text: 'nobody' }, { $set: { n: 1 } });
        await Note.deleteMany({ text: 'nobody' });
        expect(await Note.updateOne({ _id: 'not-an-id' }, { $set: { n: 1 } }).catch((e: Error) => e.name)).to.equal('CastError');
        expect(await Note.create({ text: 'x', n: 'many' as unknown as number }).catch((e: Error) => e.name)).to.equal('ValidationError');
        await seen();
        expect(loads.n, 'nothing changed: still kept').to.equal(before);
      } finally {
        await b.app.olive.stop();
        await a.stop();
      }
    });
  });
});
