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

/**
 * Wraps `res.render` so every page is rendered into the shared layout (pass `layout: false` for a
 * bare fragment), with plugin view names resolved. Handlers keep writing `res.render('x/y', locals)`.
 */
export function layoutMiddleware(resolve: (name: string) => string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const render = res.render.bind(res) as (view: string, locals: object, cb?: (err: Error | null, html?: string) => void) => void;
    res.render = ((view: string, locals?: Record<string, unknown> | ((err: Error, html: string) => void), cb?: (err: Error, html: string) => void) => {
      const opts = typeof locals === 'function' ? {} : (locals ?? {});
      const done = typeof locals === 'function' ? locals : cb;
      if (opts.layout === false || done) return render(resolve(view), opts, done as never);
      render(resolve(view), opts, (err, body) => {
        if (err) return next(err);
        render(resolve('layout'), { ...opts, body });
      });
    }) as Response['render'];
    next();
  };
}

/** File sizes as people read them, for every view (`formatBytes` in templates): "512 bytes", "7 KB", "4.2 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
