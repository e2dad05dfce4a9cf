import { z } from 'zod';
import { allow, form, type PluginContext } from '../../../src/index.ts';
import { AUDIENCES } from '../models/announcement.model.ts';
import type { createAnnouncementsService } from '../services/announcements.service.ts';

const publishSchema = z.object({
  title: z.string().trim().min(3, 'announcements:errors.titleShort').max(200, 'announcements:errors.titleLong'),
  body: z.string().trim().min(1, 'announcements:errors.bodyMissing').max(10000, 'announcements:errors.bodyLong'),
  audience: z.enum(AUDIENCES, { error: 'announcements:errors.audience' }),
});

type Service = ReturnType<typeof createAnnouncementsService>;

export function mountAnnouncementRoutes(ctx: PluginContext<{ pageSize: number }>, service: Service) {
  const staff = allow.roles('staff');

  ctx.router.get('/', allow.signedIn, async (req, res) => {
    const items = await service.visibleTo(req.user!, ctx.config.pageSize);
    res.render('announcements/list', { title: req.t('announcements:title'), items });
  });

  ctx.router.get('/new', staff, (req, res) => {
    res.render('announcements/new', { title: req.t('announcements:new'), values: { audience: 'everyone' }, errors: {}, audiences: AUDIENCES });
  });

  // A form on the host's form path: the schema, the page that shows it again with the messages by
  // the fields (also when the service refuses it), and the work once the input is valid.
  ctx.router.post(
    '/',
    staff,
    form({
      schema: publishSchema,
      view: 'announcements/new',
      locals: (req, { values, errors }) => ({ title: req.t('announcements:new'), values, errors, audiences: AUDIENCES }),
      async handle(req, res, input) {
        await service.publish(input, req.user!);
        req.flash('success', req.t('announcements:published'));
        res.redirect(303, '/announcements');
      },
    }),
  );

  ctx.router.post('/:id/withdraw', staff, async (req, res) => {
    await service.withdraw(String(req.params.id));
    req.flash('success', req.t('announcements:withdrawn'));
    res.redirect(303, '/announcements');
  });
}
