import DataLoader from 'dataloader';
import { MongoAPIError, MongoBulkWriteError, type Document } from 'mongodb';
import type { Model } from 'mongoose';
import { isDuplicateKey } from './errors.ts';

/**
 * Insert-once records: a document whose `_id` is its natural key (a learner's completion of an
 * item), recorded by inserting it, so that a repeat or a race is a duplicate key and never a second
 * record (docs/architecture.md, data rules).
 *
 * The inserts into one collection asked for in the same turn of the event loop, by any requests,
 * go to the database as one unordered `insertMany` at the end of that turn: FerretDB writes ten
 * documents in one statement for about twice the cost of one (docs/performance.md), and with SQLite
 * every write queues behind the others. Each caller hears its own document's outcome: created,
 * already there (a duplicate key, also when two callers of the batch inserted the same key), or its
 * own error; a failure of the whole write reaches every caller, and as each record is insert-once,
 * their retries write none twice.
 *
 * The document is written as given, without mongoose's casting, defaults or validation: for records
 * the code builds itself, complete and of the schema's types.
 */

type Outcome = boolean | Error;

interface InsertCollection {
  insertMany(docs: Document[], options: { ordered: false }): Promise<unknown>;
}

async function insertBatch(collection: InsertCollection, docs: readonly Document[]): Promise<Outcome[]> {
  try {
    await collection.insertMany([...docs], { ordered: false });
    return docs.map(() => true);
  } catch (err) {
    // The driver refused the whole write before sending it, for one document it will not send (too
    // large): one caller's document must not fail the others', so each is tried alone, side by side.
    // (Only then: after an error in transit part of the batch may be written, and a caller retrying
    // alone would take its own record for someone else's.)
    if (err instanceof MongoAPIError && docs.length > 1) {
      return Promise.all(
        docs.map((doc) =>
          insertBatch(collection, [doc]).then(
            ([outcome]) => outcome!,
            (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
          ),
        ),
      );
    }
    // Some of the batch refused (a duplicate key, mostly), the rest written: told apart by index.
    if (!(err instanceof MongoBulkWriteError) || err.writeConcernError || !err.writeErrors) throw err;
    const refused = new Map((Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]).map((e) => [e.index, e]));
    return docs.map((_, i) => {
      const e = refused.get(i);
      if (!e) return true;
      if (isDuplicateKey(e)) return false;
      return Object.assign(new Error(e.errmsg ?? 'insert refused'), { code: e.code });
    });
  }
}

const loaders = new WeakMap<object, DataLoader<Document, Outcome>>();

/** Inserts an insert-once record: true if this call created it, false if it existed already. */
export async function insertOnce<T>(model: Model<T>, doc: T & { _id: unknown }): Promise<boolean> {
  const collection = model.collection as unknown as InsertCollection;
  let loader = loaders.get(collection);
  if (!loader) {
    loader = new DataLoader<Document, Outcome>((docs) => insertBatch(collection, docs), {
      cache: false,
      maxBatchSize: 1000,
      batchScheduleFn: (send) => setImmediate(send),
    });
    loaders.set(collection, loader);
  }
  // An Error in the batch's outcomes rejects this call with it (dataloader's contract).
  return (await loader.load(doc as Document)) as boolean;
}
