import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { pino } from 'pino';
import supertest from 'supertest';
import { createApp, type CreateAppOptions, type OliveApp } from '../../src/core/app.ts';
import { loadHostConfig } from '../../src/core/config.ts';
import { hashPassword } from '../../src/core/auth/password.ts';
import type { NewUser, SessionUser } from '../../src/index.ts';

export const DEMO_PASSWORD = 'olive-demo';

export function testDatabaseUri(): string {
  const uri = process.env.OLIVE_TEST_MONGODB_URI;
  if (!uri) throw new Error('The test database is not running: run the suite with `npm test` (mocha loads test/helpers/global-setup.ts).');
  return uri;
}

/** A database name of its own for each app a test creates: tests never see each other's data. */
export const freshDbName = (label = 'test') => `olive_${label.replace(/\W+/g, '_').slice(0, 20)}_${crypto.randomBytes(4).toString('hex')}`;

/** Collects log lines so tests can assert on what was logged. */
export function captureLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

export interface TestApp {
  app: OliveApp;
  dbName: string;
  stop(): Promise<void>;
}

/** Builds a real app on a fresh database of the test server. */
export async function createTestApp(options: CreateAppOptions & { env?: Record<string, string>; seed?: boolean; label?: string } = {}): Promise<TestApp> {
  const dbName = options.dbName ?? freshDbName(options.label);
  const config = options.config ?? loadHostConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...options.env }, process.cwd());
  const app = await createApp({
    logger: options.logger ?? pino({ level: 'silent' }),
    ...options,
    config,
    mongodbUri: options.mongodbUri ?? testDatabaseUri(),
    dbName,
  });
  if (options.seed) await app.olive.seedDemo();
  return {
    app,
    dbName,
    async stop() {
      await app.olive.connection.db?.dropDatabase().catch(() => undefined);
      await app.olive.stop();
    },
  };
}

let demoPasswordHash: Promise<string> | undefined;
/**
 * A new account (through `users.create`, so UserCreated fires) whose password is DEMO_PASSWORD,
 * with a stored hash of it computed once per run: scrypt costs about 100 ms of CPU per hash on
 * purpose, which a test creating a hundred accounts would spend for nothing. Signing in still
 * checks the password against that hash for real.
 */
export async function createDemoPasswordUser(app: OliveApp, input: Omit<NewUser, 'password'>): Promise<SessionUser> {
  demoPasswordHash ??= hashPassword(DEMO_PASSWORD);
  const user = await app.olive.users.create(input, 'test');
  await app.olive.connection
    .collection('host_credentials')
    .insertOne({ _id: new mongoose.Types.ObjectId(user.id), passwordHash: await demoPasswordHash } as never);
  return user;
}

/** A supertest parser that keeps a response body as its bytes (a PDF, a CSV): `.buffer(true).parse(asBytes)`. */
export function asBytes(res: supertest.Response, done: (err: Error | null, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as unknown as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

/** Reads the CSRF token from a page's form. */
export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token on the page');
  return match[1]!;
}

/** A cookie-keeping client signed in as the given account (through the real sign-in form). */
export async function signIn(app: OliveApp, email: string, password = DEMO_PASSWORD) {
  const agent = supertest.agent(app);
  const page = await agent.get('/login').expect(200);
  const res = await agent
    .post('/login')
    .type('form')
    .send({ email, password, _csrf: csrfFrom(page.text) });
  if (res.status !== 303) throw new Error(`sign-in as ${email} failed with ${res.status}`);
  return agent;
}

/** A CSRF token for the agent's session, taken from a page it can see. */
export async function tokenFor(agent: ReturnType<typeof supertest.agent>, page = '/'): Promise<string> {
  return csrfFrom((await agent.get(page).expect(200)).text);
}

/**
 * Submits a form as a browser would: its fields, with the CSRF token of `page` (where the form is
 * shown). Given a `status`, checks the answer has it.
 */
export async function postForm(agent: ReturnType<typeof supertest.agent>, url: string, fields: Record<string, unknown>, page: string, status?: number) {
  const res = await agent
    .post(url)
    .type('form')
    .send({ ...fields, _csrf: await tokenFor(agent, page) });
  if (status !== undefined) expect(res.status, `POST ${url}`).to.equal(status);
  return res;
}

/** Serves an app on a free local port (for the browser and for process-level tests). */
export async function listen(app: OliveApp): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
