import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';

/**
 * Reads shared by the parts of one page. The home page's panels come from several plugins, and
 * each asks for the same things (the learner's enrolments, their progress in a course); without
 * sharing, every panel read them again. Only GET and HEAD requests share: they read, so what
 * one part read is still true for the next. Requests that write never share (outside a page, as
 * in a job, nothing is shared either), so a read after a write always sees the write.
 */
const scope = new AsyncLocalStorage<Map<string, Promise<unknown>>>();

export function pageReadsMiddleware(req: Request, _res: Response, next: NextFunction) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return next();
  scope.run(new Map(), next);
}

/**
 * `load()` once per page and key (keys name the plugin and the arguments, e.g.
 * `courses.progress:<learner>:<course>:<edition>`); elsewhere simply `load()`. A failed read is
 * not kept: the next part tries again.
 */
export function readOncePerPage<T>(key: string, load: () => Promise<T>): Promise<T> {
  const reads = scope.getStore();
  if (!reads) return load();
  const known = reads.get(key) as Promise<T> | undefined;
  if (known) return known;
  const pending = load();
  reads.set(key, pending);
  pending.catch(() => reads.delete(key));
  return pending;
}

/**
 * Records by id, each shared with the page's other parts as `readOncePerPage` shares one read
 * (under `<prefix>:<id>`): the ids no part has asked for yet are loaded together with one call
 * of `loadMany`, which answers the ones it found. Outside a page, simply `loadMany`.
 */
export async function readEachOncePerPage<T>(
  prefix: string,
  ids: readonly string[],
  loadMany: (ids: string[]) => Promise<Map<string, T>>,
): Promise<Map<string, T>> {
  const unique = [...new Set(ids)];
  const reads = scope.getStore();
  if (!reads) return loadMany(unique);
  const missing = unique.filter((id) => !reads.has(`${prefix}:${id}`));
  if (missing.length) {
    const batch = loadMany(missing);
    for (const id of missing) {
      const one = batch.then((found) => found.get(id));
      reads.set(`${prefix}:${id}`, one);
      one.catch(() => reads.delete(`${prefix}:${id}`));
    }
  }
  // Every promise taken before any is awaited: a failed read removes its key, and must not then
  // look like a record that does not exist.
  const pending = unique.map((id) => [id, reads.get(`${prefix}:${id}`) as Promise<T | undefined>] as const);
  const found = new Map<string, T>();
  for (const [id, doc] of await Promise.all(pending.map(async ([id, p]) => [id, await p] as const))) {
    if (doc !== undefined) found.set(id, doc);
  }
  return found;
}
