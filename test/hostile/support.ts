/**
 * Shared pieces of the hostile-input tests: the real app (every plugin of olive.config.ts, demo
 * data seeded), a fingerprint of the whole database to prove an attempt changed nothing, and the
 * one check every refused attempt must pass (a 4xx, never a 5xx, with a clear message).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import mongoose from 'mongoose';
import { expect } from 'chai';
import supertest from 'supertest';
import oliveConfig from '../../olive.config.ts';
import { SESSIONS_COLLECTION } from '../../src/core/sessions.ts';
import { REPO } from '../helpers/process.ts';
import { createTestApp, csrfFrom, DEMO_PASSWORD, signIn, tokenFor, type TestApp } from '../helpers/app.ts';

export type Agent = Awaited<ReturnType<typeof signIn>>;
export type Res = supertest.Response;

export const SCRIPT = '<script>alert(1)</script>';
export const IMG = '"><img src=x onerror=alert(1)>';
/** Both payloads in one text: shown back, neither may appear as markup. */
export const XSS = `${SCRIPT} ${IMG}`;

/** The app as deployed (all plugins, their configuration), on a fresh database with the demo data. */
export async function hostileApp(label: string): Promise<TestApp> {
  return createTestApp({
    plugins: oliveConfig.plugins,
    pluginConfig: {
      ...oliveConfig.pluginConfig,
      certificates: { ...(oliveConfig.pluginConfig?.certificates as object), verifyPerMinute: 10000 },
    },
    seed: true,
    label,
    // Many refused sign-ins and look-ups come from one address here: the limits themselves are
    // tested elsewhere (auth.test.ts, the certificates tests). Nothing else differs from olive.config.ts.
    env: { LOGIN_RATE_LIMIT: '10000' },
  });
}

let shared: Promise<TestApp> | undefined;

/**
 * One seeded app for all the hostile-input files (seeding the demo, certificates included, takes
 * seconds): each test proves "nothing changed" with its own before/after fingerprint, so sharing
 * is safe. Stopped after the whole run.
 */
export function sharedHostileApp(): Promise<TestApp> {
  shared ??= hostileApp('hostile');
  return shared;
}

after(async () => {
  if (!shared) return;
  const app = await shared;
  shared = undefined;
  await app.stop();
});

/** A signed-in agent and its CSRF token. */
export async function as(t: TestApp, email: string): Promise<{ agent: Agent; token: string }> {
  const agent = await signIn(t.app, email);
  return { agent, token: await tokenFor(agent) };
}

/**
 * A fingerprint of every collection but the session store (which each request may touch): one
 * hash per collection over all its documents. Equal fingerprints mean nothing was written.
 */
export async function dbState(t: TestApp): Promise<Map<string, string>> {
  const db = t.app.olive.connection.db!;
  // Rate-limit counts are left out: counting a refused attempt is what they are for.
  const names = (await db.listCollections().toArray())
    .map((c) => c.name)
    .filter((n) => n !== SESSIONS_COLLECTION && n !== 'host_rate_limits')
    .sort();
  const state = new Map<string, string>();
  // Recurring background jobs (session clean-up…) run on their own clock, not because of a
  // request: their runs are left out. Every other job, such as a reset a forged form might queue, counts.
  const recurring = new Set(
    (
      await db
        .collection('host_jobs')
        .find({ everyMs: { $exists: true } }, { projection: { _id: 1 } })
        .toArray()
    ).map((j) => String(j._id)),
  );
  for (const name of names) {
    let docs = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
    // Jobs queued before (mail of an earlier step) may still be running: what counts is which jobs
    // exist, not how far the runner has got with them, nor its leases.
    if (name === 'host_jobs') docs = docs.filter((d) => !recurring.has(String(d._id))).map((d) => ({ _id: d._id, queue: d.queue }));
    if (name === 'host_job_leases') continue;
    state.set(name, `${docs.length}:${crypto.createHash('sha256').update(JSON.stringify(docs)).digest('hex')}`);
  }
  return state;
}

