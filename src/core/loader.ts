import path from 'node:path';
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Connection, Model, Schema } from 'mongoose';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatIssues } from './config.ts';
import { OliveError } from './errors.ts';
import type { EventBus } from './events.ts';
import type { HostInfo, PluginContext, PluginDefinition, PluginLifecycle, SeedContext } from './plugin.ts';
import { createPolicyRouter, type CrossSiteRoute, type DeclaredRoute } from './router.ts';
import { isValidPluginName, type AnyRef, type ServiceRef } from './refs.ts';
import { renewOnWrite, stampedCache } from './stamped-cache.ts';
import type { JobsService } from './jobs/jobs.service.ts';
import type { MailService } from './mail/mail.service.ts';

/** What the host shares with the loader: the shared mechanisms every plugin context draws on. */
export interface HostRuntime {
  connection: Connection;
  logger: Logger;
  events: EventBus;
  metrics: Registry;
  host: HostInfo;
  services: Map<string, unknown>;
  /** Services replaced from outside (tests): a plugin's `provide` of one of these is ignored. */
  overridden: ReadonlySet<string>;
  extensions: Map<string, unknown[]>;
  /** View namespace ('announcements') to absolute folder. */
  viewDirs: Map<string, string>;
  /** i18n namespace to absolute folder of `<lang>.json` files. */
  translationDirs: Map<string, string>;
  fixturesDir: string;
  /** Routes declared with `allow.signedMessage`: the CSRF check lets their cross-site posts through. */
  crossSiteRoutes: CrossSiteRoute[];
  /** Every plugin route, in the order the app tries them (checked at boot: see checkRoutes). */
  routes: DeclaredRoute[];
  jobs: JobsService;
  mail: MailService;
}

export interface LoadedPlugin {
  def: PluginDefinition;
  config: unknown;
  ctx: PluginContext;
  /** What `register` returned: the plugin's start, stop and seed. */
  lifecycle: PluginLifecycle;
  prefix: string;
  router: express.Router;
  models: Model<unknown>[];
  timings: { registerMs: number; startMs?: number };
}

const toPath = (dir: URL | string) => (dir instanceof URL ? fileURLToPath(dir) : path.resolve(dir));
const ms = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e6;

/**
 * Checks names and every plugin's configuration before anything runs, reporting all problems at once.
 * Returns the validated configuration of each plugin, defaults applied.
 */
export function validatePlugins(defs: readonly PluginDefinition[], pluginConfig: Record<string, unknown>): Map<string, unknown> {
  const problems: string[] = [];
  const involved = new Set<string>();
  const seen = new Set<string>();
  for (const def of defs) {
    if (!isValidPluginName(def.name)) {
      problems.push(`plugin name '${def.name}' is invalid: use lower-case letters, digits and dashes (and not 'host')`);
      involved.add(def.name);
    } else if (seen.has(def.name)) {
      problems.push(`plugin '${def.name}' is enabled twice: plugin names must be unique`);
      involved.add(def.name);
    }
    seen.add(def.name);
  }
  if (problems.length) throw new OliveError('OLIVE_PLUGIN_DUPLICATE', `Cannot load plugins:\n  - ${problems.join('\n  - ')}`, { plugins: [...involved] });

  for (const key of Object.keys(pluginConfig)) {
    if (!seen.has(key)) {
      problems.push(`configuration is given for plugin '${key}', which is not enabled`);
      involved.add(key);
    }
  }
  const configs = new Map<string, unknown>();
  for (const def of defs) {
    const raw = pluginConfig[def.name] ?? {};
    if (!def.config) {
      configs.set(def.name, raw);
      continue;
    }
    const parsed = def.config.safeParse(raw);
    if (parsed.success) configs.set(def.name, parsed.data);
    else {
      problems.push(...formatIssues(parsed.error.issues, `plugin '${def.name}' config `));
      involved.add(def.name);
    }
  }
  if (problems.length) {
    throw new OliveError('OLIVE_PLUGIN_CONFIG_INVALID', `Invalid plugin configuration:\n  - ${problems.join('\n  - ')}`, { plugins: [...involved] });
  }
  return configs;
}

