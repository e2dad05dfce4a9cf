import type { Request, RequestHandler, Router } from 'express';
import type { Connection, Model, Schema } from 'mongoose';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { AccessPolicy } from './access.ts';
import type { EventRef, ExtensionPoint, ServiceRef } from './refs.ts';
import type { EnqueueOptions, JobSummary, QueueOptions, RunningJob } from './jobs/jobs.service.ts';
import type { MailService } from './mail/mail.service.ts';

/**
 * A plugin's background work, on the host's one job service: queue names are the plugin's own
 * (`define('reminders', …)` is the queue `<plugin>.reminders`).
 */
export interface PluginJobs {
  /** Declares a queue and its worker. Register phase only. */
  define<P>(name: string, options: QueueOptions<P>): void;
  /** A job run every `everyMs` on one instance at a time (the first run soon after start). Register phase only. */
  every(name: string, everyMs: number, run: (job: RunningJob) => Promise<void>, options?: Omit<QueueOptions<unknown>, 'run'>): void;
  /** Records a job of one of the plugin's queues; the same key twice is one job. */
  enqueue<P>(name: string, payload: P, options?: EnqueueOptions): Promise<{ id: string; created: boolean }>;
  get(id: string): Promise<JobSummary | null>;
  /** Looks for due work now. */
  kick(): void;
}

/** A route handler, or middleware, as plugins write them: async functions may simply throw. */
export type Handler = RequestHandler;

/** A plugin's router: Express underneath, but every route names who may use it. */
export interface PluginRouter {
  get(path: string, policy: AccessPolicy, ...handlers: Handler[]): void;
  post(path: string, policy: AccessPolicy, ...handlers: Handler[]): void;
  put(path: string, policy: AccessPolicy, ...handlers: Handler[]): void;
  patch(path: string, policy: AccessPolicy, ...handlers: Handler[]): void;
  delete(path: string, policy: AccessPolicy, ...handlers: Handler[]): void;
}

/** Values computed from a cached model (see `PluginContext.cachedModel`). */
export interface ModelCache {
  /**
   * The value kept under `key` if no write went through the model since it was computed (on any
   * instance) and it is younger than the cache's maximum age; otherwise `load()`, kept for next
   * time. Shared between requests: callers must not modify it.
   */
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
}

/** What the host knows of itself and shares with plugins. */
export interface HostInfo {
  readonly baseUrl: string;
  readonly production: boolean;
  readonly version: string;
}

/** The context a plugin receives in every lifecycle function. */
export interface PluginContext<Config = unknown> {
  readonly name: string;
  /** The plugin's configuration, validated by its own schema before any plugin ran. */
  readonly config: Config;
  readonly logger: Logger;
  readonly host: HostInfo;
  /** The shared database connection (also for GridFS buckets). */
  readonly connection: Connection;
  /** The app's Prometheus registry: register the plugin's own metrics here. */
  readonly metrics: Registry;
  /** Background work (queued, retried, recurring jobs; one instance runs each). */
  readonly jobs: PluginJobs;
  /** E-mail through the outbox: `ctx.mail.send({ key, to, category, compose })`. */
  readonly mail: MailService;

  /** Declares a model; its collection is `<plugin>_<name>`. Register phase only. */
  model<T>(name: string, schema: Schema<T>): Model<T>;
  /**
   * Declares a model whose query results pages may keep (`cache.get(key, load)`): every write
   * through the model renews the cache on every instance, so no writer can forget to. For data
   * many pages read and few requests change. Register phase only.
   */
  cachedModel<T>(name: string, schema: Schema<T>, options?: { maxAgeMs?: number }): { model: Model<T>; cache: ModelCache };
  /** Routes, mounted under the plugin's prefix. Register phase only. */
  readonly router: PluginRouter;
  /** The plugin's view folder; its templates render as `<plugin>/<view>`. Register phase only. */
  views(dir: URL | string): void;
  /** The plugin's message catalogues (`<dir>/<lang>.json`), used as `t('<plugin>:key')`. Register phase only. */
  translations(dir: URL | string): void;

