import mongoose, { type Connection } from 'mongoose';

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
