import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createApp } from './core/app.ts';
import { loadConfigFile } from './core/config-file.ts';
import { loadDotEnv, loadHostConfig } from './core/config.ts';
import { ensureFerretdbBinary } from './core/embedded-db.ts';
import { ensureMailpitBinary } from './core/mail/mailpit.ts';
import { OliveError } from './core/errors.ts';
import { openDatabase, serve } from './server.ts';
import { PASSWORD_MIN_LENGTH } from './core/auth/password.ts';

const HELP = `Usage: olive <command>

Commands:
  serve          start the web app (default); on an empty embedded database, loads the demo
  seed           load the PPCP demo programme (accounts and each plugin's demo data); idempotent
  create-admin   create an administrator:  olive create-admin --email a@b.org --name "A. Person"
                 the password is read from OLIVE_ADMIN_PASSWORD or, if unset, from standard input
  build-db       build the embedded database program (FerretDB) now instead of on first use
  build-mail     build the development mail server (Mailpit) now instead of on first use
  help           show this text

Configuration comes from environment variables and .env (see README).`;

/** Runs a task against the app without listening, with the same database the server would use. */
async function withApp<T>(task: (app: Awaited<ReturnType<typeof createApp>>) => Promise<T>): Promise<T> {
  loadDotEnv();
  const config = loadHostConfig();
  const logger = pino({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL });
  const { plugins, pluginConfig } = await loadConfigFile(config.OLIVE_CONFIG);
  const db = await openDatabase(config, logger);
  try {
    const app = await createApp({ config, plugins, pluginConfig, mongodbUri: db.uri, dbName: db.dbName, logger });
    try {
      return await task(app);
    } finally {
      await app.olive.stop();
    }
  } finally {
    await db.embedded?.stop();
  }
}

async function readPassword(): Promise<string> {
  if (process.env.OLIVE_ADMIN_PASSWORD) return process.env.OLIVE_ADMIN_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write('Password (input is shown; or set OLIVE_ADMIN_PASSWORD): ');
  let data = '';
  for await (const chunk of process.stdin) {
    data += chunk;
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0] ?? '';
}

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      await serve();
      return -1; // keep running
    case 'seed': {
      const seeded = await withApp((app) => app.olive.seedDemo());
      process.stdout.write(`Demo data loaded for: ${seeded.join(', ')}\n`);
      return 0;
    }
    case 'create-admin': {
      const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, name: { type: 'string' } } });
      if (!values.email || !values.name) throw new OliveError('OLIVE_USAGE', 'create-admin needs --email and --name');
      const password = await readPassword();
      if (password.length < PASSWORD_MIN_LENGTH) throw new OliveError('OLIVE_USAGE', `The password must have at least ${PASSWORD_MIN_LENGTH} characters.`);
      const user = await withApp((app) => app.olive.users.create({ email: values.email!, name: values.name!, password, roles: ['admin'] }, 'cli'));
      process.stdout.write(`Administrator ${user.email} created.\n`);
      return 0;
    }
    case 'build-db':
      process.stdout.write(`${await ensureFerretdbBinary()}\n`);
      return 0;
    case 'build-mail':
      process.stdout.write(`${await ensureMailpitBinary()}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`);
      return 0;
    default:
      process.stderr.write(`Unknown command '${command}'.\n\n${HELP}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const e = err as Error & { code?: string };
    // Known problems (configuration, plugins, usage) are explained without a stack trace.
    process.stderr.write(`olive: ${e instanceof OliveError || e?.name === 'HttpError' ? e.message : (e?.stack ?? String(err))}\n`);
    process.exit(1);
  },
);