/** Asserts that the database is as it was (names the collections that changed). */
export async function expectUnchanged(t: TestApp, before: Map<string, string>, what: string) {
  const after = await dbState(t);
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
  expect(changed, `${what}: these collections changed`).to.deep.equal([]);
}

const describeReq = (res: Res) => {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  return `${req.method} ${req.path.replace(/_csrf=[^&]+/, '_csrf=…')}`;
};

/**
 * The refusal every hostile request must get: one of the expected 4xx statuses (a 5xx is a bug,
 * reported with the request), and a message a person or a client can act on.
 */
export function refused(res: Res, expected: number | number[], what = ''): Res {
  const statuses = [expected].flat();
  const label = `${what ? `${what}: ` : ''}${describeReq(res)} → ${res.status} ${String(res.text).slice(0, 400)}`;
  expect(res.status, `no 5xx: ${label}`).to.be.below(500);
  expect(statuses, label).to.include(res.status);
  if (/json/.test(res.type)) {
    expect(res.body?.error?.message, label).to.be.a('string').and.have.length.above(5);
    expect(res.body.error.code, label).to.be.a('string').and.not.equal('INTERNAL');
  } else {
    expect(res.text, label).to.match(/\S/);
    expect(res.text, label).not.to.contain('Something went wrong on our side');
  }
  return res;
}

/** No 5xx, whatever else the answer is. */
export function no5xx(res: Res, what = ''): Res {
  expect(res.status, `no 5xx: ${what ? `${what}: ` : ''}${describeReq(res)} → ${res.status} ${String(res.text).slice(0, 400)}`).to.be.below(500);
  return res;
}

/** A page that shows user-written text: no markup of ours from it, no script at all, no handler attributes. */
export function expectNoInjectedMarkup(html: string, where: string) {
  expect(html, where).not.to.contain(SCRIPT);
  expect(html, where).not.to.contain('<img src=x onerror');
  expect(html, `${where}: no script element`).not.to.match(/<script\b/i);
  // Attribute names only (quoted values are text: escaped payloads live there harmlessly).
  for (const m of html.matchAll(/<([a-z][a-z0-9-]*)\b([^>]*)>/gi)) {
    const names = m[2]!.replace(/"[^"]*"|'[^']*'/g, '""');
    expect(names, `${where}: no event handler attribute in <${m[1]}${m[2]!.slice(0, 200)}>`).not.to.match(/(^|\s)on[a-z]+\s*=/i);
  }
}

/** The payload is shown on the page, escaped (so the test is looking at the right page). */
export function expectEscapedPayload(html: string, where: string) {
  expectNoInjectedMarkup(html, where);
  expect(html, `${where}: the text is shown, escaped`).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html, `${where}: the text is shown, escaped`).to.match(/&#34;&gt;&lt;img src=x onerror=alert\(1\)&gt;|&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
}

/** Ids of the demo data, read from the database. */
export async function demoIds(t: TestApp) {
  const db = t.app.olive.connection.db!;
  const users = await db.collection('host_users').find({}).toArray();
  const userId = (email: string) => {
    const u = users.find((x) => x.email === email);
    if (!u) throw new Error(`no demo user ${email}`);
    return String(u._id);
  };
  const editions = await db.collection('enrolment_edition').find({}).toArray();
  const edition = (method: string) => {
    const e = editions.find((x) => x.method === method && x.status === 'published');
    if (!e) throw new Error(`no published demo edition with method ${method}`);
    return String(e._id);
  };
  const courses = await db.collection('courses_course').find({}).toArray();
  /** A course's id (the courses plugin keeps ObjectIds; pass it through `oid` to query its collections). */
  const course = (slug: string) => String(courses.find((c) => c.slug === slug)!._id);
  const enrolments = await db.collection('enrolment_enrolment').find({}).toArray();
  const enrolmentOf = (email: string, editionId: string) => {
    const e = enrolments.find((x) => x.email === email && x.editionId === editionId);
    return e ? String(e._id) : undefined;
  };
  return { userId, edition, course, enrolmentOf, editions, enrolments };
}

