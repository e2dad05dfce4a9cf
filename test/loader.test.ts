import { expect } from 'chai';
import { z } from 'zod';
import { OliveError } from '../src/core/errors.ts';
import supertest from 'supertest';
import { allow, defineEvent, defineService, definePlugin, overrideService, type PluginContext, type PluginDefinition } from '../src/index.ts';
import { captureLogger, createTestApp } from './helpers/app.ts';

interface Extra extends Partial<Omit<PluginDefinition, 'register'>> {
  register?: (ctx: PluginContext) => void;
  start?: (ctx: PluginContext) => unknown;
}

/** Builds a minimal plugin; `calls` records lifecycle calls in order. */
function plugin(name: string, calls: string[] = [], { register, start, ...extra }: Extra = {}): PluginDefinition {
  return definePlugin({
    name,
    version: '0.0.1',
    ...extra,
    register: (ctx) => {
      if (register) register(ctx);
      else calls.push(`register:${name}`);
      return {
        start: () => (start ? start(ctx) : calls.push(`start:${name}`)),
        stop: () => {
          calls.push(`stop:${name}`);
        },
      };
    },
  });
}

async function bootError(options: Parameters<typeof createTestApp>[0]): Promise<OliveError> {
  try {
    const t = await createTestApp(options);
    await t.stop();
  } catch (err) {
    expect(err).to.be.instanceOf(OliveError);
    return err as OliveError;
  }
  throw new Error('expected the boot to fail');
}

