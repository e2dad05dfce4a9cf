import { z } from 'zod';
import { allow } from '../access.ts';
import type { HostConfig } from '../config.ts';
import { JOB_STATES } from '../jobs/jobs.models.ts';
import type { JobsService } from '../jobs/jobs.service.ts';
import { MAIL_QUEUE, type MailService } from '../mail/mail.service.ts';
import type { PluginRouter } from '../plugin.ts';

export interface OperationsDeps {
  jobs: JobsService;
  mail: MailService;
  config: HostConfig;
}

const PAGE_SIZE = 50;
const listQuery = z.object({
  state: z
    .enum(JOB_STATES as [string, ...string[]])
    .optional()
    .catch(undefined),
  queue: z.string().max(100).optional().catch(undefined),
  to: z.string().trim().max(254).optional().catch(undefined),
  page: z.coerce.number().int().min(1).max(100000).optional().catch(undefined),
});

/**
 * What runs behind the pages, for administrators: the outbox (every message, its delivery state,
 * failed ones with the reason, sent again or dropped) and the background jobs of every plugin.
 */
export function mountAdminOperationsRoutes(router: PluginRouter, deps: OperationsDeps) {
  const { jobs, mail, config } = deps;
  const admin = allow.roles('admin');

  router.get('/admin/mail', admin, async (req, res) => {
    const query = listQuery.parse(req.query);
    const page = query.page ?? 1;
    const [{ messages, total }, counts] = await Promise.all([
      mail.list({ to: query.to || undefined, state: query.state, page, pageSize: PAGE_SIZE }),
      jobs.counts(),
    ]);
    const byState = Object.fromEntries(counts.filter((c) => c.queue === MAIL_QUEUE).map((c) => [c.state, c.count]));
    res.render('admin/mail', {
      title: req.t('admin.mail.title'),
      messages,
      total,
      query,
      page,
      pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      byState,
      delivering: mail.delivering,
      devInbox: mail.devInbox,
      production: config.production,
      states: JOB_STATES,
    });
  });

  router.get('/admin/mail/:id', admin, async (req, res) => {
    const message = await mail.get(String(req.params.id));
    res.render('admin/mail-message', { title: message.subject, message });
  });

  // The HTML part as the recipient's mail program shows it, sandboxed: no scripts, nothing fetched.
  router.get('/admin/mail/:id/html', admin, async (req, res) => {
    const message = await mail.get(String(req.params.id));
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'");
    res.type('html').send(message.html);
  });

  const jobAction = (action: 'retry' | 'drop') => async (req: import('express').Request, res: import('express').Response) => {
    const id = String(req.params.id);
    await jobs[action](id);
    req.flash('success', req.t(`admin.jobs.${action}Done`));
    const back = typeof req.body?.back === 'string' && /^\/admin\/(mail|jobs)(\?[\w=&%.-]*)?$/.test(req.body.back) ? req.body.back : '/admin/jobs';
    res.redirect(303, back);
  };
  router.post('/admin/jobs/:id/retry', admin, jobAction('retry'));
  router.post('/admin/jobs/:id/drop', admin, jobAction('drop'));

  router.get('/admin/jobs', admin, async (req, res) => {
    const query = listQuery.parse(req.query);
    const page = query.page ?? 1;
    const [counts, { jobs: list, total }] = await Promise.all([
      jobs.counts(),
      jobs.list({ state: query.state as never, queue: query.queue || undefined, page, pageSize: PAGE_SIZE }),
    ]);
    const queues = [...new Set([...jobs.queues, ...counts.map((c) => c.queue)])].sort();
    const table = queues.map((queue) => ({
      queue,
      ...Object.fromEntries(JOB_STATES.map((s) => [s, counts.find((c) => c.queue === queue && c.state === s)?.count ?? 0])),
    }));
    res.render('admin/jobs', {
      title: req.t('admin.jobs.title'),
      table,
      list,
      total,
      query,
      page,
      pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      states: JOB_STATES,
      mailQueue: MAIL_QUEUE,
    });
  });
}
