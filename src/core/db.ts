import mongoose, { type Connection } from 'mongoose';
import type { Logger } from 'pino';

// Defence in depth against operator injection (`{"$gt": ""}` in a field): filters built from input
// can never carry operators. Operators we write ourselves are marked with mongoose.trusted().
mongoose.set('sanitizeFilter', true);
// Fail a query at once while the database is away (then 503) instead of queueing it in memory.
mongoose.set('bufferCommands', false);

export interface ConnectOptions {
  uri: string;
  dbName?: string | undefined;
}

/**
 * Opens a connection of the app's own (not mongoose's global one, so several apps can live in one
 * process, as in tests). The driver reconnects by itself when the server returns.
 */
export async function connectDatabase({ uri, dbName }: ConnectOptions): Promise<Connection> {
  const connection = mongoose.createConnection(uri, {
    ...(dbName ? { dbName } : {}),
    serverSelectionTimeoutMS: 5000,
    // Notice a returning server within about two seconds.
    heartbeatFrequencyMS: 2000,
    // A hello every heartbeat rather than the streaming protocol (awaitable hello): with FerretDB,
    // after a restart under load, the streaming monitor sometimes never reconnected, and the app
    // stayed "database unavailable" with the database back (test: import commit cut off by an outage).
    serverMonitoringMode: 'poll',
    // A server that accepts the connection but does not answer yet (starting up) holds a check for
    // this long before the next one: 10 s, not the driver's 30, so that a returning server is seen soon.
    connectTimeoutMS: 10_000,
  });
  await connection.asPromise();
  return connection;
}

/**
 * True when the database answers a ping within the time limit. The ping itself decides, not
 * mongoose's readyState: that follows the driver's topology events and can stay "disconnected"
 * after the server is back (queries go through the driver all the same, as bufferCommands is off).
 */
export async function pingDatabase(connection: Connection, timeoutMs = 2000): Promise<boolean> {
  if (!connection.db) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      connection.db
        .admin()
        .command({ ping: 1 })
        .then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reconnects a client that stopped seeing a server which answers others. Seen on FerretDB after a
 * restart under load: the app's pings failed for 90 s while a new client was answered at once, and
 * the driver never checked the server again. When the app's own pings have failed for `stuckMs`
 * and a new client's ping succeeds, the app's client is closed and connected again (models and
 * collections keep working: they go through the same client). Returns what stops the watch.
 */
export function watchConnection(connection: Connection, uri: string, logger: Logger, { everyMs = 3000, stuckMs = 15_000 } = {}): () => void {
  let failingSince: number | null = null;
  let busy = false;
  // A connection its owner closed stays closed; only the watch's own close is followed by a connect.
  let mending = false;
  let closedByOwner = false;
  connection.on('close', () => {
    if (!mending) closedByOwner = true;
  });
  const check = async () => {
    if (closedByOwner) return;
    if (await pingDatabase(connection)) {
      failingSince = null;
      return;
    }
    failingSince ??= Date.now();
    if (Date.now() - failingSince < stuckMs) return;
    // A database that is really away does not answer a new client either: then there is nothing to mend.
    const probe = new mongoose.mongo.MongoClient(uri, { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000 });
    const answers = await probe
      .db('admin')
      .command({ ping: 1 })
      .then(
        () => true,
        () => false,
      )
      .finally(() => probe.close());
    if (!answers) return;
    logger.warn({ failingForMs: Date.now() - failingSince }, 'the database answers a new client but not ours: reconnecting');
    const client = connection.getClient();
    mending = true;
    try {
      await client.close(true);
      await client.connect();
    } finally {
      mending = false;
    }
    failingSince = null;
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check()
      .catch((err: unknown) => logger.warn({ err }, 'could not reconnect to the database; trying again'))
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
