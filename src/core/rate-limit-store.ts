import crypto from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type ClientRateLimitInfo, type Options, type Store } from 'express-rate-limit';
import mongoose, { type Connection, type Model } from 'mongoose';
import { isDuplicateKey } from './errors.ts';
import { findByKeys } from './keyed-reads.ts';

export const RATE_LIMITS_COLLECTION = 'host_rate_limits';

/**
 * One document per fact, each inserted once under a meaningful `_id`, never updated: FerretDB
 * applies an update as read-then-write, so a counter `$inc`ed by two instances at once could
 * lose a hit. For a key `K` of a limiter:
 *
 * - `K|w|<bucket>` starts a window (`start`): the bucket is `floor(start / windowMs)`, so the
 *   window running now, if any, was started in this bucket or the one before; two reads by `_id`.
 * - `K|<start>|h|<n>` is the n-th hit of that window, `K|<start>|c|<n>` the n-th hit taken back
 *   (a success, for limiters that count failures only). A hit takes the next free number: an
 *   insert, retried with the next number on a duplicate key, so concurrent hits on any number of
 *   instances get distinct numbers 1, 2, 3… and the run has no gaps.
 *
 * `expiresAt` is the window's end: every instance deletes what has expired, at most once a minute
 * (FerretDB has no TTL index). The collection only ever holds running windows, so that delete,
 * which reads the whole collection on FerretDB, stays small.
 */
interface RateLimitDoc {
  _id: string;
  /** Windows only: when the window started (ms since the epoch). */
  start?: number;
  expiresAt: Date;
}

const schema = new mongoose.Schema<RateLimitDoc>(
  {
    _id: { type: String, required: true },
    start: { type: Number },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, collection: RATE_LIMITS_COLLECTION },
);

function modelOf(connection: Connection): Model<RateLimitDoc> {
  return (connection.models.host_rate_limit as Model<RateLimitDoc> | undefined) ?? connection.model<RateLimitDoc>('host_rate_limit', schema);
}

const CLEAN_UP_EVERY_MS = 60_000;
const lastCleanUp = new WeakMap<Connection, number>();

/** Deletes the documents of every window that has ended; returns how many. */
export async function removeExpiredRateLimits(connection: Connection): Promise<number> {
  const { deletedCount } = await modelOf(connection).collection.deleteMany({ expiresAt: { $lt: new Date() } });
  return deletedCount;
}

/** The clean-up, at most once a minute per connection, as a side effect of counting (so no timer to stop). */
function cleanUpNowAndThen(connection: Connection) {
  const now = Date.now();
  if (now - (lastCleanUp.get(connection) ?? 0) < CLEAN_UP_EVERY_MS) return;
  lastCleanUp.set(connection, now);
  // A failed clean-up is retried a minute later; the outage behind it answers the request itself.
  removeExpiredRateLimits(connection).catch(() => undefined);
}

/** Offsets probed at once past what is known: the next 16, then doubling up to about a million. */
const PROBES = [...Array.from({ length: 16 }, (_, i) => i + 1), ...Array.from({ length: 16 }, (_, i) => 2 ** (i + 5))];

/**
 * How many numbered documents `<prefix>|1`, `<prefix>|2`, … each run has. A number is only ever
 * claimed once the one before it was seen, so a number seen present means all below it are: a run
 * is found with one read of a few ids (counts up to 16), or a few more, halving the gap each time.
 * (findNumbered reads in fixed batches; a limiter hammered thousands of times would make it read
 * hundreds of times.)
 */
async function runLengths(model: Model<RateLimitDoc>, prefixes: string[], known: number[] = prefixes.map(() => 0)): Promise<number[]> {
  const lengths = [...known];
  let open = prefixes.map((_, i) => i);
  while (open.length) {
    const probes = open.flatMap((i) => PROBES.map((offset) => ({ i, offset, id: `${prefixes[i]}|${lengths[i]! + offset}` })));
    const present = new Set(
      (
        await findByKeys(
          model,
          probes.map((p) => p.id),
          { expiresAt: 1 },
        )
      ).map((doc) => doc._id),
    );
    const stillOpen: number[] = [];
    for (const i of open) {
      const highest = probes.filter((p) => p.i === i && present.has(p.id)).reduce((max, p) => Math.max(max, p.offset), 0);
      lengths[i] = lengths[i]! + highest;
      // Within the first 16 the next number was probed and is free; past them, the gap up to the
      // next probe is unknown: probe again from the highest seen.
      if (highest >= 16) stillOpen.push(i);
    }
    open = stillOpen;
  }
  return lengths;
}

const digest = (text: string) => crypto.createHash('sha256').update(text).digest('base64url');

/**
 * express-rate-limit's `Store`, in MongoDB or FerretDB, shared by every app instance on the
 * database: a limit holds across all of them, whichever instance each attempt reaches. Windows are
 * fixed, starting at a key's first hit (as the library's memory store does).
 */
export class MongoRateLimitStore implements Store {
  readonly localKeys = false;
  readonly prefix: string;
  private windowMs = 60_000;
  private limit: number | undefined;
  private readonly model: Model<RateLimitDoc>;

  constructor(
    private readonly connection: Connection,
    name: string,
  ) {
    this.prefix = `${name}|`;
    this.model = modelOf(connection);
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
    // Past the limit a hit is refused whatever its number: it need not be written.
    this.limit = typeof options.limit === 'number' ? options.limit : undefined;
  }

  /** A key as stored: hashed, so that documents have short ids and hold no address or e-mail. */
  private base(key: string) {
    return digest(`${this.prefix}${key}`);
  }

