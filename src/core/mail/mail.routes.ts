import type { Request, Response } from 'express';
import { z } from 'zod';
import { allow } from '../access.ts';
import { refusalFor } from '../http.ts';
import { objectIdSchema } from '../ids.ts';
import { MailTopics, type MailTopic } from '../host-contract.ts';
import type { PluginRouter } from '../plugin.ts';
import type { MailService } from './mail.service.ts';

export interface MailRouteDeps {
  mail: MailService;
  extensions: Map<string, unknown[]>;
}

const unsubscribeQuery = z.object({ u: objectIdSchema(), topic: z.string().max(100), s: z.string().max(100) });

/** A person's choice of optional notices, and the one-click unsubscribe link those notices carry. */
export function mountMailRoutes(router: PluginRouter, deps: MailRouteDeps) {
  const { mail } = deps;
  const topics = () => (deps.extensions.get(MailTopics.id) ?? []) as MailTopic[];

  router.get('/account/notifications', allow.signedIn, async (req, res) => {
    const off = await mail.optedOut(req.user!.id);
    res.render('account/notifications', { title: req.t('notifications.title'), topics: topics(), off });
  });

  router.post('/account/notifications', allow.signedIn, async (req, res) => {
    const known = topics().map((t) => t.id);
    const on = ([] as unknown[]).concat(req.body?.on ?? []).map(String);
    const unknown = on.filter((t) => !known.includes(t));
    if (unknown.length) throw refusalFor(req, 400, 'VALIDATION_FAILED', 'notifications.unknownTopic');
    await mail.setOptedOut(
      req.user!.id,
      known.filter((t) => !on.includes(t)),
    );
    req.flash('success', req.t('notifications.saved'));
    res.redirect(303, '/account/notifications');
  });

  const checked = (req: Request) => {
    const parsed = unsubscribeQuery.safeParse(req.query);
    if (!parsed.success || !topics().some((t) => t.id === parsed.data.topic) || !mail.verifyUnsubscribe(parsed.data.u, parsed.data.topic, parsed.data.s)) {
      throw refusalFor(req, 400, 'UNSUBSCRIBE_LINK_INVALID', 'notifications.badLink');
    }
    return { ...parsed.data, topic: topics().find((t) => t.id === parsed.data.topic)! };
  };
  const unsubscribe = async (req: Request, _res: Response) => {
    const { u, topic } = checked(req);
    const off = await mail.optedOut(u);
    if (!off.includes(topic.id)) await mail.setOptedOut(u, [...off, topic.id]);
    return topic;
  };

  // The link in the mail opens a page with a button (mail scanners follow links and must not
  // unsubscribe anyone); mail programs' one-click button posts here (RFC 8058), from no page of ours,
  // which is why this route takes cross-site posts: its proof is the signature in the address.
  router.get('/mail/unsubscribe', allow.public, (req, res) => {
    const { topic } = checked(req);
    res.render('auth/confirm', {
      title: req.t('notifications.unsubscribeTitle'),
      heading: req.t('notifications.unsubscribeTitle'),
      body: req.t('notifications.unsubscribeBody', { topic: req.t(topic.label) }),
      button: req.t('notifications.unsubscribeButton'),
      action: req.originalUrl,
    });
  });
  router.post('/mail/unsubscribe', allow.signedMessage('one-click unsubscribe, signed link'), async (req, res) => {
    const topic = await unsubscribe(req, res);
    if (req.body?.['List-Unsubscribe'] === 'One-Click') return res.status(200).type('text/plain').send('unsubscribed\n');
    res.render('auth/notice', {
      title: req.t('notifications.unsubscribedTitle'),
      heading: req.t('notifications.unsubscribedTitle'),
      paragraphs: [req.t('notifications.unsubscribedBody', { topic: req.t(topic.label) })],
      link: { href: '/account/notifications', label: req.t('notifications.manage') },
    });
  });
}
