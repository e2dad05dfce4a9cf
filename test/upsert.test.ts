import { expect } from 'chai';
import mongoose from 'mongoose';
import { upsertOne } from '../src/core/upsert.ts';
import { freshDbName, testDatabaseUri } from './helpers/app.ts';

describe('upsertOne: an upsert by key that several requests make at once', () => {
  // Two connections, as two app instances (or one app's pool under load) would write.
  const connections: mongoose.Connection[] = [];
  before(async () => {
    const dbName = freshDbName('upsert');
    for (let i = 0; i < 2; i++) connections.push(await mongoose.createConnection(testDatabaseUri(), { dbName }).asPromise());
  });
  after(async () => {
    await connections[0]?.db?.dropDatabase();
    for (const c of connections) await c.close();
  });

  it('twenty writers of the same new record all succeed, and one record exists', async () => {
    const schema = new mongoose.Schema({ _id: String, text: String });
    const models = connections.map((c) => c.model<{ _id: string; text?: string }>('Note', schema));
    for (let round = 0; round < 20; round++) {
      const _id = `person-${round}`;
      const answers = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => upsertOne(models[i % 2]!, { _id }, { $set: { text: `write ${i}` } })));
      expect(answers.filter((a) => a.status === 'rejected')).to.deep.equal([]);
      const docs = await models[0]!.find({ _id }).lean();
      expect(docs).to.have.length(1);
      expect(docs[0]!.text).to.match(/^write \d+$/);
    }
  });
});
