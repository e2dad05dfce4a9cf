import type express from 'express';
import { guard, isAccessPolicy, type AccessPolicy } from './access.ts';
import { OliveError } from './errors.ts';
import type { Handler, PluginRouter } from './plugin.ts';

/**
 * Wraps an Express router so that every route must name its access policy: the host's own routes
 * and every plugin's go through here, so no route exists without one.
 */
export function createPolicyRouter(owner: string, router: express.Router, beforeAdd: () => void = () => undefined): PluginRouter {
  const add = (method: 'get' | 'post' | 'put' | 'patch' | 'delete') =>
    (routePath: string, policy: AccessPolicy, ...handlers: Handler[]) => {
      beforeAdd();
      if (!isAccessPolicy(policy)) {
        throw new OliveError('OLIVE_ROUTE_WITHOUT_POLICY',
          `plugin '${owner}': route ${method.toUpperCase()} ${routePath} must name who may use it (allow.public, allow.signedIn, allow.roles(...), allow.when(...))`,
          { plugins: [owner] });
      }
      router[method](routePath, guard(policy), ...handlers);
    };
  return { get: add('get'), post: add('post'), put: add('put'), patch: add('patch'), delete: add('delete') };
}