describe('plugin loader', () => {
  it('orders plugins by what they require, keeping the configured order otherwise', async () => {
    const calls: string[] = [];
    const ServiceB = defineService<{ hello(): string }>('b.service');
    const a = plugin('a', calls, { requires: [ServiceB] });
    const b = plugin('b', calls, {
      register: (ctx) => {
        calls.push('register:b');
        ctx.provide(ServiceB, { hello: () => 'hi' });
      },
    });
    const c = plugin('c', calls);
    const t = await createTestApp({ plugins: [a, b, c] });
    expect(calls).to.deep.equal(['register:b', 'register:a', 'register:c', 'start:b', 'start:a', 'start:c']);
    expect(t.app.olive.boot.plugins.map((p) => p.name)).to.deep.equal(['host', 'b', 'a', 'c']);
    await t.stop();
    expect(calls.slice(6)).to.deep.equal(['stop:c', 'stop:a', 'stop:b']);
  });

  it('reports every invalid configuration at once, before any plugin registers', async () => {
    const calls: string[] = [];
    const one = plugin('one', calls, { config: z.object({ seats: z.number().int().positive() }) });
    const two = plugin('two', calls, { config: z.object({ url: z.url() }) });
    const err = await bootError({ plugins: [one, two], pluginConfig: { one: { seats: -3 }, two: { url: 'not a url' }, three: {} } });
    expect(err.code).to.equal('OLIVE_PLUGIN_CONFIG_INVALID');
    expect(err.message).to.match(/plugin 'one' config seats:/);
    expect(err.message).to.match(/plugin 'two' config url:/);
    expect(err.message).to.match(/configuration is given for plugin 'three', which is not enabled/);
    expect(err.plugins).to.have.members(['one', 'two', 'three']);
    expect(calls).to.deep.equal([]);
  });

  it('applies configuration defaults and hands the validated config to the plugin', async () => {
    let seen: unknown;
    const p = plugin('configured', [], {
      config: z.object({ size: z.number().default(7), name: z.string() }),
      register: (ctx) => {
        seen = ctx.config;
      },
    });
    const t = await createTestApp({ plugins: [p], pluginConfig: { configured: { name: 'x' } } });
    expect(seen).to.deep.equal({ size: 7, name: 'x' });
    await t.stop();
  });

  it('refuses a duplicate plugin name, naming it', async () => {
    const err = await bootError({ plugins: [plugin('twin'), plugin('twin')] });
    expect(err.code).to.equal('OLIVE_PLUGIN_DUPLICATE');
    expect(err.message).to.contain("plugin 'twin' is enabled twice");
  });

  it('refuses a missing requirement, naming both plugins and the service', async () => {
    const Catalog = defineService<unknown>('courses.catalog');
    const err = await bootError({ plugins: [plugin('certificates', [], { requires: [Catalog] })] });
    expect(err.code).to.equal('OLIVE_PLUGIN_MISSING_REQUIREMENT');
    expect(err.message).to.contain("plugin 'certificates' requires service 'courses.catalog' from plugin 'courses', which is not enabled");
    expect(err.plugins).to.have.members(['certificates', 'courses']);
  });

  it('refuses a cycle and shows it', async () => {
    const X = defineEvent<unknown>('x.thing.happened');
    const Y = defineEvent<unknown>('y.thing.happened');
    const Z = defineEvent<unknown>('z.thing.happened');
    const err = await bootError({ plugins: [plugin('x', [], { requires: [Y] }), plugin('y', [], { requires: [Z] }), plugin('z', [], { requires: [X] })] });
    expect(err.code).to.equal('OLIVE_PLUGIN_CYCLE');
    expect(err.message).to.contain('x → y → z → x');
  });

  it('refuses a required service that its owner never provides', async () => {
    const S = defineService<unknown>('lazy.service');
    const err = await bootError({ plugins: [plugin('lazy'), plugin('user', [], { requires: [S] })] });
    expect(err.code).to.equal('OLIVE_SERVICE_NOT_PROVIDED');
    expect(err.message).to.contain("plugin 'user' requires service 'lazy.service', but plugin 'lazy' did not provide it");
  });

  it('refuses a route that does not say who may use it', async () => {
    const p = plugin('open', [], {
      register: (ctx) => {
        (ctx.router.get as (...a: unknown[]) => void)('/', (_req: unknown, res: { send(s: string): void }) => res.send('hi'));
      },
    });
    const err = await bootError({ plugins: [p] });
    expect(err.code).to.equal('OLIVE_ROUTE_WITHOUT_POLICY');
    expect(err.message).to.contain("plugin 'open': route GET / must name who may use it");
  });

  it('refuses register-only calls after register', async () => {
    const p = plugin('late', [], {
      start: (ctx) => {
        ctx.router.get('/x', allow.public, (_q, r) => {
          r.send('x');
        });
      },
    });
    const err = await bootError({ plugins: [p] });
    expect(err.code).to.equal('OLIVE_PLUGIN_PHASE');
  });

  it('times out a plugin that does not start, and stops those already started', async () => {
    const calls: string[] = [];
    const slow = plugin('slow', calls, { start: () => new Promise(() => undefined) });
    const err = await bootError({ plugins: [plugin('first', calls), slow], env: { PLUGIN_START_TIMEOUT_MS: '200' } });
    expect(err.code).to.equal('OLIVE_PLUGIN_START_TIMEOUT');
    expect(err.message).to.contain("plugin 'slow' did not start within 200 ms");
    expect(calls).to.include('stop:first');
  });

  it('names the plugin whose start throws, and stops the others in reverse order', async () => {
    const calls: string[] = [];
    const broken = plugin('broken', calls, {
      start: () => {
        throw new Error('disk on fire');
      },
    });
    const err = await bootError({ plugins: [plugin('p1', calls), plugin('p2', calls), broken] });
    expect(err.code).to.equal('OLIVE_PLUGIN_START_FAILED');
    expect(err.message).to.equal("plugin 'broken' failed to start: disk on fire");
    expect(calls.filter((c) => c.startsWith('stop'))).to.deep.equal(['stop:p2', 'stop:p1']);
  });

  it('delivers events to listeners with a frozen payload; a failing listener is logged and breaks nothing', async () => {
    const Happened = defineEvent<{ n: number; tags: string[] }>('emitter.thing.happened');
    const received: unknown[] = [];
    let emitted: { n: number; tags: string[] } | undefined;
    let mutationError: unknown;
    const { logger, lines } = captureLogger('error');
    const emitter = plugin('emitter', [], {
      register: (ctx) => {
        ctx.router.post('/fire', allow.public, async (_req, res) => {
          emitted = { n: 1, tags: ['a'] };
          await ctx.emit(Happened, emitted);
          res.json({ ok: true });
        });
      },
    });
    const listeners = plugin('listener', [], {
      requires: [Happened],
      register: (ctx) => {
        ctx.on(Happened, () => {
          throw new Error('listener exploded');
        });
        ctx.on(Happened, (e) => {
          try {
            (e.tags as string[]).push('mutated');
          } catch (err) {
            mutationError = err;
          }
          received.push(e);
        });
      },
    });
    const t = await createTestApp({ plugins: [emitter, listeners], logger });
    const supertest = (await import('supertest')).default;
    const agent = supertest.agent(t.app);
    // JSON clients fetch a token the same way forms do: from a page.
    const page = await agent.get('/login');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    await agent.post('/emitter/fire').set('x-csrf-token', token).set('accept', 'application/json').expect(200, { ok: true });
    expect(received).to.deep.equal([{ n: 1, tags: ['a'] }]);
    expect(mutationError).to.be.instanceOf(TypeError);
    expect(emitted!.tags).to.deep.equal(['a']);
    const logged = lines.find((l) => l.listener === 'listener' && l.event === 'emitter.thing.happened');
    expect(logged, 'failing listener logged with plugin and event').to.exist;
    await t.stop();
  });

  it('lets a plugin use only services it declared', async () => {
    const S = defineService<string>('provider.value');
    const provider = plugin('provider', [], { register: (ctx) => ctx.provide(S, 'v') });
    const sneaky = plugin('sneaky', [], {
      start: (ctx) => {
        ctx.get(S);
      },
    });
    const err = await bootError({ plugins: [provider, sneaky] });
    expect(err.message).to.contain("plugin 'sneaky' uses service 'provider.value' without listing it in requires or optional");
  });

  it('refuses a route declared twice, or one an earlier route always answers first, naming both', async () => {
    const twice = plugin('twice', [], {
      register: (ctx) => {
        ctx.router.get('/items/:id', allow.public, (_q, r) => {
          r.send('a');
        });
        ctx.router.get('/items/:itemId', allow.public, (_q, r) => {
          r.send('b');
        });
      },
    });
    let err = await bootError({ plugins: [twice] });
    expect(err.code).to.equal('OLIVE_ROUTE_UNREACHABLE');
    expect(err.message).to.contain('GET /twice/items/:itemId (twice) is declared twice: /twice/items/:id (twice) already answers it');

    const shadowed = plugin('shadowed', [], {
      register: (ctx) => {
        ctx.router.get('/:slug', allow.public, (_q, r) => {
          r.send('a');
        });
        ctx.router.get('/manage', allow.public, (_q, r) => {
          r.send('b');
        });
        ctx.router.post('/manage', allow.public, (_q, r) => {
          r.send('c');
        });
      },
    });
    err = await bootError({ plugins: [shadowed] });
    expect(err.message).to.contain('GET /shadowed/manage (shadowed) is never reached: /shadowed/:slug (shadowed), declared before it, answers it first');
    expect(err.message, 'another method is another route').not.to.contain('POST');

    // Across owners: a plugin mounted at the root cannot take a path of the host's.
    const rooted = definePlugin({
      name: 'rooted',
      version: '0.0.1',
      prefix: '/',
      register: (ctx) => {
        ctx.router.get('/login', allow.public, (_q, r) => {
          r.send('mine');
        });
      },
    });
    err = await bootError({ plugins: [rooted] });
    expect(err.message).to.contain('GET /login (rooted) is declared twice: /login (host) already answers it');
    expect(err.plugins).to.deep.equal(['rooted']);

    // The order that works boots: the literal route first.
    const ordered = plugin('ordered', [], {
      register: (ctx) => {
        ctx.router.get('/manage', allow.public, (_q, r) => {
          r.send('manage');
        });
        ctx.router.get('/:slug', allow.public, (q, r) => {
          r.send(`slug ${String(q.params.slug)}`);
        });
      },
    });
    const t = await createTestApp({ plugins: [ordered] });
    expect((await supertest(t.app).get('/ordered/manage').expect(200)).text).to.equal('manage');
    expect((await supertest(t.app).get('/ordered/other').expect(200)).text).to.equal('slug other');
    await t.stop();
  });

  it("boots the real plugins with a service of the test's own in place of one (overrideService), and hands services to tests", async () => {
    const Greeting = defineService<{ hello(): string }>('greeter.greeting');
    const greeter = plugin('greeter', [], { register: (ctx) => ctx.provide(Greeting, { hello: () => 'from the plugin' }) });
    const user = plugin('user', [], {
      requires: [Greeting],
      register: (ctx) => {
        ctx.router.get('/', allow.public, (_q, r) => {
          r.send(ctx.get(Greeting).hello());
        });
      },
    });
    const real = await createTestApp({ plugins: [greeter, user] });
    expect((await supertest(real.app).get('/user').expect(200)).text).to.equal('from the plugin');
    expect(real.app.olive.service(Greeting).hello()).to.equal('from the plugin');
    await real.stop();

    const replaced = await createTestApp({ plugins: [greeter, user], services: [overrideService(Greeting, { hello: () => 'from the test' })] });
    expect((await supertest(replaced.app).get('/user').expect(200)).text).to.equal('from the test');
    expect(replaced.app.olive.service(Greeting).hello()).to.equal('from the test');
    expect(() => replaced.app.olive.service(defineService('nobody.thing'))).to.throw("no enabled plugin provides service 'nobody.thing'");
    await replaced.stop();
  });
});
