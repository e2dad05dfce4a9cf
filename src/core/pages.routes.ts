import type { Request, Response } from 'express';
import { allow } from './access.ts';
import { DashboardPanels, SignInMethods } from './host-contract.ts';
import type { DashboardPanel, PluginRouter } from './plugin.ts';

/** Renders a view to a string with the request's locals, without the layout. */
export function renderFragment(res: Response, view: string, locals: Record<string, unknown> = {}): Promise<string> {
  return new Promise((resolve, reject) => res.render(view, locals, (err: Error | null, html?: string) => (err ? reject(err) : resolve(html ?? ''))));
}

/** The home page: a welcome for visitors, and for signed-in people the panels plugins contribute. */
export function mountPageRoutes(router: PluginRouter, extensions: Map<string, unknown[]>) {
  router.get('/', allow.public, async (req: Request, res: Response) => {
    if (!req.user) {
      // An organisation's account is offered only when a plugin contributes a way in (as on the sign-in page).
      const organisation = (extensions.get(SignInMethods.id) ?? []).length > 0;
      return res.render('home-public', { title: req.t('home.publicTitle'), organisation });
    }
    const panels = [...((extensions.get(DashboardPanels.id) ?? []) as DashboardPanel[])].sort((a, b) => (a.order ?? 50) - (b.order ?? 50));
    const rendered: { id: string; html: string }[] = [];
    for (const panel of panels) {
      const result = await panel.render(req);
      if (result) rendered.push({ id: panel.id, html: await renderFragment(res, result.view, result.locals) });
    }
    res.render('home', { title: req.t('home.title'), panels: rendered });
  });
}
