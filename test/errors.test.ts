import { createRequire } from 'node:module';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { HttpError, isDatabaseUnavailable, isDuplicateKey } from '../src/index.ts';

/** The driver's own error classes, including those it does not export (it throws them all the same). */
const internal = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as { PoolClearedOnNetworkError: new (pool: { address: string }) => Error; PoolClearedError: new (pool: { address: string }) => Error };

describe('database errors: which ones mean "the database is away" (503, not 500)', () => {
  it('recognises every way the driver says the server cannot be reached', () => {
    const pool = { address: '127.0.0.1:27017' };
    const away = [
      new mongoose.mongo.MongoNetworkError('connection closed'),
      new mongoose.mongo.MongoNetworkTimeoutError('timed out'),
      new mongoose.mongo.MongoServerSelectionError('no server', { error: undefined } as never),
      new mongoose.mongo.MongoNotConnectedError('not connected'),
      new mongoose.mongo.MongoTopologyClosedError(),
      new internal.PoolClearedError(pool),
      new internal.PoolClearedOnNetworkError(pool),
    ];
    for (const err of away) expect(isDatabaseUnavailable(err), err.name).to.equal(true);
  });

  it('a bulk insert counts as a duplicate only when every failed document was one', () => {
    expect(isDuplicateKey({ code: 11000 })).to.equal(true);
    expect(isDuplicateKey({ writeErrors: [{ code: 11000 }, { code: 11000 }] })).to.equal(true);
    expect(isDuplicateKey({ writeErrors: [{ code: 11000 }, { code: 121 }] })).to.equal(false);
    expect(isDuplicateKey({ writeErrors: [] })).to.equal(false);
    expect(isDuplicateKey(new Error('boom'))).to.equal(false);
  });

  it('does not take other errors for an outage', () => {
    const duplicate = Object.assign(new mongoose.mongo.MongoServerError({ message: 'E11000 duplicate key', code: 11000 }), {});
    for (const err of [duplicate, new Error('boom'), new HttpError(404, 'NOT_FOUND', 'x'), new mongoose.Error.ValidationError(), 'a string']) {
      expect(isDatabaseUnavailable(err), String(err)).to.equal(false);
    }
  });
});
