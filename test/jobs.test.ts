/**
 * The host's job service with real app instances on one database, as behind a load balancer:
 * queued jobs run once whichever instance takes them, retries back off and end in a failure with
 * its reason, admins retry and drop, a recurring job runs on one instance at a time, a job whose
 * instance is cut off is taken over once its lease expires (and the cut-off holder records
 * nothing), a throughput limit holds across instances, and a job enqueued while the database is
 * away is recorded once it is back.
 *
 * The queues belong to a small plugin of this file; each instance's workers note what they ran
 * (both instances run in this process, so the notes are shared).
 */
import { expect } from 'chai';
import { definePlugin, isDatabaseUnavailable, type RunningJob } from '../src/index.ts';
import type { JobDoc, JobLeaseDoc } from '../src/core/jobs/jobs.models.ts';
import sso from '../plugins/sso-saml/index.ts';
import { captureLogger, createTestApp, type TestApp } from './helpers/app.ts';
import { sleep, startOwnDatabase, until } from './helpers/faults.ts';

interface Run {
  queue: string;
  key: string;
  instance: string;
  attempt: number;
  at: number;
  end?: number;
  payload?: unknown;
}
const runs: Run[] = [];
const ranOf = (queue: string, key?: string) => runs.filter((r) => r.queue === queue && (key === undefined || r.key === key));

/** Keys of `flaky` jobs that succeed (from their next attempt on). */
const healed = new Set<string>();
/** Instances whose `long` workers wait until `release()` (as if busy for a long time). */
const gated = new Set<string>();
let release: () => void = () => undefined;
let gate = Promise.resolve();
function closeGate() {
  gate = new Promise<void>((resolve) => {
    release = resolve;
  });
}
let ticking = 0;
let mostTicking = 0;

const TICK_EVERY_MS = 300;

/** The test plugin as one instance runs it (`instance` names it in `runs`). */
function jobsPlugin(instance: string) {
  const note = (queue: string, job: RunningJob, payload?: unknown) => {
    const run: Run = { queue, key: job.key, instance, attempt: job.attempt, at: Date.now(), payload };
    runs.push(run);
    return run;
  };
  return definePlugin({
    name: 'jobtest',
    version: '0.0.0-test',
    register(ctx) {
      ctx.jobs.define<{ n: number }>('work', {
        concurrency: 4,
        async run(payload, job) {
          note('work', job, payload);
          await sleep(5);
        },
      });
      ctx.jobs.define('flaky', {
        maxAttempts: 3,
        backoffMs: 150,
        async run(_payload, job) {
          note('flaky', job);
          if (!healed.has(job.key)) throw new Error(`relay said no (attempt ${job.attempt})`);
        },
      });
      ctx.jobs.define('long', {
        leaseMs: 600,
        async run(_payload, job) {
          const run = note('long', job);
          if (gated.has(instance)) await gate;
          run.end = Date.now();
        },
      });
      ctx.jobs.define('throttled', {
        perMinute: 5,
        concurrency: 4,
        async run(_payload, job) {
          note('throttled', job);
        },
      });
      ctx.jobs.define('metered', {
        perMinute: 3,
        async run(_payload, job) {
          note('metered', job);
        },
      });
      ctx.jobs.every('tick', TICK_EVERY_MS, async (job) => {
        const run = note('tick', job);
        ticking += 1;
        mostTicking = Math.max(mostTicking, ticking);
        await sleep(150);
        ticking -= 1;
        run.end = Date.now();
      });
    },
  });
}

