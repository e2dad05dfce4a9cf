import http from 'node:http';
import { expect } from 'chai';
import { freePort } from '../src/core/embedded-db.ts';
import { freshDbName, testDatabaseUri } from './helpers/app.ts';
import { runOlive } from './helpers/process.ts';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const dbUri = () => `${testDatabaseUri().replace(/\/$/, '')}/${freshDbName('server')}`;

describe('the olive command', function () {
  this.timeout(60000);

  it('serves, and on SIGTERM finishes requests in flight, refuses new ones and exits cleanly', async () => {
    const port = await freePort();
    const olive = runOlive(['serve'], { PORT: String(port), MONGODB_URI: dbUri(), OLIVE_CONFIG: 'test/fixtures/slow.config.ts' });
    await olive.waitFor(`Olive ready in`);
    expect(olive.output()).to.match(/├─ host\s+\S+\s+register/);
    expect(olive.output()).to.match(/└─ slow\s+1\.0\.0\s+register\s+[\d.]+ ms\s+start\s+[\d.]+ ms/);

    const inFlight = get(`http://127.0.0.1:${port}/slow`);
    await new Promise((r) => setTimeout(r, 300));
    olive.child.kill('SIGTERM');
    await olive.waitFor('stopping');
    const answer = await inFlight;
    expect(answer).to.deep.equal({ status: 200, body: 'finished' });
    expect(await olive.exited).to.equal(0);
    let refused = false;
    await get(`http://127.0.0.1:${port}/healthz`).catch((err: NodeJS.ErrnoException) => {
      refused = err.code === 'ECONNREFUSED';
    });
    expect(refused, 'new connections are refused after shutdown').to.equal(true);
    expect(olive.output()).to.contain('slow plugin stopped');
    expect(olive.output().indexOf('slow plugin stopped')).to.be.lessThan(olive.output().lastIndexOf('stopped'));
  });

  it('explains an invalid configuration and exits with an error', async () => {
    const olive = runOlive(['serve'], { PORT: 'eighty', MONGODB_URI: 'postgres://nope' });
    expect(await olive.exited).to.equal(1);
    expect(olive.output()).to.contain('olive: Invalid configuration:');
    expect(olive.output()).to.contain('PORT:');
    expect(olive.output()).to.contain('MONGODB_URI: must start with mongodb://');
    expect(olive.output()).to.not.contain('    at '); // no stack trace for a known problem
  });

  it('refuses the default session secret in production', async () => {
    const olive = runOlive(['serve'], { NODE_ENV: 'production', BASE_URL: 'https://learn.example.org', MONGODB_URI: dbUri() });
    expect(await olive.exited).to.equal(1);
    expect(olive.output()).to.contain('SESSION_SECRET: must be set to a random value');
  });

  it('seeds the demo idempotently and creates an administrator', async () => {
    const env = { MONGODB_URI: dbUri() };
    // Each run is a process of its own, most of its time spent loading the app: runs that do not
    // depend on one another go side by side. A too short passphrase is refused before the database
    // is opened, so that run needs nothing seeded.
    const weak = runOlive(['create-admin', '--email', 'x@olive.example', '--name', 'X'], env, 'short\n');
    const first = runOlive(['seed'], env);
    expect(await first.exited, first.output()).to.equal(0);
    expect(first.output()).to.contain('Demo data loaded for: host, courses, enrolment, certificates, attendance, announcements, questions\n');
    const again = runOlive(['seed'], env);
    const admin = runOlive(['create-admin', '--email', 'ops@olive.example', '--name', 'Ops Person'], env, 'a-strong-passphrase\n');
    expect(await again.exited, again.output()).to.equal(0);
    expect(await admin.exited, admin.output()).to.equal(0);
    expect(admin.output()).to.contain('Administrator ops@olive.example created.');
    const dup = runOlive(['create-admin', '--email', 'ops@olive.example', '--name', 'Ops Person'], env, 'a-strong-passphrase\n');
    expect(await dup.exited).to.equal(1);
    expect(dup.output()).to.contain('An account with the e-mail address ops@olive.example already exists.');
    expect(await weak.exited).to.equal(1);
    expect(weak.output()).to.contain('at least 10 characters');
  });

  it('explains a port already in use, and exits without leaving anything running', async () => {
    const blocker = http.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const olive = runOlive(['serve'], { PORT: String(port), MONGODB_URI: dbUri() });
      expect(await olive.exited).to.equal(1);
      expect(olive.output()).to.contain(`olive: Port ${port} on 127.0.0.1 is already in use: stop the other program, or choose another port with PORT=3001.`);
      expect(olive.output()).to.not.contain('    at ');
    } finally {
      blocker.close();
    }
  });

  it('says how to use it when the command is unknown', async () => {
    const olive = runOlive(['frobnicate'], {});
    expect(await olive.exited).to.equal(2);
    expect(olive.output()).to.contain("Unknown command 'frobnicate'");
    expect(olive.output()).to.contain('create-admin');
  });
});
