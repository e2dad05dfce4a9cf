/**
 * Typed references: the way plugins name each other's services, events and extension points without
 * importing each other's code. A plugin's `contract.ts` exports refs; other plugins import only that
 * file. Every ref names the plugin that owns it, which is how the loader orders plugins and reports
 * a missing requirement by name.
 */

declare const phantom: unique symbol;

export interface ServiceRef<T> {
  readonly kind: 'service';
  /** The plugin that provides it ('host' for the host's own services). */
  readonly owner: string;
  /** Unique id, `<owner>.<name>`. */
  readonly id: string;
  readonly [phantom]?: T;
}

export interface EventRef<P> {
  readonly kind: 'event';
  readonly owner: string;
  /** `<plugin>.<noun>.<pastVerb>`, e.g. `enrolment.enrolment.created`. */
  readonly id: string;
  readonly [phantom]?: P;
}

export interface ExtensionPoint<T> {
  readonly kind: 'extension';
  readonly owner: string;
  readonly id: string;
  readonly [phantom]?: T;
}

export type AnyRef = ServiceRef<unknown> | EventRef<unknown> | ExtensionPoint<unknown>;

const NAME = /^[a-z][a-z0-9-]*$/;

function owned(kind: AnyRef['kind'], id: string, minParts: number): { owner: string; id: string } {
  const parts = id.split('.');
  if (parts.length < minParts || parts.some((p) => !/^[a-zA-Z][a-zA-Z0-9-]*$/.test(p)) || !NAME.test(parts[0]!)) {
    throw new TypeError(`Invalid ${kind} id '${id}': expected '<plugin>.<name>'${kind === 'event' ? ' (events: <plugin>.<noun>.<pastVerb>)' : ''}`);
  }
  return { owner: parts[0]!, id };
}

/** A service one plugin provides (`ctx.provide`) and others use (`ctx.get`). */
export function defineService<T>(id: string): ServiceRef<T> {
  return Object.freeze({ kind: 'service', ...owned('service', id, 2) });
}

/** An event: a fact that happened, with a payload listeners receive frozen. */
export function defineEvent<P>(id: string): EventRef<P> {
  return Object.freeze({ kind: 'event', ...owned('event', id, 3) });
}

/** A place where other plugins contribute values (sign-in methods, dashboard panels, navigation...). */
export function defineExtensionPoint<T>(id: string): ExtensionPoint<T> {
  return Object.freeze({ kind: 'extension', ...owned('extension', id, 2) });
}

/** A service implementation that replaces the one its plugin provides (see `overrideService`). */
export interface ServiceOverride {
  readonly ref: ServiceRef<unknown>;
  readonly impl: unknown;
}

/**
 * Replaces a plugin's service for the plugins that use it (`createApp({ services: [...] })`):
 * how a test boots the real plugins with one collaborator of its own, without copying any
 * plugin's `register`. The owner's `provide` of that service is then ignored.
 */
export function overrideService<T>(ref: ServiceRef<T>, impl: T): ServiceOverride {
  return Object.freeze({ ref: ref as ServiceRef<unknown>, impl });
}

export const isValidPluginName = (name: string) => NAME.test(name) && name !== 'host';