describe('jobs: the host job service across app instances', function () {
  this.timeout(120_000);
  let a: TestApp;
  let b: TestApp;
  const env = { JOB_POLL_MS: '50' };

  before(async () => {
    a = await createTestApp({ plugins: [jobsPlugin('a')], env, label: 'jobs' });
    b = await createTestApp({ plugins: [jobsPlugin('b')], env, dbName: a.dbName });
  });
  after(async () => {
    release();
    await b?.app.olive.stop();
    await a?.stop();
  });

  const Jobs = () => a.app.olive.connection.collection<JobDoc>('host_jobs');
  const Leases = () => a.app.olive.connection.collection<JobLeaseDoc>('host_job_leases');
  const currentLease = (jobId: string) => Leases().find({ jobId }).sort({ generation: -1 }).limit(1).next();

  it('two instances deliver a queue of 200 jobs: each runs exactly once, with its payload, and both take part', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    // Enqueued through both instances; the same key twice is one job.
    for (const [n, key] of keys.entries()) await (n % 2 ? a : b).app.olive.jobs.enqueue('jobtest.work', { n }, { key });
    expect(await a.app.olive.jobs.enqueue('jobtest.work', { n: 0 }, { key: 'job-0' })).to.deep.equal({ id: 'jobtest.work:job-0', created: false });
    await a.app.olive.jobs.idle(['jobtest.work']);

    const done = ranOf('work');
    const perKey = new Map<string, number>();
    for (const r of done) perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
    expect(perKey.size).to.equal(200);
    expect(
      [...perKey].filter(([, n]) => n !== 1),
      'run more than once',
    ).to.deep.equal([]);
    expect(done.every((r) => (r.payload as { n: number }).n === Number(r.key.slice(4)))).to.equal(true);
    expect(new Set(done.map((r) => r.instance)), 'both instances ran some').to.deep.equal(new Set(['a', 'b']));
    const records = await Jobs().find({ queue: 'jobtest.work' }).toArray();
    expect(records).to.have.length(200);
    expect(records.every((j) => j.state === 'done' && j.attempts === 1 && j.finishedAt instanceof Date)).to.equal(true);
    await until(
      'no lease left (a runner with an old view of the queue may still be removing one)',
      async () => (await Leases().countDocuments({ queue: 'jobtest.work' })) === 0,
      5000,
      50,
    );
  });

  it('a failing job is retried after growing delays, then marked failed with the reason', async () => {
    const { id } = await a.app.olive.jobs.enqueue('jobtest.flaky', null, { key: 'never' });
    await until('the job to fail for good', async () => (await a.app.olive.jobs.get(id))?.state === 'failed', 20_000, 25);
    const attempts = ranOf('flaky', 'never');
    expect(attempts.map((r) => r.attempt)).to.deep.equal([1, 2, 3]);
    expect(attempts[1]!.at - attempts[0]!.at, 'first retry after the backoff').to.be.at.least(150);
    expect(attempts[2]!.at - attempts[1]!.at, 'then twice as long').to.be.at.least(300);
    const job = (await a.app.olive.jobs.get(id))!;
    expect([job.state, job.attempts, job.lastError]).to.deep.equal(['failed', 3, 'relay said no (attempt 3)']);
    expect(job.finishedAt).to.be.instanceOf(Date);
    expect((await a.app.olive.jobs.list({ state: 'failed', queue: 'jobtest.flaky' })).jobs.map((j) => j.id)).to.deep.equal([id]);
    await sleep(700);
    expect(ranOf('flaky', 'never'), 'not tried again').to.have.length(3);
    expect(await Leases().countDocuments({ jobId: id })).to.equal(0);
  });

  it('an admin retries a failed job (it starts again from its first attempt) and drops a waiting one (it never runs)', async () => {
    const { id } = await a.app.olive.jobs.enqueue('jobtest.flaky', null, { key: 'heals' });
    await until('the job to fail for good', async () => (await a.app.olive.jobs.get(id))?.state === 'failed', 20_000, 25);
    healed.add('heals');
    await b.app.olive.jobs.retry(id);
    await until('the retried job to succeed', async () => (await a.app.olive.jobs.get(id))?.state === 'done', 20_000, 25);
    expect(ranOf('flaky', 'heals').map((r) => r.attempt)).to.deep.equal([1, 2, 3, 1]);
    const job = (await a.app.olive.jobs.get(id))!;
    expect([job.state, job.attempts, job.lastError]).to.deep.equal(['done', 1, undefined]);

    const later = await a.app.olive.jobs.enqueue('jobtest.work', { n: -1 }, { key: 'dropped', runAt: new Date(Date.now() + 800) });
    await b.app.olive.jobs.drop(later.id);
    expect((await a.app.olive.jobs.get(later.id))!.state).to.equal('dropped');
    await sleep(1300);
    expect(ranOf('work', 'dropped'), 'a dropped job never runs').to.deep.equal([]);
    expect(await Leases().countDocuments({ jobId: later.id })).to.equal(0);
    // Dropped is not lost: it can be retried too.
    await a.app.olive.jobs.retry(later.id);
    await until('the job retried after its drop to run', async () => (await a.app.olive.jobs.get(later.id))?.state === 'done', 20_000, 25);
    expect(ranOf('work', 'dropped')).to.have.length(1);
  });

  it('a recurring job runs on one instance at a time, again and again, never twice for the same period', async () => {
    const from = Date.now();
    await sleep(3000);
    const ticks = ranOf('tick').filter((r) => r.at >= from && r.end);
    expect(ticks.length, 'ran again and again').to.be.at.least(4);
    // Two chains of runs (one per instance) would run it up to twice a period.
    expect(ticks.length, 'at most once a period').to.be.at.most(Math.ceil(3000 / TICK_EVERY_MS) + 1);
    expect(mostTicking, 'never two at once, on any instance').to.equal(1);
    const all = ranOf('tick');
    for (let i = 1; i < all.length; i++) expect(all[i]!.at, 'each run starts after the one before ended').to.be.at.least(all[i - 1]!.end ?? Infinity);
    expect(new Set(all.map((r) => r.key)).size, 'one run per period').to.equal(all.length);
    expect((await a.app.olive.jobs.counts()).filter((c) => c.queue === 'jobtest.tick' && c.state === 'failed')).to.deep.equal([]);
  });

  it('a job whose instance is cut off mid-run is taken over once its lease expires, and finishes there', async () => {
    const c = await createTestApp({ plugins: [jobsPlugin('c')], env, dbName: a.dbName });
    try {
      // Only c runs jobs until it is cut off.
      await Promise.all([a.app.olive.jobs.stop(), b.app.olive.jobs.stop()]);
      closeGate();
      gated.add('c');
      const { id } = await c.app.olive.jobs.enqueue('jobtest.long', null, { key: 'cut-off' });
      await until('c to start the job', async () => ranOf('long', 'cut-off').length === 1, 10_000, 10);
      await sleep(400);
      expect((await currentLease(id))!.holder, 'its heartbeat keeps the lease').to.equal(c.app.olive.jobs.holder);
      // The instance loses the database for good (as a crash would): no heartbeat, no outcome.
      await c.app.olive.connection.close(true);
      const lastLease = (await currentLease(id))!;
      a.app.olive.jobs.start();
      b.app.olive.jobs.start();
      await until('the job to be taken over and finished', async () => (await a.app.olive.jobs.get(id))?.state === 'done', 20_000, 25);
      const [first, second] = ranOf('long', 'cut-off');
      expect(first!.instance).to.equal('c');
      expect(second!.instance).to.be.oneOf(['a', 'b']);
      expect(second!.at, 'not before the lease expired').to.be.at.least(lastLease.expiresAt.getTime());
      expect(ranOf('long', 'cut-off')).to.have.length(2);
      await until('no lease left', async () => (await Leases().countDocuments({ jobId: id })) === 0, 5000, 50);
    } finally {
      gated.delete('c');
      release();
      a.app.olive.jobs.start();
      b.app.olive.jobs.start();
      await c.app.olive.stop();
    }
  });

  it('a holder whose lease was taken over while it ran records nothing: the new holder runs the job and records it', async () => {
    await b.app.olive.jobs.stop();
    try {
      closeGate();
      gated.add('a');
      const { id } = await a.app.olive.jobs.enqueue('jobtest.long', null, { key: 'usurped' });
      await until('a to start the job', async () => ranOf('long', 'usurped').length === 1, 10_000, 10);
      // Another instance takes the job over, as if a's lease had expired during a long pause.
      const ours = (await currentLease(id))!;
      const foreignUntil = new Date(Date.now() + 1500);
      await Leases().insertOne({
        _id: `${id}#${ours.generation + 1}`,
        jobId: id,
        queue: 'jobtest.long',
        generation: ours.generation + 1,
        holder: 'another-instance',
        expiresAt: foreignUntil,
      });
      // Busy past half its lease, as a holder must be before anyone could take its job over.
      await sleep(400);
      gated.delete('a');
      release();
      await until('a’s first run to end', async () => !!ranOf('long', 'usurped')[0]!.end, 5000, 10);
      await sleep(300);
      const meanwhile = (await a.app.olive.jobs.get(id))!;
      expect(meanwhile.state, 'no outcome recorded by the holder that lost the lease').to.be.oneOf(['waiting', 'running']);
      expect(meanwhile.attempts).to.equal(0);
      expect((await currentLease(id))!.holder, 'the new holder’s lease stands').to.equal('another-instance');
      // The other instance "dies": its lease expires and the job runs again, recorded this time.
      await until('the job to finish', async () => (await a.app.olive.jobs.get(id))?.state === 'done', 20_000, 25);
      const [, again] = ranOf('long', 'usurped');
      expect(again!.at).to.be.at.least(foreignUntil.getTime());
      expect((await a.app.olive.jobs.get(id))!.attempts).to.equal(1);
    } finally {
      gated.delete('a');
      release();
      b.app.olive.jobs.start();
    }
  });

  it('an instance whose view of the queue is old spends none of the minute’s `perMinute` share on a job another instance has finished', async () => {
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 12_000) await sleep(left + 100);
    const minute = Math.floor(Date.now() / 60_000);
    // An instance that reads the queue once, at start, and then only when kicked: it learns of the
    // job it enqueues, and of nothing that happens to it afterwards.
    const late = await createTestApp({ plugins: [jobsPlugin('late')], env: { JOB_POLL_MS: '60000' }, dbName: a.dbName });
    try {
      const { id } = await late.app.olive.jobs.enqueue('jobtest.metered', null, { key: 'seen-late', runAt: new Date(Date.now() + 1000) });
      await until('the job done by a or b', async () => (await a.app.olive.jobs.get(id))?.state === 'done', 10_000);
      expect(ranOf('metered').map((r) => r.instance))
        .to.have.length(1)
        .and.not.include('late');
      // Now due in its old view: it takes the next lease (the finished job's were removed), and must
      // see that the job is done before it claims a slot.
      late.app.olive.jobs.kick();
      await sleep(500);
      const slots = await a.app.olive.connection
        .collection('host_job_slots')
        .countDocuments({ _id: { $in: [1, 2, 3].map((n) => `jobtest.metered|${minute}|${n}`) } as never });
      expect(slots, 'one slot for the one run').to.equal(1);
      expect(ranOf('metered'), 'run once').to.have.length(1);
      expect(await Leases().countDocuments({ jobId: id }), 'no lease left behind').to.equal(0);
    } finally {
      await late.app.olive.stop();
    }
  });

  it('`perMinute` holds across instances: no more jobs start in a minute than it allows, the others wait without spending an attempt', async () => {
    // The whole test within one calendar minute (the limit counts per minute).
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 6000) await sleep(left + 100);
    const ids: string[] = [];
    for (let n = 0; n < 12; n++) ids.push((await (n % 2 ? a : b).app.olive.jobs.enqueue('jobtest.throttled', null, { key: `t${n}` })).id);
    await sleep(2500);
    const started = ranOf('throttled');
    expect(started, 'five in this minute, from both instances’ share').to.have.length(5);
    expect(new Set(started.map((r) => Math.floor(r.at / 60_000))).size).to.equal(1);
    const states = await Promise.all(ids.map((id) => a.app.olive.jobs.get(id)));
    expect(states.filter((j) => j!.state === 'done')).to.have.length(5);
    const waiting = states.filter((j) => j!.state === 'waiting');
    expect(waiting).to.have.length(7);
    expect(
      waiting.every((j) => j!.attempts === 0),
      'no attempt spent',
    ).to.equal(true);
  });
});