  /** The start of the key's running window; with `open`, one is started now if none runs. */
  private async windowOf(base: string, now: number, open: boolean): Promise<number | undefined> {
    const bucket = Math.floor(now / this.windowMs);
    const ids = [`${base}|w|${bucket - 1}`, `${base}|w|${bucket}`];
    for (let attempt = 0; attempt < 2; attempt++) {
      const windows = await findByKeys(this.model, ids);
      // The earliest running one: were two started at once across a bucket boundary, every
      // instance still counts in the same one from then on.
      const running = windows
        .map((w) => w.start!)
        .filter((start) => start + this.windowMs > now)
        .sort((a, b) => a - b)[0];
      if (running !== undefined || !open) return running;
      try {
        await this.model.collection.insertOne({ _id: ids[1]!, start: now, expiresAt: new Date(now + this.windowMs) } as never);
        return now;
      } catch (err) {
        // Another instance started this window a moment ago: read its start.
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error('rate limit window could not be read or started');
  }

  private counted(hits: number, credits: number) {
    return Math.max(hits - credits, 0);
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const now = Date.now();
    const base = this.base(key);
    const start = await this.windowOf(base, now, false);
    if (start === undefined) return undefined;
    const [hits, credits] = await runLengths(this.model, [`${base}|${start}|h`, `${base}|${start}|c`]);
    return { totalHits: this.counted(hits!, credits!), resetTime: new Date(start + this.windowMs) };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const now = Date.now();
    const base = this.base(key);
    cleanUpNowAndThen(this.connection);
    const start = (await this.windowOf(base, now, true))!;
    const resetTime = new Date(start + this.windowMs);
    const hitsOf = `${base}|${start}|h`;
    let [hits, credits] = (await runLengths(this.model, [hitsOf, `${base}|${start}|c`])) as [number, number];
    for (;;) {
      const totalHits = this.counted(hits + 1, credits);
      if (this.limit !== undefined && totalHits > this.limit) return { totalHits, resetTime };
      try {
        await this.model.collection.insertOne({ _id: `${hitsOf}|${hits + 1}`, expiresAt: resetTime } as never);
        // The library wants at least 1; more credits than hits only after a reset raced a success.
        return { totalHits: Math.max(totalHits, 1), resetTime };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another hit took this number (on this instance or another): find the next free one.
        [hits] = (await runLengths(this.model, [hitsOf], [hits + 1])) as [number];
      }
    }
  }

  async decrement(key: string): Promise<void> {
    try {
      await this.takeBack(key);
    } catch (err) {
      // The library takes a success back after the answer has gone; an app stopping meanwhile
      // closes the connection under it. Not taking it back only errs on the strict side.
      if (this.connection.readyState === mongoose.ConnectionStates.connected) throw err;
    }
  }

  private async takeBack(key: string): Promise<void> {
    const now = Date.now();
    const base = this.base(key);
    const start = await this.windowOf(base, now, false);
    if (start === undefined) return;
    const hitsOf = `${base}|${start}|h`;
    const creditsOf = `${base}|${start}|c`;
    let [hits, credits] = (await runLengths(this.model, [hitsOf, creditsOf])) as [number, number];
    // A hit of a window reset since (resetKey) is not taken back from the new one.
    while (credits < hits) {
      try {
        await this.model.collection.insertOne({ _id: `${creditsOf}|${credits + 1}`, expiresAt: new Date(start + this.windowMs) } as never);
        return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        [hits, credits] = (await runLengths(this.model, [hitsOf, creditsOf], [hits, credits + 1])) as [number, number];
      }
    }
  }

  /**
   * Forgets the key's window: the next hit starts a new one. Its hits stay in the database until
   * the window's end, unreachable (a new window has other ids).
   */
  async resetKey(key: string): Promise<void> {
    const base = this.base(key);
    const bucket = Math.floor(Date.now() / this.windowMs);
    await this.model.collection.deleteMany({ _id: { $in: [`${base}|w|${bucket - 1}`, `${base}|w|${bucket}`] } } as never);
  }
}

export interface SharedRateLimitOptions {
  /** The app's database connection (a plugin's `ctx.connection`). */
  connection: Connection;
  /** Names the limiter (`host.login`, `certificates.verify`): two limiters never share counts. */
  name: string;
  windowMs: number;
  /** Attempts allowed per key in a window. */
  limit: number;
  /** Whose attempts these are: an address (`addressKey(req)`), an account, an address and an e-mail… */
  key: (req: Request) => string;
  /** Called past the limit: throw an HttpError (429), which the error handler renders. */
  onLimited: (req: Request) => never | void;
  /** Count failures only: an answer below 400 takes its hit back. */
  skipSuccessfulRequests?: boolean;
  /** The IETF `RateLimit` headers to send (the library's `standardHeaders`). */
  standardHeaders?: 'draft-7' | 'draft-8';
}

/** The client's address as a rate-limit key (IPv6 addresses by their /56, as the library advises). */
export const addressKey = (req: Request) => ipKeyGenerator(req.ip ?? '');

/**
 * A rate limit counted in the database, so that it holds across every app instance (and survives a
 * restart). When the database cannot be reached the request fails with the error handler's 503,
 * like any other request needing the database, rather than going through unlimited: a limiter that
 * let everyone through while it cannot count would be off exactly when an outage makes it unobserved.
 */
export function sharedRateLimit(options: SharedRateLimitOptions): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    standardHeaders: options.standardHeaders ?? 'draft-8',
    legacyHeaders: false,
    skipSuccessfulRequests: options.skipSuccessfulRequests ?? false,
    passOnStoreError: false,
    store: new MongoRateLimitStore(options.connection, options.name),
    keyGenerator: (req) => options.key(req),
    handler: (req, _res, next) => {
      try {
        options.onLimited(req);
      } catch (err) {
        next(err);
      }
    },
  });
}
