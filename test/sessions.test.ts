import { expect } from 'chai';
import MongoStore from 'connect-mongo';
import express from 'express';
import { pino } from 'pino';
import supertest from 'supertest';
import { loadHostConfig } from '../src/core/config.ts';
import { connectDatabase } from '../src/core/db.ts';
import { createSessions, saveBeforeRedirect, SESSIONS_COLLECTION } from '../src/core/sessions.ts';
import { freshDbName, testDatabaseUri } from './helpers/app.ts';

/**
 * The session store as the app uses it, on a bare Express app: what it writes, and when. A write
 * that lands after the browser has moved on overwrites what the next page stored.
 */
describe('sessions: no write after the redirect has gone out', function () {
  this.timeout(30_000);
  let connection: Awaited<ReturnType<typeof connectDatabase>>;
  let app: express.Express;
  let sessions: ReturnType<typeof createSessions>;
  const writes: string[] = [];
  const realSet = MongoStore.prototype.set;
  const realTouch = MongoStore.prototype.touch;

  before(async () => {
    connection = await connectDatabase({ uri: testDatabaseUri(), dbName: freshDbName('sessions') });
    sessions = createSessions(
      connection,
      loadHostConfig({ SESSION_SECRET: 'a-test-secret-of-sufficient-length-123' }, process.cwd()),
      pino({ level: 'silent' }),
    );
    MongoStore.prototype.set = function (sid, session, cb) {
      writes.push(`set ${(session as { step?: string }).step ?? ''}`);
      return realSet.call(this, sid, session, cb);
    };
    MongoStore.prototype.touch = function (sid, session, cb) {
      writes.push('touch');
      return realTouch.call(this, sid, session, cb);
    };
    app = express();
    app.use(sessions.middleware);
    app.use(saveBeforeRedirect);
    // Like a sign-in: a new session (regenerated), something stored, a redirect.
    app.post('/sign-in', (req, res, next) => {
      req.session.regenerate((err) => {
        if (err) return next(err);
        (req.session as unknown as { step: string }).step = 'signed-in';
        res.redirect(303, '/next');
      });
    });
    // Like a form: an existing session changed, then a redirect.
    app.post('/form', (req, res) => {
      (req.session as unknown as { step: string }).step = 'form-sent';
      res.redirect(303, '/next');
    });
    app.get('/next', (req, res) => {
      (req.session as unknown as { step: string; token: string }).token = 'from-the-next-page';
      res.send('ok');
    });
  });
  after(async () => {
    MongoStore.prototype.set = realSet;
    MongoStore.prototype.touch = realTouch;
    sessions.stop();
    await connection.dropDatabase();
    await connection.close();
  });

  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('a sign-in’s redirect is written once, before it is sent: the page that follows keeps what it stored', async () => {
    const agent = supertest.agent(app);
    writes.length = 0;
    await agent.post('/sign-in').expect(303);
    await settle();
    expect(writes, 'express-session would write the regenerated session again as the redirect ends').to.deep.equal(['set signed-in']);

    await agent.get('/next').expect(200);
    await settle();
    const stored = await connection.collection(SESSIONS_COLLECTION).find({}).toArray();
    expect(stored.map((d) => (d.session as { token?: string }).token)).to.include('from-the-next-page');
  });

  it('a form’s redirect is written once, with no touch after it', async () => {
    const agent = supertest.agent(app);
    await agent.post('/sign-in').expect(303);
    await settle();
    // Make the session due for a touch: the redirect's save has just moved its expiry anyway.
    await connection.collection(SESSIONS_COLLECTION).updateMany({}, { $set: { lastModified: new Date(Date.now() - 120_000) } });
    writes.length = 0;
    await agent.post('/form').expect(303);
    await settle();
    expect(writes).to.deep.equal(['set form-sent']);
  });

  it('a session changed after the save before the redirect is still written', async () => {
    const late = express();
    late.use(sessions.middleware);
    late.use(saveBeforeRedirect);
    late.post('/', (req, res) => {
      res.redirect(303, '/next');
      // (Nothing in Olive does this; the guard must not hide a real change.)
      (req.session as unknown as { step: string }).step = 'changed-after';
    });
    writes.length = 0;
    await supertest(late).post('/').expect(303);
    await settle();
    expect(writes.at(-1)).to.equal('set changed-after');
  });
});