describe('jobs: the plugins’ clean-ups', function () {
  this.timeout(60_000);

  it('expired SAML requests and assertions are removed by the job service soon after start, the others kept', async () => {
    const before = await createTestApp({ label: 'jobs_saml' });
    const past = new Date(Date.now() - 60_000);
    const future = new Date(Date.now() + 600_000);
    const db = before.app.olive.connection;
    await db.collection<{ _id: string; value: string; expiresAt: Date }>('sso-saml_request').insertMany([
      { _id: 'old', value: 'x', expiresAt: past },
      { _id: 'live', value: 'y', expiresAt: future },
    ]);
    await db.collection<{ _id: string; expiresAt: Date }>('sso-saml_assertion').insertMany([
      { _id: 'old', expiresAt: past },
      { _id: 'live', expiresAt: future },
    ]);
    await before.app.olive.stop();
    const t = await createTestApp({ plugins: [sso], dbName: before.dbName, env: { JOB_POLL_MS: '50' } });
    try {
      expect(t.app.olive.jobs.queues).to.include('sso-saml.cleanup');
      const left = async (name: string) =>
        (
          await t.app.olive.connection
            .collection(name)
            .find({}, { projection: { _id: 1 } })
            .toArray()
        ).map((d) => String(d._id));
      await until(
        'the expired ones to be removed',
        async () => (await left('sso-saml_request')).length === 1 && (await left('sso-saml_assertion')).length === 1,
        10_000,
        50,
      );
      expect(await left('sso-saml_request')).to.deep.equal(['live']);
      expect(await left('sso-saml_assertion')).to.deep.equal(['live']);
    } finally {
      await t.stop();
    }
  });
});

