import { createRequire } from 'node:module';
import { expect } from 'chai';
import mongoose from 'mongoose';
import express from 'express';
import { pino } from 'pino';
import supertest from 'supertest';
import { errorHandler } from '../src/core/http.ts';
import { HttpError, isDatabaseUnavailable, isDuplicateKey } from '../src/index.ts';

/** The driver's own error classes, including those it does not export (it throws them all the same). */
const internal = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as {
  PoolClearedOnNetworkError: new (pool: { address: string }) => Error;
  PoolClearedError: new (pool: { address: string }) => Error;
};

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

  it('an error of a kind not known while the database cannot be reached is the outage’s 503; with the database there, a 500', async () => {
    let reachable = false;
    const app = express();
    app.get('/', () => {
      throw new mongoose.mongo.MongoUnexpectedServerResponseError('cut off mid-answer');
    });
    app.use(errorHandler(pino({ level: 'silent' }), async () => reachable));
    const down = await supertest(app).get('/').set('accept', 'application/json').expect(503);
    expect(down.headers['retry-after']).to.equal('30');
    expect(down.body.error.code).to.equal('DATABASE_UNAVAILABLE');
    reachable = true;
    const up = await supertest(app).get('/').set('accept', 'application/json').expect(500);
    expect(up.body.error.code).to.equal('INTERNAL');
  });
});
