/**
 * Rate limits counted in the database (src/core/rate-limit-store.ts): one limit across every app
 * instance, exact under concurrency on FerretDB, expired windows removed, and a 503 rather than
 * no limit while the database is away.
 */
import { expect } from 'chai';
import type { Options } from 'express-rate-limit';
import supertest from 'supertest';
import { allow, definePlugin, HttpError, sharedRateLimit } from '../src/index.ts';
import { MongoRateLimitStore, RATE_LIMITS_COLLECTION, removeExpiredRateLimits } from '../src/core/rate-limit-store.ts';
import { createTestApp, csrfFrom, DEMO_PASSWORD, type TestApp } from './helpers/app.ts';

/** Ten requests an hour for everyone together: a burst shows whether any hit was lost or double-counted. */
const probe = definePlugin({
  name: 'probe',
  version: '1.0.0',
  register(ctx) {
    const limiter = sharedRateLimit({
      connection: ctx.connection,
      name: 'probe.burst',
      windowMs: 3600_000,
      limit: 10,
      key: () => 'everyone',
      onLimited: () => {
        throw new HttpError(429, 'TOO_MANY', 'Too many.');
      },
    });
    ctx.router.get('/burst', allow.public, limiter, (_req, res) => {
      res.json({ ok: true });
    });
  },
});

const store = (t: TestApp, name: string, windowMs: number, limit?: number) => {
  const s = new MongoRateLimitStore(t.app.olive.connection, name);
  // A limit given as a function is not known to the store: every hit is written, none capped.
  s.init({ windowMs, limit: limit ?? (() => 1_000_000) } as unknown as Options);
  return s;
};

