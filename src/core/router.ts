import type express from 'express';
import { match } from 'path-to-regexp';
import { guard, isAccessPolicy, type AccessPolicy } from './access.ts';
import { OliveError } from './errors.ts';
import type { Handler, PluginRouter } from './plugin.ts';

export type RouteMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A route that accepts cross-site posts (see `allow.signedMessage`): the CSRF check skips it. */
export interface CrossSiteRoute {
  method: RouteMethod;
  /** Full path pattern, prefix included, in Express syntax. */
  path: string;
}

/** A route as declared, for the boot-time checks: who declared it, and its full path. */
export interface DeclaredRoute {
  owner: string;
  method: RouteMethod;
  /** Full path pattern, prefix included, in Express syntax. */
  path: string;
}

/**
 * Wraps an Express router so that every route must name its access policy: the host's own routes
 * and every plugin's go through here, so no route exists without one. `onRoute` hears each route
 * declared (its path as given, without the router's mount prefix).
 */
export function createPolicyRouter(
  owner: string,
  router: express.Router,
  beforeAdd: () => void = () => undefined,
  onRoute: (method: RouteMethod, routePath: string, crossSite: boolean) => void = () => undefined,
): PluginRouter {
  const add =
    (method: RouteMethod) =>
    (routePath: string, policy: AccessPolicy, ...handlers: Handler[]) => {
      beforeAdd();
      if (!isAccessPolicy(policy)) {
        throw new OliveError(
          'OLIVE_ROUTE_WITHOUT_POLICY',
          `plugin '${owner}': route ${method.toUpperCase()} ${routePath} must name who may use it (allow.public, allow.signedIn, allow.roles(...), allow.when(...))`,
          { plugins: [owner] },
        );
      }
      onRoute(method, routePath, !!policy.crossSite);
      router[method](routePath, guard(policy), ...handlers);
    };
  return { get: add('get'), post: add('post'), put: add('put'), patch: add('patch'), delete: add('delete') };
}

/** A path the pattern's own parameters could take: each `:name` as a value no literal route uses. */
const samplePath = (pattern: string) => pattern.replace(/:(\w+)/g, 'x-$1-0').replace(/\*(\w+)/g, 'x-$1-0/x');

/**
 * Refuses, at boot, a route nobody can reach: the same method and path declared twice (by one
 * owner or two), or a route that an earlier one answers first (`/courses/:slug` before
 * `/courses/manage`). `routes` are in the order the app tries them. A message names both.
 */
export function checkRoutes(routes: readonly DeclaredRoute[]): void {
  const problems: string[] = [];
  const owners = new Set<string>();
  const normalised = (p: string) =>
    p
      .replace(/:(\w+)/g, ':p')
      .replace(/\*(\w+)/g, '*p')
      .replace(/(.)\/$/, '$1');
  routes.forEach((later, i) => {
    for (const earlier of routes.slice(0, i)) {
      if (earlier.method !== later.method) continue;
      const what = `${later.method.toUpperCase()} ${later.path} (${later.owner})`;
      if (normalised(earlier.path) === normalised(later.path)) {
        problems.push(`${what} is declared twice: ${earlier.path} (${earlier.owner}) already answers it`);
      } else if (match(earlier.path, { decode: false })(samplePath(later.path))) {
        problems.push(`${what} is never reached: ${earlier.path} (${earlier.owner}), declared before it, answers it first`);
      } else continue;
      owners.add(earlier.owner).add(later.owner);
      break;
    }
  });
  if (problems.length) {
    throw new OliveError('OLIVE_ROUTE_UNREACHABLE', `Routes that can never answer:\n  - ${problems.join('\n  - ')}`, {
      plugins: [...owners].filter((o) => o !== 'host'),
    });
  }
}
