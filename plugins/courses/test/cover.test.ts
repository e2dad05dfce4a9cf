/**
 * Course covers (issue #17): the course's trainers and staff upload, replace and remove a cover,
 * checked by content (JPEG, PNG or WebP) and size; it shows on the catalogue card and the course's
 * page with its size and alt text, served with an ETag; a course without one shows no image.
 */
import zlib from 'node:zlib';
import { expect } from 'chai';
import supertest from 'supertest';
import enrolment from '../../enrolment/index.ts';
import courses from '../index.ts';
import { imageSize } from '../services/cover.ts';
import { createDemoPasswordUser, createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}
/** A real RGB PNG of this size. */
function png(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8);
  header.writeUInt8(2, 9);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([0x55, 0x6b, 0x2f]))]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const SLUG = 'conflict-analysis';
const card = (html: string, slug: string) => html.split('<li class="card">').find((c) => c.includes(`href="/courses/${slug}"`)) ?? '';

describe('course covers (issue #17)', () => {
  let t: TestApp;
  let trainer: Awaited<ReturnType<typeof signIn>>;
  let token: string;
  const upload = (file: Buffer, name: string, fields: Record<string, string> = { alt_en: 'Mediators around a table' }, agent = trainer, tok = token) => {
    const req = agent.post(`/courses/manage/${SLUG}/cover?_csrf=${encodeURIComponent(tok)}`);
    for (const [k, v] of Object.entries(fields)) void req.field(k, v);
    return req.attach('files', file, name);
  };
  const flashOf = async (agent = trainer) => (await agent.get(`/courses/manage/${SLUG}`).expect(200)).text;

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'covers' });
    trainer = await signIn(t.app, 'trainer@olive.example');
    token = await tokenFor(trainer, `/courses/manage/${SLUG}`);
    // The demo courses come with covers: these tests start from two courses without one, removed as a trainer would.
    for (const slug of [SLUG, 'interest-based-negotiation'])
      await trainer.post(`/courses/manage/${slug}/cover/delete`).type('form').send({ _csrf: token }).expect(303);
  });
  after(() => t.stop());

  it('reads the size of PNG, JPEG and WebP images from their header', () => {
    expect(imageSize(png(40, 30))).to.deep.equal({ width: 40, height: 30 });
    const jpeg = Buffer.from('ffd8ffe000104a46494600010100000100010000ffc0001108001e002803012200021101031101', 'hex');
    expect(imageSize(jpeg)).to.deep.equal({ width: 40, height: 30 });
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0, 'latin1');
    webp.write('WEBPVP8X', 8, 'latin1');
    webp.writeUIntLE(39, 24, 3);
    webp.writeUIntLE(29, 27, 3);
    expect(imageSize(webp)).to.deep.equal({ width: 40, height: 30 });
    expect(imageSize(Buffer.from('%PDF-1.7'))).to.equal(null);
  });

  it('a course without a cover shows no image', async () => {
    const catalogue = (await supertest(t.app).get('/courses').expect(200)).text;
    expect(card(catalogue, SLUG)).not.to.contain('<img');
    expect((await supertest(t.app).get(`/courses/${SLUG}`).expect(200)).text).not.to.contain('class="cover"');
    await supertest(t.app).get(`/courses/${SLUG}/cover`).expect(404);
  });

  it('refuses what is not an image, a file too big, a missing alt text and a person who may not change the course, changing nothing', async () => {
    await upload(Buffer.from('%PDF-1.7\n%%EOF\n'), 'cover.png').expect(303);
    expect(await flashOf()).to.contain('cover.png is not a JPEG, PNG or WebP image.');
    await upload(Buffer.concat([png(40, 30), Buffer.alloc(3 * 1024 * 1024)]), 'big.png').expect(303);
    expect(await flashOf()).to.contain('larger than');
    await upload(png(40, 30), 'cover.png', {}).expect(303);
    expect(await flashOf()).to.contain('Describe the image in the course’s first language');

    await createDemoPasswordUser(t.app, { email: 'other.trainer@olive.example', name: 'Other Trainer', roles: ['trainer'] });
    const other = await signIn(t.app, 'other.trainer@olive.example');
    const otherToken = await tokenFor(other, '/courses/manage');
    await upload(png(40, 30), 'cover.png', undefined, other, otherToken).expect(403);
    const learner = await signIn(t.app, 'learner@olive.example');
    await upload(png(40, 30), 'cover.png', undefined, learner, await tokenFor(learner, '/')).expect(403);

    const doc = await t.app.olive.connection.db!.collection('courses_course').findOne({ slug: SLUG });
    expect(doc!.cover ?? null).to.equal(null);
    expect(await t.app.olive.connection.db!.collection('courses_material.files').countDocuments({ filename: { $in: ['cover.png', 'big.png'] } })).to.equal(0);
  });

  it('a trainer of the course uploads a cover: shown on the card and the page with size, alt text and lazy loading, served with an ETag', async () => {
    await upload(png(64, 36), 'cover.png', { alt_en: 'Mediators around a table', alt_fr: 'Des médiateurs autour d’une table' }).expect(303);
    expect(await flashOf()).to.contain('The cover is saved.');
    const catalogue = (await supertest(t.app).get('/courses').expect(200)).text;
    const img = /<img class="cover" src="([^"]+)" width="64" height="36" alt="Mediators around a table" loading="lazy"/.exec(card(catalogue, SLUG));
    expect(img, 'the cover on the card').to.not.equal(null);
    expect(card(catalogue, 'interest-based-negotiation')).not.to.contain('<img');
    const french = (await supertest(t.app).get(`/courses/${SLUG}`).set('Accept-Language', 'fr').expect(200)).text;
    expect(french).to.contain('alt="Des médiateurs autour d’une table"');

    const served = await supertest(t.app).get(img![1]!).expect(200);
    expect(served.headers['content-type']).to.equal('image/png');
    expect(served.headers.etag).to.match(/^"[0-9a-f]{64}"$/);
    await supertest(t.app)
      .get(img![1]!)
      .set('If-None-Match', served.headers.etag as string)
      .expect(304);
  });

  it('replaces and removes the cover; the old file goes', async () => {
    const db = t.app.olive.connection.db!;
    const first = (await db.collection('courses_course').findOne({ slug: SLUG }))!.cover.fileId;
    await upload(png(80, 45), 'second.png').expect(303);
    const second = (await db.collection('courses_course').findOne({ slug: SLUG }))!.cover;
    expect(second.width).to.equal(80);
    expect(await db.collection('courses_material.files').countDocuments({ _id: first })).to.equal(0);
    const page = await flashOf();
    const removeToken = /cover\/delete" class="inline">\s*<input type="hidden" name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    await trainer.post(`/courses/manage/${SLUG}/cover/delete`).type('form').send({ _csrf: removeToken }).expect(303);
    expect((await db.collection('courses_course').findOne({ slug: SLUG }))!.cover ?? null).to.equal(null);
    expect(await db.collection('courses_material.files').countDocuments({ _id: second.fileId })).to.equal(0);
    expect(card((await supertest(t.app).get('/courses').expect(200)).text, SLUG)).not.to.contain('<img');
  });
});
