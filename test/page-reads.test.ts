import { expect } from 'chai';
import express from 'express';
import supertest from 'supertest';
import { pageReadsMiddleware, readOncePerPage } from '../src/core/page-reads.ts';

describe('reads shared by the parts of one page', () => {
  function app() {
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return { loads };
    };
    const a = express();
    a.use(pageReadsMiddleware);
    const twice = async (_req: express.Request, res: express.Response) => {
      // Two parts of one page asking for the same thing, one at once and one later.
      const [x, y] = await Promise.all([readOncePerPage('k', load), readOncePerPage('k', load)]);
      const z = await readOncePerPage('k', load);
      const other = await readOncePerPage('other', load);
      res.json({ same: x === y && y === z, loads, other: other.loads });
    };
    a.get('/page', twice);
    a.post('/page', twice);
    return a;
  }

  it('a GET request reads each key once, whichever part asks first', async () => {
    const res = await supertest(app()).get('/page').expect(200);
    expect(res.body).to.deep.equal({ same: true, loads: 2, other: 2 });
  });

  it('every GET request reads afresh: nothing is kept between requests', async () => {
    const a = app();
    await supertest(a).get('/page').expect(200);
    const res = await supertest(a).get('/page').expect(200);
    expect(res.body.loads).to.equal(4);
  });

  it('a request that writes (POST) shares nothing: each read sees what was written before it', async () => {
    const res = await supertest(app()).post('/page').expect(200);
    expect(res.body).to.deep.equal({ same: false, loads: 4, other: 4 });
  });

  it('a failed read is not kept: the next part reads again', async () => {
    const a = express();
    a.use(pageReadsMiddleware);
    let calls = 0;
    a.get('/', async (_req, res) => {
      const failing = () => {
        calls++;
        return calls === 1 ? Promise.reject(new Error('database away')) : Promise.resolve('ok');
      };
      const first = await readOncePerPage('k', failing).catch((e: Error) => e.message);
      const second = await readOncePerPage('k', failing);
      res.json({ first, second, calls });
    });
    expect((await supertest(a).get('/').expect(200)).body).to.deep.equal({ first: 'database away', second: 'ok', calls: 2 });
  });
});