  on<P>(event: EventRef<P>, handler: (payload: Readonly<P>) => unknown): void;
  emit<P>(event: EventRef<P>, payload: P): Promise<void>;
  /** Makes a service available to the plugins that require it. Register phase only. */
  provide<T>(service: ServiceRef<T>, impl: T): void;
  /** A service this plugin declared in `requires` (or `optional`, then possibly undefined). */
  get<T>(service: ServiceRef<T>): T;
  getOptional<T>(service: ServiceRef<T>): T | undefined;
  /** Adds a value to another plugin's (or the host's) extension point. Register phase only. */
  contribute<T>(point: ExtensionPoint<T>, value: T): void;
  /** Everything contributed to an extension point, in boot order. */
  extensions<T>(point: ExtensionPoint<T>): readonly T[];
}

/** What `seed` receives: the plugin's context, and its demo data in `fixtures/<plugin>/`. */
export interface SeedContext<Config = unknown> extends PluginContext<Config> {
  /** Reads and parses `fixtures/<plugin>/<file>` (JSON). */
  readFixture<T = unknown>(file: string): Promise<T>;
  /** Absolute path of a file in `fixtures/<plugin>/`. */
  fixturePath(file: string): string;
}

/**
 * What a plugin does after it registered, returned by `register`: the functions close over what
 * `register` created (its models and services), so a plugin keeps its state in one place and the
 * same definition serves several apps in one process (tests, scale-out) without a look-up.
 */
export interface PluginLifecycle<Config = unknown> {
  /** Start background work; indexes of the plugin's models are already built. Bounded by a timeout. */
  start?(): unknown;
  /** Stop background work; called in reverse boot order. */
  stop?(): unknown;
  /** Load the plugin's demo data. Must be idempotent: it never overwrites what people changed. */
  seed?(ctx: SeedContext<Config>): unknown;
}

type AnyRequirement = ServiceRef<unknown> | EventRef<unknown> | ExtensionPoint<unknown>;

export interface PluginDefinition<Schema extends z.ZodType = z.ZodType> {
  /** Lower-case, letters, digits and dashes; also the default URL prefix and view namespace. */
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  /** Validates the plugin's configuration (defaults included) before any plugin registers. */
  readonly config?: Schema;
  /** Refs from other plugins' contracts this plugin cannot work without: boot order follows them. */
  readonly requires?: readonly AnyRequirement[];
  /** Refs the plugin uses when their owner is enabled (ordered after it then), and does without otherwise. */
  readonly optional?: readonly AnyRequirement[];
  /** Where the plugin's router is mounted; defaults to `/<name>`. Use '/' for root-level routes. */
  readonly prefix?: string;
  /**
   * Declare only: models, routes, views, listeners, services, contributions. No I/O. Returns what
   * the plugin does later (start, stop, seed), closing over what it declared here.
   */
  register(ctx: PluginContext<z.output<Schema>>): void | PluginLifecycle<z.output<Schema>> | Promise<void | PluginLifecycle<z.output<Schema>>>;
}

/** Declares a plugin. Returns the definition as is, typed, so that `config` types flow into `ctx`. */
export function definePlugin<Schema extends z.ZodType = z.ZodType>(def: PluginDefinition<Schema>): PluginDefinition<Schema> {
  return Object.freeze(def);
}

/** A navigation entry in the layout's main menu. */
export interface NavEntry {
  /** i18n key (e.g. 'announcements:nav') or literal text. */
  label: string;
  href: string;
  /** Shown only to people the policy allows. */
  policy: AccessPolicy;
  /** Lower comes first; the host's own entries use 0-9. */
  order?: number;
}

/** A sign-in method offered on the sign-in page, next to the local form. */
export interface SignInMethod {
  id: string;
  /** Button text, e.g. "UN staff (Unite ID)". */
  label: string;
  href: string;
}

/** A panel on a signed-in person's home page. */
export interface DashboardPanel {
  id: string;
  order?: number;
  /** View to render (e.g. 'announcements/panel') with the locals returned, or null to hide it. */
  render(req: Request): Promise<{ view: string; locals?: Record<string, unknown> } | null>;
}

export type { Router };
