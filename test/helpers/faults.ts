/**
 * Helpers for the scale-out and fault tests: a database of a test's own that can be stopped and
 * brought back with its data, a client speaking real HTTP to a listening app (cookies, CSRF, slow
 * bodies), and a look at GridFS that tells a whole file from a half-written one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { mongo } from 'mongoose';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/core/embedded-db.ts';
import { csrfFrom, DEMO_PASSWORD } from './app.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until the probe gives something truthy; fails naming what it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/**
 * A FerretDB of the test's own, so that stopping it disturbs no other test. Its data folder is kept
 * across `stop()`/`kill()` and `restart()`, on the same port, so the app's driver finds it again.
 */
export interface OwnDatabase {
  readonly uri: string;
  readonly current: EmbeddedDatabase;
  /** A clean stop (SIGTERM). */
  stop(): Promise<void>;
  /** A crash (SIGKILL): nothing is flushed on the way out. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  restart(): Promise<void>;
  /** Stops it for good and removes its folder. */
  remove(): Promise<void>;
}

/**
 * A free port below the ephemeral range (32768 and up on Linux). A database that is stopped and
 * started again keeps its port; while it is down, a port from the ephemeral range can be taken by
 * anything that asks the system for one (every supertest request listens on one, every outgoing
 * connection binds one, and a reconnecting driver can even connect to itself on it), and the app
 * then talks to the wrong thing on the database's address.
 */
export async function portOutsideEphemeralRange(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export async function startOwnDatabase(label: string): Promise<OwnDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `olive-${label}-`));
  let current = await startEmbeddedDatabase({ dataDir: dir, port: await portOutsideEphemeralRange() });
  const port = current.port;
  return {
    uri: current.uri,
    get current() {
      return current;
    },
    stop: () => current.stop(),
    async kill() {
      const child = current.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      current = await startEmbeddedDatabase({ dataDir: dir, port });
    },
    async remove() {
      await current.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** The whole body, or pieces written one after the other with `pauseMs` between them. */
  body?: Buffer | string | Buffer[];
  pauseMs?: number;
  /** Called after each piece is written (index of the piece), e.g. to act while the body is still arriving. */
  onPiece?: (index: number, req: http.ClientRequest) => void | Promise<void>;
  /** A new connection for this request alone (no keep-alive), as a fresh client would open. */
  timeoutMs?: number;
}

/** One request over a new connection; rejects with the socket's error (ECONNREFUSED, ECONNRESET, ...). */
export function send(url: string, options: SendOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    const pieces = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    void (async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (req.destroyed) return;
        req.write(pieces[i]);
        await options.onPiece?.(i, req);
        if (options.pauseMs && i < pieces.length - 1) await sleep(options.pauseMs);
      }
      req.end();
    })().catch((err: unknown) => req.destroy(err as Error));
  });
}

/** A multipart form as a browser sends it, built by the platform's own FormData (no hand-written boundary). */
export async function multipartForm(files: { field?: string; name: string; content: Buffer; type?: string }[], fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append(f.field ?? 'files', new Blob([new Uint8Array(f.content)], { type: f.type ?? 'application/octet-stream' }), f.name);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

/** Splits a buffer into pieces of at most `size` bytes. */
export function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** Bytes that file-type recognises as a PDF, of the given size, random after the signature. */
export function pdfLike(bytes: number): Buffer {
  const out = crypto.randomBytes(bytes);
  out.write('%PDF-1.7\n', 0, 'latin1');
  return out;
}

export const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');

/**
 * A browser's cookie for one site, kept by hand so that the same session can be carried to another
 * app instance (another base URL), as a load balancer would route it.
 */
export class Browser {
  cookie = '';
  constructor(public base: string) {}

  async request(pathOrUrl: string, options: SendOptions = {}): Promise<HttpAnswer> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.base}${pathOrUrl}`;
    const answer = await send(url, { ...options, headers: { ...(this.cookie ? { Cookie: this.cookie } : {}), ...options.headers } });
    const set = ([] as string[]).concat(answer.headers['set-cookie'] ?? []).find((c) => c.startsWith('olive.sid='));
    if (set) this.cookie = set.split(';')[0]!;
    return answer;
  }

  get(p: string, headers: Record<string, string> = {}) {
    return this.request(p, { headers });
  }

  /** Posts a form with the CSRF token of `tokenPage` (a page this browser may see). */
  async post(p: string, fields: Record<string, string>, tokenPage = '/'): Promise<HttpAnswer> {
    const token = await this.token(tokenPage);
    const body = new URLSearchParams({ ...fields, _csrf: token }).toString();
    return this.request(p, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    });
  }

  async token(page = '/'): Promise<string> {
    const res = await this.get(page);
    if (res.status !== 200) throw new Error(`GET ${page} answered ${res.status}, not a page with a form`);
    return csrfFrom(res.text);
  }

  /** Signs in through the real form; throws unless the app answers 303. */
  async signIn(email: string, password = DEMO_PASSWORD): Promise<this> {
    const page = await this.get('/login');
    const body = new URLSearchParams({ email, password, _csrf: csrfFrom(page.text) }).toString();
    const res = await this.request('/login', {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    });
    if (res.status !== 303) throw new Error(`sign-in as ${email} answered ${res.status}`);
    return this;
  }

  /** The same session, sent to another instance. */
  at(base: string): Browser {
    const other = new Browser(base);
    other.cookie = this.cookie;
    return other;
  }
}

/**
 * GridFS as it stands: whole files (a files document whose length matches its chunks), and what is
 * left of half-written ones (chunks of no file, files whose chunks do not add up).
 */
export async function gridfsState(db: mongo.Db, bucket: string) {
  const files = await db
    .collection(`${bucket}.files`)
    .find({}, { projection: { length: 1, chunkSize: 1 } })
    .toArray();
  const chunks = await db
    .collection(`${bucket}.chunks`)
    .find({}, { projection: { files_id: 1, n: 1, data: 1 } })
    .toArray();
  const bytesOf = new Map<string, number>();
  for (const c of chunks) {
    const id = String(c.files_id);
    bytesOf.set(id, (bytesOf.get(id) ?? 0) + (c.data as mongo.Binary).length());
  }
  const fileIds = new Set(files.map((f) => String(f._id)));
  const orphanChunks = chunks.filter((c) => !fileIds.has(String(c.files_id))).length;
  const incompleteFiles = files.filter((f) => (bytesOf.get(String(f._id)) ?? 0) !== f.length).map((f) => String(f._id));
  return { files: files.length, chunks: chunks.length, orphanChunks, incompleteFiles, fileIds };
}
