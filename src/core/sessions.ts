import MongoStore from 'connect-mongo';
import session, { type SessionData } from 'express-session';
import type { NextFunction, Request, Response } from 'express';
import type { Connection } from 'mongoose';
import type { Logger } from 'pino';
import type { HostConfig } from './config.ts';
import { readByKeys, type KeyedCollection } from './keyed-reads.ts';

export const SESSION_COOKIE = 'olive.sid';

/**
 * connect-mongo reads a session with `{ _id, $or: [no expiry, not expired] }`. FerretDB (1.24,
 * SQLite) narrows a query in SQL only when its filter is `_id` alone: any other filter reads the
 * whole collection, so every request scanned every session ever started. This store reads by
 * `_id` alone and checks the expiry itself; on MongoDB both are one index look-up.
 */
/**
 * What a session held when `saveBeforeRedirect` stored it (a symbol: never stored, never hashed).
 * express-session writes the session once more as the redirect ends (always after a sign-in, which
 * regenerates the session; a touch when one is due), and it sends the redirect before that write
 * is done. The browser's next page may then store something (a form token, a flash message taken)
 * that the late write overwrites: a form refused as expired, a message shown twice. Measured: 1 in
 * 40 sign-ins lost the token of the page that followed (bench/web.bench.ts, then a repro). So a
 * write of exactly what was just saved is skipped.
 */
const SAVED = Symbol('olive.savedBeforeRedirect');
type MarkedSession = SessionData & { [SAVED]?: string };
/** The session's own content: not its cookie, nor the store's `lastModified` (connect-mongo removes it as it saves). */
const contentOf = (session: SessionData) =>
  JSON.stringify(session, function (key, value: unknown) {
    return this === session && (key === 'cookie' || key === 'lastModified') ? undefined : value;
  });
const savedAlready = (session: SessionData) => (session as MarkedSession)[SAVED] !== undefined && (session as MarkedSession)[SAVED] === contentOf(session);

class SessionStore extends MongoStore {
  override set(sid: string, session: SessionData, callback?: (err?: unknown) => void): void {
    if (savedAlready(session)) return callback?.();
    super.set(sid, session, callback);
  }

  override touch(sid: string, session: SessionData & { lastModified?: Date }, callback?: (err?: unknown) => void): void {
    // The save before the redirect has just moved the expiry.
    if (savedAlready(session)) return callback?.();
    super.touch(sid, session, callback);
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.collectionP
      // Shared with the other look-ups of this turn (keyed-reads.ts): every request reads its session.
      .then(async (sessions) => (await readByKeys<{ session: unknown; expires?: Date; lastModified?: Date }>(sessions as unknown as KeyedCollection, [sid]))[0])
      .then((doc) => {
        if (!doc || (doc.expires && doc.expires <= new Date())) return callback(null, null);
        // As connect-mongo's own get does with touchAfter: touch() skips the write when recent.
        const session = doc.session as SessionData & { lastModified?: Date };
        if (doc.lastModified) session.lastModified = doc.lastModified as Date;
        callback(null, session);
      })
      .catch((err: unknown) => callback(err));
  }
}
export const SESSIONS_COLLECTION = 'host_sessions';

/**
 * Sessions in MongoDB, shared by every app instance. connect-mongo's own expiry relies on a TTL
 * index, which FerretDB lacks: we remove expired sessions ourselves, as a recurring job.
 */
export function createSessions(connection: Connection, config: HostConfig, logger: Logger) {
  const maxAgeMs = config.SESSION_MAX_AGE_HOURS * 3600 * 1000;
  const store = new SessionStore({
    client: connection.getClient(),
    dbName: connection.db!.databaseName,
    collectionName: SESSIONS_COLLECTION,
    autoRemove: 'disabled',
    stringify: false,
    ttl: maxAgeMs / 1000,
    // A session's expiry moves forward at most once a minute, not with every page: each move is
    // a database write, and with SQLite behind FerretDB writes queue behind one another.
    touchAfter: 60,
  });
  const middleware = session({
    name: SESSION_COOKIE,
    secret: config.SESSION_SECRET,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, maxAge: maxAgeMs },
  });

  const removeExpired = async () => {
    try {
      const { deletedCount } = await connection.collection(SESSIONS_COLLECTION).deleteMany({ expires: { $lt: new Date() } });
      if (deletedCount) logger.debug({ deletedCount }, 'removed expired sessions');
    } catch (err) {
      logger.warn({ err }, 'could not remove expired sessions (will retry)');
    }
  };
  // Run every ten minutes by the job service (`host.sessions-cleanup`), on one instance at a time.
  return { middleware, removeExpired, stop: () => undefined };
}

/**
 * express-session saves a changed session as the response ends, but a redirect's headers can reach
 * the browser first; the browser's next request then reads the session without what this request
 * stored (a flash message, the newly signed-in user). So every redirect waits for the save.
 */
export function saveBeforeRedirect(req: Request, res: Response, next: NextFunction) {
  const redirect = res.redirect.bind(res) as (...args: unknown[]) => void;
  res.redirect = ((...args: unknown[]) => {
    if (!req.session) return redirect(...args);
    // What this save writes: a change made while it runs is not covered, and is written as the response ends.
    const content = contentOf(req.session);
    req.session.save((err) => {
      if (err) return next(err);
      Object.defineProperty(req.session, SAVED, { value: content, configurable: true, enumerable: false, writable: true });
      redirect(...args);
    });
  }) as Response['redirect'];
  next();
}