describe('rate limits shared by every app instance (in the database)', function () {
  this.timeout(60_000);
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    const options = { plugins: [probe], env: { LOGIN_RATE_LIMIT: '5' }, label: 'rate_limit' };
    a = await createTestApp({ ...options, seed: true });
    b = await createTestApp({ ...options, dbName: a.dbName });
  });
  after(async () => {
    await b?.app.olive.stop();
    await a?.stop();
  });
  const db = () => a.app.olive.connection.db!;

  /** A browser at one instance, with the sign-in page's CSRF token. */
  async function at(t: TestApp) {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/login').expect(200)).text);
    return (email: string, password: string) => agent.post('/login').type('form').send({ email, password, _csrf: token });
  }

  it('failed sign-ins spread over two instances reach the limit at exactly the configured number', async () => {
    const [onA, onB] = [await at(a), await at(b)];
    for (let i = 0; i < 5; i++) {
      const res = await (i % 2 ? onB : onA)('ana.ruiz@olive.example', `guess-${i}`);
      expect(res.status, `attempt ${i + 1}`).to.equal(401);
    }
    // Three attempts went to A and two to B: counted apart, B would allow three more.
    for (const attempt of [onB, onA]) {
      const limited = await attempt('ana.ruiz@olive.example', DEMO_PASSWORD);
      expect(limited.status).to.equal(429);
      expect(limited.text).to.contain('Too many sign-in attempts');
    }
    // The count is per address and account: another account signs in.
    expect((await onB('tenzin.dorje@olive.example', DEMO_PASSWORD)).status).to.equal(303);
  });

  it('a successful sign-in on one instance is not counted on the other', async () => {
    const email = 'joseph.mwangi@olive.example';
    for (let i = 0; i < 4; i++) expect((await (await at(i % 2 ? b : a))(email, `guess-${i}`)).status).to.equal(401);
    const credits = () =>
      db()
        .collection(RATE_LIMITS_COLLECTION)
        .countDocuments({ _id: { $regex: '\\|c\\|' } as never });
    const before = await credits();
    expect((await (await at(a))(email, DEMO_PASSWORD)).status).to.equal(303);
    // The library takes a success back after the answer has gone: wait for it to be written.
    const deadline = Date.now() + 5000;
    while ((await credits()) === before) {
      if (Date.now() > deadline) throw new Error('the successful sign-in was never taken back');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await (await at(b))(email, 'guess-5')).status, 'the fifth failure').to.equal(401);
    expect((await (await at(a))(email, 'guess-6')).status, 'the sixth').to.equal(429);
  });

  it('40 simultaneous requests over two instances, limit 10: exactly 10 are served', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        supertest((i % 2 ? b : a).app)
          .get('/probe/burst')
          .set('Accept', 'application/json'),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).to.have.length(10);
    expect(statuses.filter((s) => s === 429)).to.have.length(30);
  });

  it('concurrent hits on two instances each get their own number: none lost, none counted twice; taking back is as exact', async () => {
    const [onA, onB] = [store(a, 'probe.numbers', 3600_000), store(b, 'probe.numbers', 3600_000)];
    const hits = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? onB : onA).increment('someone')));
    expect(hits.map((h) => h.totalHits).sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(new Set(hits.map((h) => h.resetTime!.getTime())).size, 'one window').to.equal(1);
    await Promise.all(Array.from({ length: 25 }, (_, i) => (i % 2 ? onB : onA).decrement('someone')));
    expect((await onA.get('someone'))!.totalHits).to.equal(15);
    expect((await onB.increment('someone')).totalHits).to.equal(16);
    // Another key, and another limiter with the same key, count apart.
    expect((await onA.increment('someone else')).totalHits).to.equal(1);
    expect((await store(a, 'probe.other', 3600_000).increment('someone')).totalHits).to.equal(1);
    await onB.resetKey('someone');
    expect(await onA.get('someone')).to.equal(undefined);
    expect((await onA.increment('someone')).totalHits).to.equal(1);
  });

  it('past the limit nothing more is written: hammering a key costs no growing reads', async () => {
    const limited = store(a, 'probe.hammer', 3600_000, 3);
    const totals = [];
    for (let i = 0; i < 20; i++) totals.push((await limited.increment('attacker')).totalHits);
    expect(totals).to.deep.equal([1, 2, 3, ...Array.from({ length: 17 }, () => 4)]);
  });

  it('a window ends after windowMs and its documents are removed', async () => {
    const short = store(a, 'probe.short', 300, 2);
    const long = store(a, 'probe.long', 3600_000, 2);
    expect((await short.increment('x')).totalHits).to.equal(1);
    expect((await short.increment('x')).totalHits).to.equal(2);
    expect((await short.increment('x')).totalHits, 'refused').to.equal(3);
    await long.increment('x');
    await new Promise((r) => setTimeout(r, 350));
    expect(await short.get('x'), 'the window has ended').to.equal(undefined);
    expect(await removeExpiredRateLimits(a.app.olive.connection), "the short window's start and hits").to.equal(3);
    const left = await db()
      .collection(RATE_LIMITS_COLLECTION)
      .find({ expiresAt: { $lt: new Date() } })
      .toArray();
    expect(left).to.deep.equal([]);
    expect((await long.get('x'))!.totalHits, 'a running window is kept').to.equal(1);
    expect((await short.increment('x')).totalHits, 'a new window').to.equal(1);
  });
});

describe('a shared rate limit while the database is away', function () {
  this.timeout(30_000);
  it('answers 503 like every other request needing the database, never lets the request through unlimited', async () => {
    const t = await createTestApp({ plugins: [probe], label: 'rate_limit_down' });
    try {
      await supertest(t.app).get('/probe/burst').set('Accept', 'application/json').expect(200);
      await t.app.olive.connection.close();
      const res = await supertest(t.app).get('/probe/burst').set('Accept', 'application/json');
      expect(res.status).to.equal(503);
      expect(res.body.error.code).to.equal('DATABASE_UNAVAILABLE');
      expect(res.headers['retry-after']).to.equal('30');
    } finally {
      await t.app.olive.stop();
    }
  });
});
