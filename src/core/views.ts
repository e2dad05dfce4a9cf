import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/**
 * Resolves a view name: `<plugin>/<view>` to the plugin's own folder when the plugin registered
 * one, anything else to the host's views folder. Absolute paths let Express skip its own lookup.
 */
export function createViewResolver(hostViews: string, pluginViews: Map<string, string>) {
  return (name: string): string => {
    const slash = name.indexOf('/');
    if (slash > 0) {
      const dir = pluginViews.get(name.slice(0, slash));
      if (dir) return path.join(dir, `${name.slice(slash + 1)}.ejs`);
    }
    return path.join(hostViews, `${name}.ejs`);
  };
}

type RenderCallback = (err: Error | null, html?: string) => void;
type RawRender = (view: string, locals: object, done: RenderCallback) => void;

/**
 * A whole page: the view, then the shared layout around it. The one place the layout is drawn, for
 * handlers' pages (through `layoutMiddleware`) and error pages alike, so no page gets it twice.
 * `done` receives the page, or the first error of either step.
 */
export function renderInLayout(render: RawRender, view: string, locals: Record<string, unknown>, done: RenderCallback): void {
  render(view, locals, (err, body) => {
    if (err) return done(err);
    render('layout', { ...locals, body }, done);
  });
}

/**
 * Wraps `res.render` so every page is rendered into the shared layout (pass `layout: false` for a
 * bare fragment), with plugin view names resolved. Handlers keep writing `res.render('x/y', locals)`.
 * With a callback, `res.render` renders the bare view and hands it over, as Express's own does.
 */
export function layoutMiddleware(resolve: (name: string) => string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const render = res.render.bind(res) as RawRender;
    const resolved: RawRender = (view, locals, done) => render(resolve(view), locals, done);
    res.render = ((view: string, locals?: Record<string, unknown> | RenderCallback, cb?: RenderCallback) => {
      const opts = typeof locals === 'function' ? {} : (locals ?? {});
      const done = typeof locals === 'function' ? locals : cb;
      if (opts.layout === false || done) return resolved(view, opts, done ?? ((err, html) => (err ? next(err) : res.send(html))));
      renderInLayout(resolved, view, opts, (err, html) => (err ? next(err) : res.send(html)));
    }) as Response['render'];
    next();
  };
}

/** File sizes as people read them: see `formatBytes` in formats.ts (kept here for the views' imports). */
export { formatBytes } from './formats.ts';