export const oid = (id: string) => new mongoose.Types.ObjectId(id);

/**
 * A session cookie and CSRF token for an account, for requests sent without supertest (bodies the
 * server refuses before reading them all: supertest fails with EPIPE where a browser reads the answer).
 */
export async function cookieSession(t: TestApp, email: string, password = DEMO_PASSWORD): Promise<{ cookie: string; token: string }> {
  const st = supertest;
  const cookieOf = (res: Res) => ((res.headers['set-cookie'] ?? []) as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
  const page = await st(t.app).get('/login');
  let cookie = cookieOf(page);
  const login = await st(t.app)
    .post('/login')
    .set('Cookie', cookie)
    .type('form')
    .send({ email, password, _csrf: csrfFrom(page.text) });
  if (login.status !== 303) throw new Error(`sign-in as ${email} failed with ${login.status}`);
  cookie = cookieOf(login) || cookie;
  const home = await st(t.app).get('/').set('Cookie', cookie);
  return { cookie, token: csrfFrom(home.text) };
}

/** Posts a body with node's http client and returns the answer, even when the server stops reading early. */
export function rawPost(
  base: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: 'POST', headers: { ...headers, 'Content-Length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    let failed: Error | undefined;
    req.on('error', (err) => {
      // EPIPE/ECONNRESET once the server has answered and closed: the answer is what counts.
      failed = err;
      setTimeout(() => reject(failed), 5000).unref();
    });
    req.end(body);
  });
}

/** Signs in with a password (accounts made during a test) and returns the agent and its token. */
export async function signInAs(t: TestApp, email: string, password: string): Promise<{ agent: Agent; token: string }> {
  const agent = await signIn(t.app, email, password);
  return { agent, token: await tokenFor(agent) };
}

/** Each plugin's mount point: its `prefix`, else `/<name>` (as the loader does). */
function pluginPrefix(dir: string): string {
  const index = fs.readFileSync(path.join(REPO, 'plugins', dir, 'index.ts'), 'utf8');
  const prefix = /^\s*prefix:\s*'([^']*)'/m.exec(index)?.[1];
  const name = /^\s*name:\s*'([^']*)'/m.exec(index)![1]!;
  return (prefix ?? `/${name}`).replace(/\/$/, '');
}

/** Every route of these methods declared in the host's and the plugins' routes files, as `METHOD /full/pattern`. */
export function declaredRoutes(methods: string[]): string[] {
  const files: { file: string; prefix: string }[] = [];
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : d.name.endsWith('.routes.ts') ? [path.join(dir, d.name)] : []));
  for (const file of walk(path.join(REPO, 'src'))) files.push({ file, prefix: '' });
  for (const dir of fs.readdirSync(path.join(REPO, 'plugins'))) {
    const routes = path.join(REPO, 'plugins', dir, 'routes');
    if (!fs.existsSync(routes)) continue;
    for (const f of fs.readdirSync(routes).filter((n) => n.endsWith('.ts'))) files.push({ file: path.join(routes, f), prefix: pluginPrefix(dir) });
  }
  const found: string[] = [];
  for (const { file, prefix } of files) {
    const source = fs.readFileSync(file, 'utf8');
    const constants = new Map([...source.matchAll(/^const (\w+) = '([^']*)';/gm)].map((m) => [m[1]!, m[2]!]));
    for (const m of source.matchAll(new RegExp(`router\\.(${methods.join('|')})\\(\\s*('([^']*)'|\`([^\`]*)\`|(\\w+))`, 'g'))) {
      const raw = m[3] ?? m[4]?.replace(/\$\{(\w+)\}/g, (_s, name: string) => constants.get(name) ?? `\${${name}}`) ?? constants.get(m[5]!) ?? m[5]!;
      const full = `${prefix}${raw === '/' && prefix ? '' : raw}`;
      found.push(`${m[1]!.toUpperCase()} ${full || '/'}`);
    }
  }
  return found.sort();
}
