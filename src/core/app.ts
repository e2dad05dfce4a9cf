import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import compression from 'compression';
import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import { pino, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { allow } from './access.ts';
import { mountAdminUserRoutes } from './admin/users.routes.ts';
import { mountAuthRoutes } from './auth/auth.routes.ts';
import { createPassport } from './auth/passport.ts';
import { createUsersService, defineUserModels, type UserModels } from './auth/users.ts';
import { loadHostConfig, type HostConfig } from './config.ts';
import { connectDatabase, pingDatabase, watchConnection } from './db.ts';
import { HttpError, OliveError } from './errors.ts';
import type { ServiceOverride, ServiceRef } from './refs.ts';
import { EventBus } from './events.ts';
import { flashMiddleware } from './flash.ts';
import { Navigation, Users, type UsersService } from './host-contract.ts';
import { errorHandler, notFoundHandler, refusalFor } from './http.ts';
import { createI18n, languageMiddleware } from './i18n.ts';
import { registerPlugins, seedPlugins, startPlugins, stopPlugins, orderPlugins, validatePlugins, type HostRuntime, type LoadedPlugin } from './loader.ts';
import { createMetrics } from './metrics.ts';
import { mountPageRoutes } from './pages.routes.ts';
import type { NavEntry, PluginDefinition } from './plugin.ts';
import { checkRoutes, createPolicyRouter, type DeclaredRoute } from './router.ts';
import { createCsrf, csrfUnlessCrossSite, securityHeaders } from './security.ts';
import { createSessions, saveBeforeRedirect } from './sessions.ts';
import { createViewResolver, layoutMiddleware } from './views.ts';
import { formatBytes } from './formats.ts';
import { seedHost } from './seed.ts';
import { pageReadsMiddleware } from './page-reads.ts';
import { defineJobModels } from './jobs/jobs.models.ts';
import { createJobsService, type JobsService } from './jobs/jobs.service.ts';
import { defineMailModels } from './mail/mail.models.ts';
import { createMailService, type MailService } from './mail/mail.service.ts';
import { mountAdminOperationsRoutes } from './admin/operations.routes.ts';
import { mountMailRoutes } from './mail/mail.routes.ts';
import { defineAccountModels } from './auth/account-tokens.ts';
import { mountAccountRoutes } from './auth/account.routes.ts';
import { createAccountsService, type AccountsService } from './auth/accounts.service.ts';
import { createAudit } from './admin/audit.ts';
import { createBranding } from './admin/branding.ts';
import { mountBrandingRoutes } from './admin/branding.routes.ts';
import type { i18n as I18n, TFunction } from 'i18next';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION: string = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

export interface CreateAppOptions {
  /** The enabled plugins, in the order to prefer among independent ones. */
  plugins?: readonly PluginDefinition[];
  /** Configuration per plugin name, checked by each plugin's schema. */
  pluginConfig?: Record<string, unknown>;
  /** Host configuration; by default read from process.env. */
  config?: HostConfig;
  /** The MongoDB server; defaults to config.MONGODB_URI. createApp never starts a database itself. */
  mongodbUri?: string;
  /** Database name, when the URI does not carry one (tests use one per file). */
  dbName?: string;
  logger?: Logger;
  fixturesDir?: string;
  /** Where people read mail in development (the local Mailpit's address), shown on the admin page. */
  devInbox?: string;
  /** Services used instead of the ones their plugins provide (tests: `overrideService(ref, impl)`). */
  services?: readonly ServiceOverride[];
}

export interface BootReport {
  totalMs: number;
  plugins: { name: string; version: string; registerMs: number; startMs: number }[];
}

/** What createApp adds to the Express app: the running host and its lifecycle. */
export interface OliveRuntime {
  readonly config: HostConfig;
  readonly connection: Connection;
  readonly logger: Logger;
  readonly boot: BootReport;
  readonly users: UsersService;
  readonly jobs: JobsService;
  readonly mail: MailService;
  readonly version: string;
  /** True once stop() has begun: readiness reports 503 and connections are closed after each answer. */
  readonly stopping: boolean;
  /** Database reachable and not shutting down. */
  ready(): Promise<boolean>;
  /** Loads the demo programme: host accounts, then each plugin's fixtures. Idempotent. */
  seedDemo(): Promise<string[]>;
  /** True when the database holds no accounts yet (a first start). */
  isEmpty(): Promise<boolean>;
  /** Marks the app as shutting down (readiness 503, connections closed after each answer) without stopping yet. */
  drain(): void;
  /** Stops plugins in reverse order, then closes the database connection. */
  stop(): Promise<void>;
  /**
   * A service some plugin provides, as plugins get it: for tools and tests that work with the
   * running plugins (the host's own code never calls a plugin's service).
   */
  service<T>(ref: ServiceRef<T>): T;
}

export type OliveApp = Express & { olive: OliveRuntime };

const ms = (since: bigint) => Math.round(Number(process.hrtime.bigint() - since) / 1e5) / 10;

/**
 * Builds the Olive app: connects to the database, validates, orders, registers and starts the
 * plugins, and wires the host's pages. Never listens: call `listen` yourself (server.ts does) or
 * hand the app to supertest.
 */
export async function createApp(options: CreateAppOptions = {}): Promise<OliveApp> {
  const t0 = process.hrtime.bigint();
  const config = options.config ?? loadHostConfig();
  const logger = options.logger ?? pino({ level: config.LOG_LEVEL });
  const plugins = options.plugins ?? [];

  // Configuration and requirements are checked before anything connects or runs.
  const configs = validatePlugins(plugins, options.pluginConfig ?? {});
  const ordered = orderPlugins(plugins);

  const uri = options.mongodbUri ?? config.MONGODB_URI;
  if (!uri) throw new HttpError(500, 'NO_DATABASE', 'createApp needs a MongoDB URI (options.mongodbUri or MONGODB_URI).');
  const connection = await connectDatabase({ uri, dbName: options.dbName });
  let unwatch = () => {};
  const hostStart = process.hrtime.bigint();

  const events = new EventBus(logger);
  const metrics = createMetrics();
  const models: UserModels = defineUserModels(connection);
  // Invitations need mail, and mail needs the users' records: the service is completed below.
  let accounts: AccountsService | undefined;
  const users: UsersService = { ...createUsersService(models, events), invite: (input, opts) => accounts!.invite(input, opts) };
  const jobModels = defineJobModels(connection);
  const jobs = createJobsService(jobModels, { logger, pollMs: config.JOB_POLL_MS });
  const mailModels = defineMailModels(connection);
  const accountModels = defineAccountModels(connection);
  const audit = createAudit(connection);
  const branding = createBranding(connection, { logger, defaultName: config.PROGRAMME_NAME });
  // Messages are composed in the recipient's language: the catalogues exist once plugins registered.
  let i18n: I18n | undefined;
  const mail = createMailService({
    models: mailModels,
    jobs,
    config,
    logger,
    connection,
    users: models.User as never,
    i18n: () =>
      i18n ??
      (() => {
        throw new Error('mail composed before the app was built');
      })(),
    viewsDir: path.join(ROOT, 'views'),
    devInbox: options.devInbox,
    programmeName: async () => (await branding.view()).name,
  });
  accounts = createAccountsService({ models, accountModels, users, mail, jobs, audit, logger });
  const runtime: HostRuntime = {
    connection,
    logger,
    events,
    metrics: metrics.registry,
    host: { baseUrl: config.BASE_URL, production: config.production, version: VERSION },
    services: new Map<string, unknown>([[Users.id, users], ...(options.services ?? []).map((o) => [o.ref.id, o.impl] as const)]),
    overridden: new Set((options.services ?? []).map((o) => o.ref.id)),
    extensions: new Map(),
    viewDirs: new Map(),
    translationDirs: new Map([['host', path.join(ROOT, 'locales')]]),
    fixturesDir: options.fixturesDir ?? path.join(ROOT, 'fixtures'),
    crossSiteRoutes: [],
    routes: [],
    jobs,
    mail,
  };
  const hostNav: NavEntry[] = [
    { label: 'nav.home', href: '/', policy: allow.signedIn, order: 0 },
    // One entry for the administrator's pages (users, mail, jobs, branding): they share a sub-menu.
    { label: 'nav.admin', href: '/admin', policy: allow.roles('admin'), order: 90 },
  ];
  runtime.extensions.set(Navigation.id, [...hostNav]);

  let loaded: LoadedPlugin[] = [];
  let sessions: ReturnType<typeof createSessions> | undefined;
  // Expired sessions are removed by Olive (FerretDB has no TTL indexes), on one instance at a time.
  jobs.every('host.sessions-cleanup', 10 * 60 * 1000, async () => {
    await sessions?.removeExpired();
  });
  try {
    for (const model of [
      models.User,
      models.Credential,
      jobModels.Job,
      jobModels.JobLease,
      jobModels.JobSlot,
      mailModels.Mail,
      accountModels.Token,
      accountModels.TokenUse,
      audit.model,
      branding.model,
    ])
      await model.init();
    const hostMs = ms(hostStart);
    loaded = await registerPlugins(ordered, configs, runtime);
    i18n = createI18n(runtime.translationDirs, config.DEFAULT_LOCALE, {
      pseudo: !!config.PSEUDO_LOCALE && !config.production,
      programme: config.PROGRAMME_NAME,
    });
    await startPlugins(loaded, config.PLUGIN_START_TIMEOUT_MS, logger);
    sessions = createSessions(connection, config, logger);

    const app = express() as unknown as OliveApp;
    let stopping = false;
    const resolveView = createViewResolver(path.join(ROOT, 'views'), runtime.viewDirs);
    const passport = createPassport(models);
    const csrf = createCsrf();

    app.disable('x-powered-by');
    app.set('trust proxy', config.trustProxy);
    app.set('view engine', 'ejs');
    app.set('views', path.join(ROOT, 'views'));
    if (config.production) app.set('view cache', true);
    // Defaults so that even an error page rendered before the request's own locals exist has them.
    Object.assign(app.locals, {
      t: i18n.getFixedT('en'),
      lang: 'en',
      dir: 'ltr',
      languages: {},
      nav: [],
      user: undefined,
      takeFlash: () => [],
      csrfToken: () => '',
      currentPath: '/',
      appVersion: VERSION,
      formatBytes,
    });

    app.use(metrics.middleware);
    app.use(
      pinoHttp({
        logger,
        autoLogging: { ignore: (req) => /^\/(healthz|readyz|metrics|static\/)/.test(req.url ?? '') },
        // Method, path and status only: headers carry session cookies and tokens that logs must never hold.
        serializers: {
          req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url.split('?')[0] }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
      }),
    );
    app.use((_req, res, next) => {
      // During shutdown each answer closes its connection, so keep-alive clients move elsewhere.
      if (stopping) res.setHeader('Connection', 'close');
      next();
    });
    app.use(securityHeaders(config));
    app.use(compression());
    // Browsers ask for /favicon.ico on every page; answer from the stylesheet's folder, before sessions.
    app.get('/favicon.ico', (_req, res) => {
      res.redirect(301, '/static/favicon.svg');
    });
    app.use('/static', express.static(path.join(ROOT, 'public'), { maxAge: config.production ? '1d' : 0, index: false }));

    // Probes come before sessions: they must answer cheaply and whatever the session store does.
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      const ok = await app.olive.ready();
      res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : stopping ? 'stopping' : 'database unavailable' });
    });
    app.get('/metrics', async (req, res) => {
      if (config.METRICS_TOKEN && req.headers.authorization !== `Bearer ${config.METRICS_TOKEN}`) {
        res.status(401).type('text/plain').send('metrics token required\n');
        return;
      }
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });

    app.use(pageReadsMiddleware);
    app.use(express.urlencoded({ extended: true, limit: '200kb', parameterLimit: 1000 }));
    app.use(express.json({ limit: '200kb' }));
    app.use(sessions.middleware);
    app.use(saveBeforeRedirect);
    app.use(passport.initialize());
    app.use(passport.session());
    app.use(flashMiddleware);
    const chooseLanguage = languageMiddleware(i18n, config.DEFAULT_LOCALE);
    app.use(chooseLanguage);
    app.use(layoutMiddleware(resolveView));
    app.use(async (req, res, next) => {
      res.locals.user = req.user;
      res.locals.currentPath = req.path;
      res.locals.csrfToken = () => csrf.generateToken(req);
      const entries = (runtime.extensions.get(Navigation.id) ?? []) as NavEntry[];
      const visible: NavEntry[] = [];
      for (const entry of entries) if (await entry.policy.allows(req, req.user)) visible.push(entry);
      res.locals.nav = visible.sort((a, b) => (a.order ?? 50) - (b.order ?? 50));
      res.locals.branding = await branding.view();
      // Texts that name the programme (`{{programme}}`) name it as the admin set it.
      if (res.locals.branding.name !== config.PROGRAMME_NAME) {
        const programme = res.locals.branding.name;
        const plain = req.t;
        req.t = ((key: string, options?: unknown) =>
          plain(key, (typeof options === 'object' && options !== null ? { programme, ...options } : (options ?? { programme })) as never)) as TFunction;
        res.locals.t = req.t;
      }
      next();
    });
    // The host's routes are declared before the CSRF check is built: it must know which of them
    // take signed cross-site posts (one-click unsubscribe), as it knows the plugins' ones.
    const hostRouter = express.Router();
    const hostRouteList: DeclaredRoute[] = [];
    const hostRoutes = createPolicyRouter('host', hostRouter, undefined, (method, routePath, crossSite) => {
      hostRouteList.push({ owner: 'host', method, path: routePath });
      if (crossSite) runtime.crossSiteRoutes.push({ method, path: routePath });
    });
    mountPageRoutes(hostRoutes, runtime.extensions);
    mountAuthRoutes(hostRoutes, {
      passport: passport as never,
      models,
      users,
      events,
      extensions: runtime.extensions,
      loginRateLimit: config.LOGIN_RATE_LIMIT,
      secureCookies: config.secureCookies,
      registration: config.REGISTRATION !== 'off',
    });
    const limiterMessage = (req: express.Request) => {
      throw refusalFor(req, 429, 'TOO_MANY_ATTEMPTS', 'login.tooMany');
    };
    mountAccountRoutes(hostRoutes, { accounts, config, connection, onLimited: limiterMessage });
    mountAdminUserRoutes(hostRoutes, { users, models, accounts, mail, audit });
    mountAdminOperationsRoutes(hostRoutes, { jobs, mail, config });
    mountBrandingRoutes(hostRoutes, { branding, audit });
    mountMailRoutes(hostRoutes, { mail, extensions: runtime.extensions });
    // The host's routes are tried first, then each plugin's in boot order.
    checkRoutes([...hostRouteList, ...runtime.routes]);
    app.use(csrfUnlessCrossSite(csrf.csrfSynchronisedProtection, runtime.crossSiteRoutes));
    app.use(hostRouter);
    for (const p of loaded) app.use(p.prefix, p.router);

    app.use(notFoundHandler);
    // An error raised before the language middleware ran (an unreadable or oversized body) is still
    // shown in the reader's language: the handler chooses it as the middleware does.
    const pageLanguage = (req: express.Request, res: express.Response) => chooseLanguage(req, res, () => undefined);
    app.use(errorHandler(logger, () => pingDatabase(connection), pageLanguage));
    // Once more for errors raised after the error handler has answered: the session store failing
    // to save as an error page ends (the database is away) calls next(err) from where the chain
    // stands, past the handler above. Without a layer here Express's final handler would print the
    // stack outside the logs and destroy the socket of a response that was sent.
    app.use(errorHandler(logger, () => pingDatabase(connection), pageLanguage));

    const boot: BootReport = {
      totalMs: ms(t0),
      plugins: [
        { name: 'host', version: VERSION, registerMs: hostMs, startMs: 0 },
        ...loaded.map((p) => ({
          name: p.def.name,
          version: p.def.version,
          registerMs: Math.round(p.timings.registerMs * 10) / 10,
          startMs: Math.round((p.timings.startMs ?? 0) * 10) / 10,
        })),
      ],
    };
    let stopped: Promise<void> | undefined;
    app.olive = {
      config,
      connection,
      logger,
      boot,
      users,
      jobs,
      mail,
      version: VERSION,
      get stopping() {
        return stopping;
      },
      async ready() {
        return !stopping && (await pingDatabase(connection));
      },
      async seedDemo() {
        if (config.production) throw new HttpError(500, 'DEMO_IN_PRODUCTION', 'Demo data is never loaded in production.');
        await seedHost(users, runtime.fixturesDir);
        return ['host', ...(await seedPlugins(loaded, runtime.fixturesDir))];
      },
      async isEmpty() {
        return (await models.User.estimatedDocumentCount()) === 0;
      },
      drain() {
        stopping = true;
      },
      service<T>(ref: ServiceRef<T>): T {
        if (!runtime.services.has(ref.id))
          throw new OliveError('OLIVE_SERVICE_NOT_PROVIDED', `no enabled plugin provides service '${ref.id}'`, { plugins: [ref.owner] });
        return runtime.services.get(ref.id) as T;
      },
      stop() {
        stopping = true;
        stopped ??= (async () => {
          sessions?.stop();
          await jobs.stop();
          await stopPlugins(loaded, config.SHUTDOWN_TIMEOUT_MS, logger);
          mail.close();
          unwatch();
          await connection.close();
        })();
        return stopped;
      },
    };
    jobs.start();
    unwatch = watchConnection(connection, uri, logger);
    return app;
  } catch (err) {
    sessions?.stop();
    await jobs.stop();
    mail.close();
    await connection.close().catch(() => undefined);
    throw err;
  }
}
