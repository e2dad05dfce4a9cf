import http from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { createApp, type BootReport, type OliveApp } from './core/app.ts';
import { loadConfigFile } from './core/config-file.ts';
import { loadDotEnv, loadHostConfig, type HostConfig } from './core/config.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './core/embedded-db.ts';
import { OliveError } from './core/errors.ts';
import { startMailpit, type LocalMailServer } from './core/mail/mailpit.ts';

/** The tree printed at boot: each plugin with its register and start times. */
export function formatBootReport(report: BootReport, url: string): string {
  const width = Math.max(...report.plugins.map((p) => p.name.length));
  const lines = report.plugins.map((p, i) => {
    const branch = i === report.plugins.length - 1 ? '└─' : '├─';
    return `  ${branch} ${p.name.padEnd(width)}  ${p.version.padEnd(8)} register ${p.registerMs.toFixed(1).padStart(6)} ms  start ${p.startMs.toFixed(1).padStart(6)} ms`;
  });
  return [`Olive ready in ${Math.round(report.totalMs)} ms at ${url}`, ...lines].join('\n');
}

export interface Started {
  app: OliveApp;
  server: http.Server;
  config: HostConfig;
  database?: EmbeddedDatabase | undefined;
  mailServer?: LocalMailServer | undefined;
  shutdown(signal?: string): Promise<void>;
}

/**
 * Opens the app's database: the configured MongoDB, or else the embedded FerretDB under the data
 * folder. Returns what createApp needs and what must be stopped with the app.
 */
export async function openDatabase(config: HostConfig, logger: Logger) {
  if (config.MONGODB_URI) return { uri: config.MONGODB_URI, embedded: undefined };
  const embedded = await startEmbeddedDatabase({ dataDir: path.join(config.dataDir, 'ferretdb'), log: (l) => logger.info(l) });
  logger.info({ dataDir: embedded.dataDir, port: embedded.port }, 'embedded database (FerretDB) started');
  return { uri: embedded.uri, embedded, dbName: 'olive' };
}

/** Starts the whole server: database, app, demo data on a first start, HTTP listener, signal handling. */
export async function serve(): Promise<Started> {
  loadDotEnv();
  let config = loadHostConfig();
  const logger = pino({ level: config.LOG_LEVEL, ...(process.stdout.isTTY && !config.production ? { transport: { target: 'pino-pretty' } } : {}) });
  const { plugins, pluginConfig } = await loadConfigFile(config.OLIVE_CONFIG);
  const db = await openDatabase(config, logger);
  // Development without a mail server of its own: a local one, so that every mail the demo sends
  // can be read (on the admin page *Mail*, and through the local server's API).
  let mailServer: LocalMailServer | undefined;
  if (!config.SMTP_URL && !config.production) {
    try {
      mailServer = await startMailpit({ dataDir: path.join(config.dataDir, 'mailpit') });
    } catch (err) {
      await db.embedded?.stop();
      throw err;
    }
    config = { ...config, SMTP_URL: mailServer.smtpUrl };
    logger.info({ smtp: mailServer.smtpUrl, api: mailServer.httpUrl }, 'development mail server (Mailpit) started');
  }
  if (config.production && !config.SMTP_URL)
    logger.warn('SMTP_URL is not set: no e-mail is sent (invitations, password resets and notifications wait in the outbox)');
  let app: OliveApp;
  try {
    app = await createApp({
      config,
      plugins,
      pluginConfig,
      mongodbUri: db.uri,
      dbName: db.dbName,
      logger,
      ...(mailServer ? { devInbox: mailServer.httpUrl } : {}),
    });
  } catch (err) {
    await mailServer?.stop();
    await db.embedded?.stop();
    throw err;
  }
  if (db.embedded && !config.production && config.DEMO_DATA === 'auto' && (await app.olive.isEmpty())) {
    logger.info('first start on an empty database: loading the PPCP demo programme');
    const seeded = await app.olive.seedDemo();
    logger.info({ seeded }, 'demo programme loaded (accounts: see README)');
  }
  if (!config.production && !config.METRICS_TOKEN) logger.debug('METRICS_TOKEN is not set: /metrics is open');
  if (config.production && !config.METRICS_TOKEN) logger.warn('METRICS_TOKEN is not set: /metrics is readable by anyone who can reach the app');

  const server = http.createServer(app);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
  } catch (err) {
    await app.olive.stop();
    await mailServer?.stop();
    await db.embedded?.stop();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new OliveError(
        'OLIVE_PORT_IN_USE',
        `Port ${config.PORT} on ${config.HOST} is already in use: stop the other program, or choose another port with PORT=3001.`,
      );
    if (code === 'EACCES') throw new OliveError('OLIVE_PORT_DENIED', `Not allowed to listen on port ${config.PORT}: choose a port above 1024 with PORT.`);
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  process.stdout.write(`${formatBootReport(app.olive.boot, `http://${config.HOST}:${port}`)}\n`);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (signal = 'shutdown') => {
    shuttingDown ??= (async () => {
      logger.info({ signal }, 'stopping: no new connections; finishing requests in flight');
      app.olive.drain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        logger.warn('requests still running after the shutdown timeout: closing their connections');
        server.closeAllConnections();
      }, config.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
      await app.olive.stop();
      await mailServer?.stop();
      await db.embedded?.stop();
      logger.info('stopped');
    })();
    return shuttingDown;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      shutdown(signal).then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  return { app, server, config, database: db.embedded, mailServer, shutdown };
}
