import type express from 'express';
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

/**
 * Wraps an Express router so that every route must name its access policy: the host's own routes
 * and every plugin's go through here, so no route exists without one.
 */
export function createPolicyRouter(
  owner: string,
  router: express.Router,
  beforeAdd: () => void = () => undefined,
  onCrossSiteRoute: (method: RouteMethod, routePath: string) => void = () => undefined,
): PluginRouter {
  const add = (method: RouteMethod) =>
    (routePath: string, policy: AccessPolicy, ...handlers: Handler[]) => {
      beforeAdd();
      if (!isAccessPolicy(policy)) {
        throw new OliveError('OLIVE_ROUTE_WITHOUT_POLICY',
          `plugin '${owner}': route ${method.toUpperCase()} ${routePath} must name who may use it (allow.public, allow.signedIn, allow.roles(...), allow.when(...))`,
          { plugins: [owner] });
      }
      if (policy.crossSite) onCrossSiteRoute(method, routePath);
      router[method](routePath, guard(policy), ...handlers);
    };
  return { get: add('get'), post: add('post'), put: add('put'), patch: add('patch'), delete: add('delete') };
}
