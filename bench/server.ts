/**
 * A server for the web benchmarks, in a process of its own so that the load generator never
 * shares its event loop. Prints `ready <port>` on stdout when it listens.
 *
 *   --mode olive    the real app: the plugins of olive.config.ts, production settings (view cache,
 *                   no demo loading), on the given database. With --capture it also stores, for any
 *                   request carrying an `x-bench-capture: <page>` header, the template and the data
 *                   the page was rendered with (see the ceiling).
 *   --mode ceiling  the ceiling of the same run: bare Express with the same EJS templates, layout and
 *                   compression. `GET /page/:name` fetches a captured page's data with one call of
 *                   the bare driver and renders it; `POST /done/:key` records a completion with one
 *                   driver insert. No sessions, no access checks, no plugins: what the pages would
 *                   cost if fetching their data were free of everything but one round trip.
 *
 *   node --import tsx bench/server.ts --mode olive|ceiling --uri <mongodb uri> --db <name> [--capture]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import compression from 'compression';
import express, { type Response } from 'express';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { createApp } from '../src/core/app.ts';
import { loadConfigFile } from '../src/core/config-file.ts';
import { loadHostConfig } from '../src/core/config.ts';
import { freePort } from '../src/core/embedded-db.ts';
import { createI18n, pageLocals } from '../src/core/i18n.ts';
import { layoutMiddleware } from '../src/core/views.ts';
import { flag } from './report.ts';

export const CAPTURE_HEADER = 'x-bench-capture';
export const CAPTURE_COLLECTION = 'bench_pages';
export const CEILING_PROGRESS_COLLECTION = 'bench_ceiling_progress';
export const CEILING_CSRF = 'ceiling-token';

const ROOT = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const arg = (name: string) => flag(name, args);

async function olive(uri: string, dbName: string, port: number, capture: boolean) {
  const config = loadHostConfig(
    {
      NODE_ENV: 'production',
      SESSION_SECRET: crypto.randomBytes(32).toString('hex'),
      BASE_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      DEMO_DATA: 'off',
      // The benchmark signs in a few hundred learners from one address within seconds.
      LOGIN_RATE_LIMIT: '100000',
    },
    ROOT,
  );
  const { plugins, pluginConfig } = await loadConfigFile(path.join(ROOT, 'olive.config.ts'));
  if (capture) await captureRenders(uri, dbName);
  const app = await createApp({ config, plugins, pluginConfig, mongodbUri: uri, dbName, logger: pino({ level: 'warn' }, pino.destination(2)) });
  return app;
}

/**
 * Records what a page is rendered from: the template's path, the data the handler passed, and the
 * request's own locals the layout reads. Functions cannot be stored; the ceiling supplies its own.
 */
async function captureRenders(uri: string, dbName: string) {
  const client = await new MongoClient(uri).connect();
  const pages = client.db(dbName).collection<{ _id: string }>(CAPTURE_COLLECTION);
  const render = express.response.render;
  const lastRender = new WeakMap<Response, { view: string; options: object }>();
  express.response.render = function (this: Response, view: string, options?: object, callback?: (err: Error, html: string) => void) {
    const page = this.req.headers[CAPTURE_HEADER];
    if (typeof page === 'string') {
      // A page may render fragments first (the dashboard's panels), then its own template, then
      // the layout around it: what is stored is the template rendered just before the layout.
      if (path.basename(view) !== 'layout.ejs') {
        // Express adds `_locals` (the response's locals) to the options it is given: not page data.
        const { _locals, ...data } = (options ?? {}) as Record<string, unknown>;
        lastRender.set(this, { view, options: data });
      } else if (lastRender.has(this)) {
        const { user, currentPath, lang, dir } = this.locals;
        const nav = (this.locals.nav as { label: string; href: string }[]).map(({ label, href }) => ({ label, href }));
        void pages
          .replaceOne({ _id: page }, { ...lastRender.get(this)!, locals: { user, currentPath, lang, dir, nav } }, { upsert: true, ignoreUndefined: true })
          .catch((err: unknown) => process.stderr.write(`capture of ${page} failed: ${String(err)}\n`));
      }
    }
    return (render as (this: Response, v: string, o?: object, c?: unknown) => void).call(this, view, options, callback);
  } as typeof render;
}

async function ceiling(uri: string, dbName: string) {
  const client = await new MongoClient(uri).connect();
  const db = client.db(dbName);
  const pages = db.collection<{ _id: string; view: string; options: Record<string, unknown>; locals: Record<string, unknown> & { lang: string } }>(
    CAPTURE_COLLECTION,
  );
  const progress = db.collection<{ _id: string; learnerId?: string; editionId?: string; itemId?: string; completedAt: Date }>(CEILING_PROGRESS_COLLECTION);
  const catalogues = new Map([['host', path.join(ROOT, 'locales')]]);
  for (const dir of fs.readdirSync(path.join(ROOT, 'plugins'))) {
    const locales = path.join(ROOT, 'plugins', dir, 'locales');
    if (fs.existsSync(locales)) catalogues.set(dir, locales);
  }
  const i18n = createI18n(catalogues, 'en');

  const app = express();
  app.set('view engine', 'ejs');
  app.set('views', path.join(ROOT, 'views'));
  app.set('view cache', true);
  Object.assign(app.locals, { takeFlash: () => [], csrfToken: () => CEILING_CSRF });
  app.use(compression());
  // The host's own layout wrapper; captured views are absolute paths already.
  app.use(layoutMiddleware((name) => (path.isAbsolute(name) ? name : path.join(ROOT, 'views', `${name}.ejs`))));
  app.get('/page/:name', async (req, res) => {
    const page = await pages.findOne({ _id: req.params.name });
    if (!page) return void res.status(404).send('no such captured page');
    Object.assign(res.locals, page.locals, pageLocals(i18n, page.locals.lang));
    res.render(page.view, page.options);
  });
  app.post('/done/:key', async (req, res) => {
    const [learnerId, editionId, itemId] = req.params.key.split(':');
    await progress.insertOne({ _id: req.params.key, learnerId, editionId, itemId, completedAt: new Date() });
    res.json({ done: true, itemId });
  });
  return app;
}

async function main() {
  const mode = arg('--mode');
  const uri = arg('--uri');
  const dbName = arg('--db');
  if ((mode !== 'olive' && mode !== 'ceiling') || !uri || !dbName) {
    process.stderr.write('usage: bench/server.ts --mode olive|ceiling --uri <mongodb uri> --db <name> [--capture]\n');
    process.exit(2);
  }
  const port = await freePort();
  const app = mode === 'olive' ? await olive(uri, dbName, port, args.includes('--capture')) : await ceiling(uri, dbName);
  const server = http.createServer(app);
  server.keepAliveTimeout = 60000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

// Run as a program; imported (for the names above) it does nothing.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