/**
 * Orders plugins so that each comes after the owners of what it requires (and of what it uses
 * optionally, when present). Among independent plugins the configured order is kept.
 */
export function orderPlugins(defs: readonly PluginDefinition[]): PluginDefinition[] {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const deps = new Map<string, Set<string>>();
  const missing: string[] = [];
  for (const def of defs) {
    const set = new Set<string>();
    for (const ref of def.requires ?? []) {
      if (ref.owner === 'host' || ref.owner === def.name) continue;
      if (!byName.has(ref.owner)) missing.push(`plugin '${def.name}' requires ${ref.kind} '${ref.id}' from plugin '${ref.owner}', which is not enabled`);
      else set.add(ref.owner);
    }
    for (const ref of def.optional ?? []) {
      if (ref.owner !== 'host' && ref.owner !== def.name && byName.has(ref.owner)) set.add(ref.owner);
    }
    deps.set(def.name, set);
  }
  if (missing.length) {
    const names = [...new Set(missing.flatMap((m) => [...m.matchAll(/plugin '([^']+)'/g)].map((x) => x[1]!)))];
    throw new OliveError('OLIVE_PLUGIN_MISSING_REQUIREMENT', `Missing requirements:\n  - ${missing.join('\n  - ')}`, { plugins: names });
  }

  const ordered: PluginDefinition[] = [];
  const done = new Set<string>();
  while (ordered.length < defs.length) {
    const next = defs.find((d) => !done.has(d.name) && [...deps.get(d.name)!].every((n) => done.has(n)));
    if (!next) {
      const cycle = findCycle(
        defs.filter((d) => !done.has(d.name)).map((d) => d.name),
        deps,
      );
      throw new OliveError('OLIVE_PLUGIN_CYCLE', `Plugins require each other in a cycle: ${cycle.join(' → ')}`, { plugins: [...new Set(cycle)] });
    }
    ordered.push(next);
    done.add(next.name);
  }
  return ordered;
}

function findCycle(remaining: string[], deps: Map<string, Set<string>>): string[] {
  // Every remaining plugin waits on another remaining one: walk until a name repeats.
  const walk: string[] = [];
  let current = remaining[0]!;
  while (!walk.includes(current)) {
    walk.push(current);
    current = [...deps.get(current)!].find((d) => remaining.includes(d))!;
  }
  return [...walk.slice(walk.indexOf(current)), current];
}

/** Builds the context a plugin sees; register-only methods refuse to run after the register phase. */
function createContext(
  def: PluginDefinition,
  config: unknown,
  rt: HostRuntime,
  loaded: Omit<LoadedPlugin, 'ctx' | 'lifecycle'>,
): { ctx: PluginContext; endRegister: () => void } {
  let registering = true;
  const name = def.name;
  const onlyInRegister = (what: string) => {
    if (!registering) throw new OliveError('OLIVE_PLUGIN_PHASE', `plugin '${name}': ${what} is only allowed in register()`, { plugins: [name] });
  };
  const declared = new Set<string>([...(def.requires ?? []), ...(def.optional ?? [])].map((r: AnyRef) => r.id));
  const checkDeclared = (ref: ServiceRef<unknown>) => {
    if (ref.owner !== 'host' && ref.owner !== name && !declared.has(ref.id)) {
      throw new OliveError('OLIVE_UNDECLARED_REQUIREMENT', `plugin '${name}' uses service '${ref.id}' without listing it in requires or optional`, {
        plugins: [name, ref.owner],
      });
    }
  };
  function declareModel<T>(modelName: string, schema: Schema<T>): Model<T> {
    onlyInRegister('model()');
    const collection = `${name}_${modelName}`;
    schema.set('collection', collection);
    const model = rt.connection.model<T>(collection, schema);
    loaded.models.push(model as unknown as Model<unknown>);
    return model;
  }
  const ctx: PluginContext = {
    name,
    config,
    logger: rt.logger.child({ plugin: name }),
    host: rt.host,
    connection: rt.connection,
    metrics: rt.metrics,
    jobs: {
      define(jobName, options) {
        onlyInRegister('jobs.define()');
        rt.jobs.define(`${name}.${jobName}`, options);
      },
      every(jobName, everyMs, run, options) {
        onlyInRegister('jobs.every()');
        rt.jobs.every(`${name}.${jobName}`, everyMs, run, options);
      },
      enqueue: (jobName, payload, options) => rt.jobs.enqueue(`${name}.${jobName}`, payload, options),
      get: (id) => rt.jobs.get(id),
      kick: () => rt.jobs.kick(),
    },
    mail: rt.mail,
    model: declareModel,
    cachedModel<T>(modelName: string, schema: Schema<T>, options: { maxAgeMs?: number } = {}) {
      onlyInRegister('cachedModel()');
      const cache = stampedCache(rt.connection, `${name}_${modelName}`, { logger: rt.logger.child({ plugin: name }), maxAgeMs: options.maxAgeMs });
      renewOnWrite(schema as Schema, cache.renew);
      return { model: declareModel(modelName, schema), cache: { get: cache.get } };
    },
    router: createPolicyRouter(
      name,
      loaded.router,
      () => onlyInRegister('adding a route'),
      (method, routePath, crossSite) => {
        const full = `${loaded.prefix.replace(/\/$/, '')}${routePath}`;
        rt.routes.push({ owner: name, method, path: full });
        if (crossSite) rt.crossSiteRoutes.push({ method, path: full });
      },
    ),
    views(dir) {
      onlyInRegister('views()');
      rt.viewDirs.set(name, toPath(dir));
    },
    translations(dir) {
      onlyInRegister('translations()');
      rt.translationDirs.set(name, toPath(dir));
    },
    on(event, handler) {
      onlyInRegister('on()');
      rt.events.on(event, name, handler);
    },
    emit(event, payload) {
      return rt.events.emit(event, payload);
    },
    provide(service, impl) {
      onlyInRegister('provide()');
      if (service.owner !== name) {
        throw new OliveError('OLIVE_FOREIGN_SERVICE', `plugin '${name}' cannot provide '${service.id}': it belongs to plugin '${service.owner}'`, {
          plugins: [name, service.owner],
        });
      }
      if (!rt.overridden.has(service.id)) rt.services.set(service.id, impl);
    },
    get(service) {
      checkDeclared(service);
      if (!rt.services.has(service.id)) {
        throw new OliveError('OLIVE_SERVICE_NOT_PROVIDED', `plugin '${name}' needs service '${service.id}', which plugin '${service.owner}' has not provided`, {
          plugins: [name, service.owner],
        });
      }
      return rt.services.get(service.id) as never;
    },
    getOptional(service) {
      checkDeclared(service);
      return rt.services.get(service.id) as never;
    },
    contribute(point, value) {
      onlyInRegister('contribute()');
      const list = rt.extensions.get(point.id) ?? [];
      list.push(value);
      rt.extensions.set(point.id, list);
    },
    extensions(point) {
      return (rt.extensions.get(point.id) ?? []) as never;
    },
  };
  return {
    ctx,
    endRegister: () => {
      registering = false;
    },
  };
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Runs `register` of each plugin in order, then checks every required service was provided. */
export async function registerPlugins(ordered: readonly PluginDefinition[], configs: Map<string, unknown>, rt: HostRuntime): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const def of ordered) {
    const prefix = def.prefix ?? `/${def.name}`;
    const partial = { def, config: configs.get(def.name), prefix, router: express.Router(), models: [] as Model<unknown>[], timings: { registerMs: 0 } };
    const { ctx, endRegister } = createContext(def, partial.config, rt, partial);
    const t0 = process.hrtime.bigint();
    let lifecycle: PluginLifecycle;
    try {
      lifecycle = (await def.register(ctx)) ?? {};
    } catch (err) {
      if (err instanceof OliveError) throw err;
      throw new OliveError('OLIVE_PLUGIN_REGISTER_FAILED', `plugin '${def.name}' failed to register: ${(err as Error).message}`, {
        plugins: [def.name],
        cause: err,
      });
    } finally {
      endRegister();
    }
    partial.timings.registerMs = ms(t0);
    loaded.push({ ...partial, ctx, lifecycle });
  }
  for (const p of loaded) {
    for (const ref of p.def.requires ?? []) {
      if (ref.kind === 'service' && !rt.services.has(ref.id)) {
        throw new OliveError(
          'OLIVE_SERVICE_NOT_PROVIDED',
          `plugin '${p.def.name}' requires service '${ref.id}', but plugin '${ref.owner}' did not provide it in register()`,
          { plugins: [p.def.name, ref.owner] },
        );
      }
    }
  }
  return loaded;
}

/**
 * Builds each plugin's indexes, then runs its `start` within the timeout. If one fails, those
 * already started are stopped in reverse order before the error is raised.
 */
export async function startPlugins(loaded: readonly LoadedPlugin[], timeoutMs: number, logger: Logger): Promise<void> {
  const started: LoadedPlugin[] = [];
  for (const p of loaded) {
    const t0 = process.hrtime.bigint();
    try {
      await withTimeout(
        (async () => {
          // init() resolves once the declared indexes are built (and rejects if one cannot be):
          // the unique indexes are our invariants, so a missing one must fail the boot.
          for (const model of p.models) await model.init();
          await p.lifecycle.start?.();
        })(),
        timeoutMs,
        () => new OliveError('OLIVE_PLUGIN_START_TIMEOUT', `plugin '${p.def.name}' did not start within ${timeoutMs} ms`, { plugins: [p.def.name] }),
      );
    } catch (err) {
      await stopPlugins(started, timeoutMs, logger);
      if (err instanceof OliveError) throw err;
      throw new OliveError('OLIVE_PLUGIN_START_FAILED', `plugin '${p.def.name}' failed to start: ${(err as Error).message}`, {
        plugins: [p.def.name],
        cause: err,
      });
    }
    p.timings.startMs = ms(t0);
    started.push(p);
  }
}

/** Stops plugins in reverse boot order; a failing or hanging stop is logged and the others still stop. */
export async function stopPlugins(loaded: readonly LoadedPlugin[], timeoutMs: number, logger: Logger): Promise<void> {
  for (const p of [...loaded].reverse()) {
    const { stop } = p.lifecycle;
    if (!stop) continue;
    try {
      await withTimeout(
        Promise.resolve(stop()),
        timeoutMs,
        () => new OliveError('OLIVE_PLUGIN_STOP_TIMEOUT', `plugin '${p.def.name}' did not stop within ${timeoutMs} ms`, { plugins: [p.def.name] }),
      );
    } catch (err) {
      logger.error({ err, plugin: p.def.name }, `plugin '${p.def.name}' failed to stop cleanly`);
    }
  }
}

/** Runs each plugin's `seed` in boot order with access to its own fixtures folder. */
export async function seedPlugins(loaded: readonly LoadedPlugin[], fixturesDir: string): Promise<string[]> {
  const seeded: string[] = [];
  for (const p of loaded) {
    const { seed } = p.lifecycle;
    if (!seed) continue;
    const dir = path.join(fixturesDir, p.def.name);
    const fixturePath = (file: string) => {
      const full = path.resolve(dir, file);
      if (!full.startsWith(dir + path.sep))
        throw new OliveError('OLIVE_FIXTURE_PATH', `plugin '${p.def.name}': fixture '${file}' is outside its folder`, { plugins: [p.def.name] });
      return full;
    };
    const seedCtx: SeedContext = {
      ...p.ctx,
      fixturePath,
      async readFixture(file) {
        return JSON.parse(await fs.readFile(fixturePath(file), 'utf8'));
      },
    };
    await seed(seedCtx);
    seeded.push(p.def.name);
  }
  return seeded;
}
