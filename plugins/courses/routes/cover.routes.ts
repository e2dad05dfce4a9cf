/**
 * Course covers: the course's trainers and programme staff upload (or replace) and remove it from
 * the course's page; everyone who may see the course gets it at `/courses/<slug>/cover`, checked by
 * its content (JPEG, PNG or WebP), at most COVER_MAX_BYTES, with its ETag.
 */
import type { Request, Response } from 'express';
import mongoose from 'mongoose';
import { allow, errorMessage, forbidden, HttpError, notFound, respond, wantsJson, type PluginContext } from '../../../src/index.ts';
import type { CourseSummary } from '../contract.ts';
import { canEdit, type CourseService } from '../services/courses.service.ts';
import { COVER_TYPES, imageSize } from '../services/cover.ts';
import { MATERIAL_BUCKET, type MaterialStore } from '../services/materials.service.ts';
import { noSuchCourse } from '../services/refusals.ts';
import { readText } from '../services/texts.ts';

const ALT = { name: 'alt', max: 300, required: true };

export function mountCoverRoutes(ctx: PluginContext, { courses, covers }: { courses: CourseService; covers: MaterialStore }) {
  const authors = allow.roles('trainer', 'staff');

  async function editable(req: Request): Promise<CourseSummary> {
    const course = await courses.requireCourse(String(req.params.slug));
    if (!canEdit(req.user, course)) throw forbidden('Only this course’s trainers and programme staff can change it.', { key: 'courses:errors.mayNotEdit' });
    return course;
  }

  /** A refusal said on the course's page (flash) for browsers, as the error for API clients. */
  function refuse(req: Request, res: Response, course: CourseSummary, err: HttpError) {
    if (wantsJson(req)) throw err;
    req.flash(
      'error',
      errorMessage((key, options) => String(req.t(key, options as never)), err),
    );
    res.redirect(303, `/courses/manage/${course.slug}#cover`);
  }

  /** The first bytes of a stored file, to read the image's size. */
  async function head(fileId: mongoose.Types.ObjectId, size: number): Promise<Buffer> {
    const bucket = new mongoose.mongo.GridFSBucket(ctx.connection.db!, { bucketName: MATERIAL_BUCKET });
    const parts: Buffer[] = [];
    for await (const chunk of bucket.openDownloadStream(fileId, { start: 0, end: Math.min(65536, size) })) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  // Multipart: the CSRF token is in the form's action URL, as for material uploads.
  ctx.router.post('/manage/:slug/cover', authors, async (req, res) => {
    const course = await editable(req);
    let stored;
    try {
      const { files } = await covers.receive(req);
      stored = files;
    } catch (err) {
      if (err instanceof HttpError && err.status < 500) return refuse(req, res, course, err);
      throw err;
    }
    const [file, ...extra] = stored;
    const discard = () => Promise.all(stored.map((f) => covers.remove(f.fileId)));
    if (!file || extra.length) {
      await discard();
      return refuse(req, res, course, new HttpError(400, 'ONE_FILE', 'Choose one image.', undefined, { key: 'courses:cover.oneFile' }));
    }
    const size = (COVER_TYPES as readonly string[]).includes(file.contentType) ? imageSize(await head(file.fileId, file.size)) : null;
    if (!size) {
      await discard();
      return refuse(
        req,
        res,
        course,
        new HttpError(415, 'NOT_AN_IMAGE', `${file.filename} is not a JPEG, PNG or WebP image.`, undefined, {
          key: 'courses:cover.notImage',
          params: { filename: file.filename },
        }),
      );
    }
    const errors: Record<string, string> = {};
    const alt = readText(req, (req.body ?? {}) as Record<string, unknown>, ALT, course.languages, errors);
    if (Object.keys(errors).length) {
      await discard();
      return refuse(req, res, course, new HttpError(400, 'ALT_TEXT', 'Describe the image.', undefined, { key: 'courses:cover.altRequired' }));
    }
    const cover = { fileId: file.fileId, contentType: file.contentType, size: file.size, sha256: file.sha256, ...size, alt };
    let before;
    try {
      before = await courses.setCover(course.id, cover);
    } catch (err) {
      await discard();
      throw err;
    }
    // The old file goes only once the course points at the new one.
    if (before) await covers.remove(before.fileId);
    respond(req, res, {
      status: 201,
      json: { cover: { width: size.width, height: size.height, contentType: file.contentType } },
      flash: ['success', req.t('courses:cover.saved')],
      redirect: `/courses/manage/${course.slug}#cover`,
    });
  });

  ctx.router.post('/manage/:slug/cover/delete', authors, async (req, res) => {
    const course = await editable(req);
    const before = await courses.setCover(course.id, null);
    if (before) await covers.remove(before.fileId);
    respond(req, res, { json: { cover: null }, flash: ['success', req.t('courses:cover.removed')], redirect: `/courses/manage/${course.slug}#cover` });
  });

  // Public for a published course (the catalogue is), else only for those who may change it.
  ctx.router.get('/:slug/cover', allow.public, async (req, res) => {
    const course = await courses.requireCourse(String(req.params.slug));
    if (course.status !== 'published' && !canEdit(req.user, course)) throw noSuchCourse();
    const cover = await courses.coverFile(course.id);
    if (!cover) throw notFound('This course has no cover.', { key: 'courses:cover.none' });
    await covers.serve(req, res, {
      fileId: cover.fileId,
      filename: `cover.${cover.contentType.split('/')[1]}`,
      contentType: cover.contentType,
      size: cover.size,
      sha256: cover.sha256,
    });
  });
}
