import type { Request } from 'express';
import { z } from 'zod';
import { allow, forbidden, form, hasRole, notFound, type PluginContext } from '../../../src/index.ts';
import { runsEdition, type EditionSummary, type EnrolmentDirectoryService } from '../../enrolment/contract.ts';
import { AUDIENCES } from '../models/announcement.model.ts';
import { type createAnnouncementsService } from '../services/announcements.service.ts';

const title = z.string().trim().min(3, 'announcements:errors.titleShort').max(200, 'announcements:errors.titleLong');
const body = z.string().trim().min(1, 'announcements:errors.bodyMissing').max(10000, 'announcements:errors.bodyLong');
const publishSchema = z.object({ title, body, audience: z.enum(AUDIENCES, { error: 'announcements:errors.audience' }) });
const editionSchema = z.object({ title, body, includeWaiting: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()).default(false) });

type Service = ReturnType<typeof createAnnouncementsService>;

export function mountAnnouncementRoutes(ctx: PluginContext<{ pageSize: number }>, service: Service, directory: () => EnrolmentDirectoryService | undefined) {
  const staff = allow.roles('staff');
  const staffOrTrainer = allow.roles('staff', 'trainer');

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

  // ---- To one edition's participants: its trainers and staff -------------------------------------

  /** The edition, for someone who runs it: no such edition (or no enrolment plugin) is 404, another trainer's 403. */
  async function editionRunBy(req: Request): Promise<EditionSummary> {
    const edition = await directory()?.edition(String(req.params.editionId));
    if (!edition) throw notFound('No such edition.', { key: 'announcements:errors.noSuchEdition' });
    if (!runsEdition(req.user, edition))
      throw forbidden('Only the edition’s trainers and programme staff post to its participants.', { key: 'announcements:errors.notYourEdition' });
    return edition;
  }
  const editionPage = (req: Request, edition: EditionSummary, values: Record<string, unknown>, errors: Record<string, string>) => ({
    title: req.t('announcements:edition.new', { edition: edition.title }),
    edition,
    values,
    errors,
  });

  ctx.router.get('/editions/:editionId/new', staffOrTrainer, async (req, res) => {
    const edition = await editionRunBy(req);
    res.render('announcements/edition-new', editionPage(req, edition, {}, {}));
  });

  ctx.router.post(
    '/editions/:editionId',
    staffOrTrainer,
    async (req, _res, next) => {
      // Who may post is checked before the form is read: a stranger learns nothing from its messages.
      await editionRunBy(req);
      next();
    },
    form({
      schema: editionSchema,
      view: 'announcements/edition-new',
      locals: async (req, { values, errors }) => editionPage(req, await editionRunBy(req), values, errors),
      async handle(req, res, input) {
        const edition = await editionRunBy(req);
        await service.publishToEdition(input, edition, req.user!);
        req.flash('success', req.t('announcements:edition.published'));
        res.redirect(303, `/enrolment/editions/${edition.id}`);
      },
    }),
  );

  // Staff withdraw any announcement; an edition's trainers those to their edition.
  ctx.router.post('/:id/withdraw', staffOrTrainer, async (req, res) => {
    const id = String(req.params.id);
    const item = await service.find(id);
    let back = '/announcements';
    if (item?.audience === 'edition') {
      const edition = await directory()?.edition(item.editionId!);
      if (!hasRole(req.user, ['staff']) && !(edition && runsEdition(req.user, edition)))
        throw forbidden('Not your edition.', { key: 'announcements:errors.notYourEdition' });
      if (edition) back = `/enrolment/editions/${edition.id}`;
    } else if (!hasRole(req.user, ['staff'])) {
      throw forbidden('Only programme staff withdraw announcements.', { key: 'announcements:errors.staffOnly' });
    }
    await service.withdraw(id);
    req.flash('success', req.t('announcements:withdrawn'));
    res.redirect(303, back);
  });
}