describe('jobs: enqueued while the database is away', function () {
  this.timeout(120_000);

  it('a job enqueued with `holdWhileUnavailable` is held, then recorded and run once the database is back; without it the caller hears the failure', async () => {
    const database = await startOwnDatabase('jobs-held');
    const { logger, lines } = captureLogger('info');
    const t = await createTestApp({ mongodbUri: database.uri, plugins: [jobsPlugin('held')], env: { JOB_POLL_MS: '50' }, label: 'jobs_held', logger });
    try {
      await database.kill();
      const held = await t.app.olive.jobs.enqueue('jobtest.work', { n: 1 }, { key: 'while-away', holdWhileUnavailable: true });
      expect(held).to.deep.equal({ id: 'jobtest.work:while-away', created: false, held: true });
      const refused = await t.app.olive.jobs.enqueue('jobtest.work', { n: 2 }, { key: 'refused' }).then(
        () => null,
        (err: unknown) => err,
      );
      // The driver's error (or, right after the server died, the socket's own EPIPE).
      expect(refused, 'the caller hears the failure').to.be.instanceOf(Error);
      expect(isDatabaseUnavailable(refused) || (refused as NodeJS.ErrnoException).code === 'EPIPE', String(refused)).to.equal(true);
      await sleep(500);
      expect(ranOf('work', 'while-away'), 'nothing runs while the database is away').to.deep.equal([]);

      await database.restart();
      await until('the held job to run', async () => ranOf('work', 'while-away').length > 0, 30_000);
      await until('its record to say done', async () => (await t.app.olive.jobs.get('jobtest.work:while-away'))?.state === 'done', 10_000);
      expect(ranOf('work', 'while-away').map((r) => [r.instance, r.payload])).to.deep.equal([['held', { n: 1 }]]);
      expect(await t.app.olive.jobs.get('jobtest.work:refused')).to.equal(null);
      expect(lines.some((l) => l.msg === 'held job recorded' && l.job === 'jobtest.work:while-away')).to.equal(true);
    } finally {
      await t.app.olive.stop();
      await database.remove();
    }
  });

  it('a held job still unrecorded when the app stops is logged with its id', async () => {
    const database = await startOwnDatabase('jobs-held-lost');
    const { logger, lines } = captureLogger('warn');
    const t = await createTestApp({
      mongodbUri: database.uri,
      plugins: [jobsPlugin('held-lost')],
      env: { JOB_POLL_MS: '50' },
      label: 'jobs_held_lost',
      logger,
    });
    try {
      await database.kill();
      await t.app.olive.jobs.enqueue('jobtest.work', { n: 3 }, { key: 'never-recorded', holdWhileUnavailable: true });
      await t.app.olive.stop();
      const logged = lines.find((l) => l.msg === 'jobs held while the database was away were never recorded: the app stopped first');
      expect(logged?.jobs).to.deep.equal(['jobtest.work:never-recorded']);
    } finally {
      await t.app.olive.stop();
      await database.remove();
    }
  });
});
