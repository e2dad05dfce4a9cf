import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/core/embedded-db.ts';

/** What SQLite does for a command, from FerretDB's explain ("SEARCH … USING INDEX" or "SCAN …"). */
function plan(explained: unknown): string {
  return ((explained as { queryPlanner?: { Plan?: string[] } }).queryPlanner?.Plan ?? []).join(' | ');
}

describe('the embedded database (FerretDB, as built with tools/ferretdb/patches.json)', function () {
  this.timeout(90000);
  let dir: string;
  let db: EmbeddedDatabase;
  let client: MongoClient;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-embedded-'));
    db = await startEmbeddedDatabase({ dataDir: dir });
    client = await new MongoClient(db.uri).connect();
  });
  after(async () => {
    await client.close();
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds, updates and deletes a document by _id through the _id index, not by reading the table', async () => {
    const coll = client.db('olive_embedded').collection<{ _id: string; n: number }>('records');
    await coll.insertMany(Array.from({ length: 5000 }, (_, n) => ({ _id: `key:${n}`, n })));

    expect(plan(await coll.find({ _id: 'key:4321' }).explain())).to.match(/SEARCH .* USING INDEX/);
    expect(plan(await coll.find({ _id: 'missing' }).explain())).to.match(/SEARCH .* USING INDEX/);
    // Without the fix FerretDB names a different expression than its index: a full scan.
    expect(plan(await coll.find({ _id: 'key:1' }).explain())).not.to.match(/\bSCAN\b/);

    expect(await coll.findOne({ _id: 'key:4321' })).to.deep.equal({ _id: 'key:4321', n: 4321 });
    expect(await coll.findOne({ _id: 'missing' })).to.equal(null);
    expect((await coll.updateOne({ _id: 'key:17' }, { $set: { n: -17 } })).modifiedCount).to.equal(1);
    expect(await coll.findOne({ _id: 'key:17' })).to.deep.equal({ _id: 'key:17', n: -17 });
    expect((await coll.deleteOne({ _id: 'key:18' })).deletedCount).to.equal(1);
    expect(await coll.countDocuments()).to.equal(4999);
    // Object ids too (most collections' keys).
    const other = client.db('olive_embedded').collection('objects');
    const { insertedId } = await other.insertOne({ name: 'x' });
    expect(plan(await other.find({ _id: insertedId }).explain())).to.match(/SEARCH .* USING INDEX/);
  });

  it('finds documents by a list of keys ($in on _id) through the _id index, with the same answer as before', async () => {
    const coll = client.db('olive_embedded').collection<{ _id: string; n: number; tag?: string }>('keyed');
    await coll.insertMany(Array.from({ length: 3000 }, (_, n) => ({ _id: `k:${n}`, n, ...(n % 2 ? { tag: 'odd' } : {}) })));
    const keys = ['k:7', 'k:2999', 'missing', 'k:10'];

    expect(plan(await coll.find({ _id: { $in: keys } }).explain())).to.match(/SEARCH .* USING INDEX/);
    expect((await coll.find({ _id: { $in: keys } }).toArray()).map((d) => d._id).sort()).to.deep.equal(['k:10', 'k:2999', 'k:7']);
    // A filter with more than the keys is not narrowed: FerretDB reads and checks every document, as before.
    expect((await coll.find({ _id: { $in: keys }, tag: 'odd' }).toArray()).map((d) => d._id).sort()).to.deep.equal(['k:2999', 'k:7']);
    // Values SQLite cannot compare as keys (numbers, regular expressions) are left to FerretDB, correctly.
    expect((await coll.find({ _id: { $in: ['k:7', /^k:300$/, 12] } } as never).toArray()).map((d) => d._id).sort()).to.deep.equal(['k:300', 'k:7']);
    expect(await coll.countDocuments({ _id: { $in: [] } })).to.equal(0);
    // Object ids, and deletes narrowed the same way.
    const other = client.db('olive_embedded').collection('objects_in');
    const { insertedIds } = await other.insertMany([{ a: 1 }, { a: 2 }, { a: 3 }]);
    // Object ids and strings in one list, a key twice: each document once.
    await other.insertOne({ _id: 'text-key' as never, a: 4 });
    expect((await other.find({ _id: { $in: [insertedIds[1]!, 'text-key', insertedIds[1]!] } } as never).toArray()).map((d) => d.a).sort()).to.deep.equal([
      2, 4,
    ]);
    expect(plan(await other.find({ _id: { $in: [insertedIds[0]!, insertedIds[2]!] } }).explain())).to.match(/SEARCH .* USING INDEX/);
    expect((await other.deleteMany({ _id: { $in: [insertedIds[0]!, insertedIds[2]!] } })).deletedCount).to.equal(2);
    expect((await other.find().toArray()).map((d) => d.a).sort()).to.deep.equal([2, 4]);
  });
});
