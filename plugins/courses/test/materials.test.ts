/**
 * Course material against the real database and GridFS: uploads (types, sizes, failures mid-way),
 * serving with ranges and caching, removal. Over 400 lines: each test needs the same upload helpers.
 */
import crypto from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { expect } from 'chai';
import express from 'express';
import mongoose from 'mongoose';
import supertest from 'supertest';
import { connectDatabase } from '../../../src/core/db.ts';
import { HttpError, safeFileName } from '../../../src/index.ts';
import { freshDbName, testDatabaseUri } from '../../../test/helpers/app.ts';
import type { StoredFile } from '../models/item.model.ts';
import { createMaterialStore } from '../services/materials.service.ts';
import { minimalPdf, windowsProgram } from './samples.ts';

// ---- Samples, made here so that each test says what its bytes are --------------------------------

/** Several MB that file-type sees as a PDF (the signature is what detection reads). */
function largePdfLike(bytes: number): Buffer {
  const out = crypto.randomBytes(bytes);
  out.write('%PDF-1.7\n', 0, 'latin1');
  return out;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** A real RGB PNG, olive green. */
function png(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(2, 9); // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([0x80, 0x80, 0x00]))]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', zlib.deflateSync(pixels)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A ZIP with stored (uncompressed) entries. */
function zip(entries: { name: string; content: string }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.content, 'utf8');
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x21, 12); // 1 January 1980
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

function minimalDocx(): Buffer {
  return zip([
    {
      name: '[Content_Types].xml',
      content:
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    },
    {
      name: 'word/document.xml',
      content:
        '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Mediation</w:t></w:r></w:p></w:body></w:document>',
    },
  ]);
}

/** A compound-file header: the container of .doc/.xls/.ppt, and also of .msi installers. */
function compoundFile(): Buffer {
  const cfb = Buffer.alloc(1536);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(cfb);
  cfb.writeUInt16LE(0x3e, 24);
  cfb.writeUInt16LE(3, 26);
  cfb.writeUInt16LE(0xfffe, 28);
  cfb.writeUInt16LE(9, 30);
  return cfb;
}

const arabicText = Buffer.from('مقدمة في تحليل النزاعات\nالوساطة والتفاوض: ملاحظات الجلسة الأولى\n', 'utf8');
const csv = Buffer.from('name,city,role\nAmina Diallo,Dakar,mediator\nLi Wei,北京,observer\nÉlodie Martin,Genève,trainer\n', 'utf8');

// ---- Requests --------------------------------------------------------------------------------------

interface Part {
  name: string;
  filename?: string;
  content: Buffer | string;
  type?: string;
}

/** A multipart body written by hand, so names and bytes reach the server exactly as given. */
function multipart(parts: Part[]) {
  const boundary = `----olive${crypto.randomBytes(8).toString('hex')}`;
  const pieces: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename.replace(/"/g, '%22')}"\r\nContent-Type: ${part.type ?? 'application/octet-stream'}`;
    pieces.push(Buffer.from(`${head}\r\n\r\n`, 'utf8'), Buffer.from(part.content), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** superagent hands binary bodies of unknown types over only through a parser of one's own. */
function binaryParser(res: unknown, done: (err: Error | null, body: Buffer) => void) {
  const stream = res as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');

// ---- The tests -------------------------------------------------------------------------------------

describe('courses: material store', function () {
  let connection: mongoose.Connection;
  let server: http.Server;
  let request: ReturnType<typeof supertest>;
  const stored = new Map<string, StoredFile>();
  const settled = new EventEmitter();
  const served = new EventEmitter();

  async function counts() {
    const db = connection.db!;
    return {
      files: await db.collection('courses_material.files').countDocuments({}),
      chunks: await db.collection('courses_material.chunks').countDocuments({}),
    };
  }

  async function emptyBucket() {
    const db = connection.db!;
    await db.collection('courses_material.files').deleteMany({});
    await db.collection('courses_material.chunks').deleteMany({});
    stored.clear();
  }

  function upload(parts: Part[], path = '/upload') {
    const { body, contentType } = multipart(parts);
    return request.post(path).set('Content-Type', contentType).set('Accept', 'application/json').send(body);
  }

  async function uploadOne(filename: string, content: Buffer): Promise<StoredFile> {
    const res = await upload([{ name: 'files', filename, content }]).expect(200);
    const file = (res.body as { files: (StoredFile & { fileId: string })[] }).files[0]!;
    return stored.get(file.fileId.toString())!;
  }

  before(async () => {
    connection = await connectDatabase({ uri: testDatabaseUri(), dbName: freshDbName('materials') });
    const store = createMaterialStore(connection, { maxBytes: 8 * 1024 * 1024, maxFiles: 5 });
    // Small enough that a refused file has already written GridFS chunks (255 KB each) when refused.
    const smallStore = createMaterialStore(connection, { maxBytes: 600_000 });

    const app = express();
    const receiveWith =
      (s: typeof store): express.RequestHandler =>
      async (req, res) => {
        try {
          const result = await s.receive(req);
          for (const file of result.files) stored.set(file.fileId.toHexString(), file);
          settled.emit('settled', null);
          res.json(result);
        } catch (err) {
          settled.emit('settled', err);
          throw err;
        }
      };
    app.post('/upload', receiveWith(store));
    app.post('/upload-small', receiveWith(smallStore));
    app.get('/files/:id', async (req, res) => {
      const file = stored.get(req.params.id);
      if (!file) throw new HttpError(404, 'NOT_FOUND', 'no such file');
      try {
        await store.serve(req, res, file, { download: req.query.download === '1' });
        served.emit('served', null);
      } catch (err) {
        served.emit('served', err);
        throw err;
      }
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (res.headersSent) return next(err);
      if (err instanceof HttpError) return res.status(err.status).json({ error: { code: err.code, message: err.message } });
      return res.status(500).json({ error: { code: 'INTERNAL', message: String(err) } });
    });
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    request = supertest(server);
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await connection?.dropDatabase().catch(() => undefined);
    await connection?.close();
  });

  describe('safeFileName', () => {
    it('keeps only the last path segment, whatever the separator', () => {
      expect(safeFileName('../../etc/passwd')).to.equal('passwd');
      expect(safeFileName('C:\\evil\\x.pdf')).to.equal('x.pdf');
      expect(safeFileName('a/b\\c/d.txt')).to.equal('d.txt');
    });

    it('keeps letters of every script', () => {
      expect(safeFileName('تقرير المرحلة الأولى.pdf')).to.equal('تقرير المرحلة الأولى.pdf');
      expect(safeFileName('会议纪要 2027.docx')).to.equal('会议纪要 2027.docx');
      expect(safeFileName('Genève – séance 1.pptx')).to.equal('Genève – séance 1.pptx');
      // Decomposed accents (as macOS sends them) become the composed form.
      expect(safeFileName('Gene\u0300ve.pdf')).to.equal('Genève.pdf');
    });

    it('removes control and bidi characters, leading dots; collapses whitespace', () => {
      expect(safeFileName('a\u0000b\u0007c\r\n.txt')).to.equal('abc.txt');
      // "invoice<RLO>fdp.exe" displays as "invoiceexe.pdf".
      expect(safeFileName('invoice\u202efdp.exe')).to.equal('invoicefdp.exe');
      expect(safeFileName('...hidden.md')).to.equal('hidden.md');
      expect(safeFileName('  notes \t\n  week   1 .txt ')).to.equal('notes week 1 .txt');
      expect(safeFileName('what?.pdf')).to.equal('what_.pdf');
    });

    it('falls back to "file" when nothing is left', () => {
      for (const name of ['', '   ', '..', '../', '\u0001\u0002', '/']) expect(safeFileName(name)).to.equal('file');
    });

    it('caps the length at 200 characters and keeps the extension', () => {
      const long = safeFileName(`${'x'.repeat(300)}.pdf`);
      expect(long).to.have.length(200);
      expect(long.endsWith('x.pdf')).to.equal(true);
      const arabic = safeFileName(`${'ع'.repeat(300)}.docx`);
      expect(Array.from(arabic)).to.have.length(200);
      expect(arabic.endsWith('ع.docx')).to.equal(true);
    });
  });

  describe('receive()', () => {
    beforeEach(emptyBucket);

    it('stores several files of one request with their size, sha256 and sniffed type, and the form fields', async () => {
      const pdf = minimalPdf();
      const image = png(32, 16);
      const docx = minimalDocx();
      const res = await upload([
        { name: 'title', content: 'Week 1: conflict analysis' },
        // The browser's claimed types are wrong on purpose: only the content counts.
        { name: 'files', filename: 'handout.pdf', content: pdf, type: 'text/html' },
        { name: 'files', filename: 'map.png', content: image, type: 'application/pdf' },
        { name: 'files', filename: 'ملاحظات.txt', content: arabicText },
        { name: 'files', filename: 'participants.csv', content: csv, type: 'application/vnd.ms-excel' },
        { name: 'files', filename: 'brief.docx', content: docx },
        { name: 'language', content: 'ar' },
      ]).expect(200);
      const { files, fields } = res.body as { files: StoredFile[]; fields: Record<string, string> };
      expect(fields).to.deep.equal({ title: 'Week 1: conflict analysis', language: 'ar' });
      expect(files.map((f) => [f.filename, f.contentType, f.size, f.sha256])).to.deep.equal([
        ['handout.pdf', 'application/pdf', pdf.length, sha256(pdf)],
        ['map.png', 'image/png', image.length, sha256(image)],
        ['ملاحظات.txt', 'text/plain', arabicText.length, sha256(arabicText)],
        ['participants.csv', 'text/csv', csv.length, sha256(csv)],
        ['brief.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', docx.length, sha256(docx)],
      ]);
      expect(await counts()).to.deep.equal({ files: 5, chunks: 5 });

      // GridFS's own record says the same, for tools that look at the bucket directly.
      const doc = await connection.db!.collection('courses_material.files').findOne({ _id: new mongoose.Types.ObjectId(String(files[0]!.fileId)) });
      expect(doc).to.include({ filename: 'handout.pdf', length: pdf.length });
      expect(doc!.metadata).to.deep.equal({ contentType: 'application/pdf', filename: 'handout.pdf', size: pdf.length, sha256: sha256(pdf) });
    });

    it('streams a file of several MB into GridFS chunks', async () => {
      const big = largePdfLike(5 * 1024 * 1024 + 123);
      const file = await uploadOne('recording-notes.pdf', big);
      expect(file).to.include({ size: big.length, sha256: sha256(big), contentType: 'application/pdf' });
      expect(await counts()).to.deep.equal({ files: 1, chunks: Math.ceil(big.length / (255 * 1024)) });
    });

    it('checks a large UTF-8 text all the way, across chunk boundaries inside characters', async () => {
      // Two-byte Arabic letters and three-byte Chinese ones: chunk ends fall inside characters.
      const text = Buffer.from('المادة,材料,matière\n'.repeat(60_000), 'utf8');
      const file = await uploadOne('glossary.csv', text);
      expect(file).to.include({ size: text.length, sha256: sha256(text), contentType: 'text/csv' });
    });

    it('sanitises the uploaded name; Arabic names sent as raw UTF-8 (as browsers do) survive', async () => {
      const res = await upload([
        { name: 'files', filename: '../../etc/passwd.txt', content: 'root:x:0:0\n' },
        { name: 'files', filename: 'تقرير المرحلة الأولى.pdf', content: minimalPdf() },
      ]).expect(200);
      expect((res.body as { files: StoredFile[] }).files.map((f) => f.filename)).to.deep.equal(['passwd.txt', 'تقرير المرحلة الأولى.pdf']);
    });

    it('refuses a file over the limit with 413 and leaves no file and no chunk', async () => {
      const res = await upload([{ name: 'files', filename: 'slides.pdf', content: largePdfLike(1024 * 1024) }], '/upload-small').expect(413);
      expect(res.body.error).to.deep.equal({ code: 'FILE_TOO_LARGE', message: 'slides.pdf is larger than the 585.9 KB limit.' });
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('accepts a file of exactly the limit', async () => {
      const exact = largePdfLike(600_000);
      const res = await upload([{ name: 'files', filename: 'exact.pdf', content: exact }], '/upload-small').expect(200);
      expect((res.body as { files: StoredFile[] }).files[0]).to.include({ size: 600_000, sha256: sha256(exact) });
    });

    it('refuses a Windows program named report.pdf with 415, whatever the browser claims', async () => {
      const res = await upload([{ name: 'files', filename: 'report.pdf', content: windowsProgram(), type: 'application/pdf' }]).expect(415);
      expect(res.body.error).to.deep.equal({ code: 'FILE_TYPE_NOT_ALLOWED', message: 'report.pdf is not an allowed type: its content is a Windows program.' });
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('removes the files already stored when a later file of the request is refused', async () => {
      const res = await upload([
        { name: 'files', filename: 'reading.pdf', content: largePdfLike(700_000) },
        { name: 'files', filename: 'map.png', content: png(8, 8) },
        { name: 'files', filename: 'setup.pdf', content: windowsProgram() },
        { name: 'files', filename: 'after.txt', content: 'never stored' },
      ]).expect(415);
      expect(res.body.error.message).to.equal('setup.pdf is not an allowed type: its content is a Windows program.');
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('removes the files already stored when a later file is too large', async () => {
      await upload(
        [
          { name: 'files', filename: 'first.pdf', content: largePdfLike(400_000) },
          { name: 'files', filename: 'second.pdf', content: largePdfLike(900_000) },
        ],
        '/upload-small',
      ).expect(413);
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('refuses a text file that turns binary after the sampled start, removing the chunks already written', async () => {
      const content = Buffer.concat([Buffer.from('line of notes\n'.repeat(50_000)), Buffer.from([0, 1, 2, 3]), Buffer.from('more\n')]);
      const res = await upload([{ name: 'files', filename: 'notes.txt', content }]).expect(415);
      expect(res.body.error.message).to.match(/^notes\.txt is not an allowed type: its content is binary data/);
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('refuses text that is not UTF-8, XML and SVG, unknown binary data, text under other extensions, and dangerous names', async () => {
      const cases: [string, Buffer, RegExp][] = [
        ['liste.csv', Buffer.from('nom,ville\nÉlodie,Genève\n', 'latin1'), /its text is not UTF-8/],
        ['notes.txt', Buffer.from('\ufeffhello', 'utf16le'), /its text is UTF-16/],
        [
          'drawing.txt',
          Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
          /its content is XML \(such as SVG/,
        ],
        ['drawing.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), /files named \.svg are not accepted/],
        ['slides.key', Buffer.from('plain words'), /text files are accepted only as \.txt, \.md or \.csv/],
        ['page.txt', Buffer.from('<?xml version="1.0"?><html><script>alert(1)</script></html>'), /its content is XML/],
        ['page.html', Buffer.from('<!doctype html><script>alert(1)</script>'), /files named \.html are not accepted/],
        // A real PDF under a name that would make a saved copy open as a web page or a program.
        ['handout.html', minimalPdf(), /files named \.html are not accepted, whatever their content/],
        ['tool.jar', minimalDocx(), /files named \.jar are not accepted/],
        // Fixed bytes rather than random ones, which could by chance begin with some format's signature.
        ['data.bin', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) % 256)), /binary data, not a recognised/],
        ['archive.pdf', Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00, ...crypto.randomBytes(100)]), /its content is a RAR archive/],
      ];
      for (const [filename, content, reason] of cases) {
        const res = await upload([{ name: 'files', filename, content }]).expect(415);
        expect(res.body.error.message, filename).to.match(reason);
        expect(res.body.error.message.startsWith(`${filename} is not an allowed type: `)).to.equal(true);
      }
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('accepts a compound file only as an old Office document', async () => {
      const ok = await upload([{ name: 'files', filename: 'minutes.doc', content: compoundFile() }]).expect(200);
      expect((ok.body as { files: StoredFile[] }).files[0]!.contentType).to.equal('application/msword');
      // Outlook messages and Windows installers are compound files too.
      const res = await upload([{ name: 'files', filename: 'forwarded.msg', content: compoundFile() }]).expect(415);
      expect(res.body.error.message).to.match(/^forwarded\.msg is not an allowed type: its content is a compound binary file/);
    });

    it('refuses too many files, an empty file, no file, another field name and a malformed form with 400', async () => {
      const six = Array.from({ length: 6 }, (_, i) => ({ name: 'files', filename: `n${i}.txt`, content: `note ${i}\n` }));
      expect((await upload(six).expect(400)).body.error.code).to.equal('TOO_MANY_FILES');
      expect((await upload([{ name: 'files', filename: 'empty.pdf', content: '' }]).expect(400)).body.error).to.deep.equal({
        code: 'FILE_EMPTY',
        message: 'empty.pdf is empty.',
      });
      expect((await upload([{ name: 'title', content: 'no file here' }]).expect(400)).body.error.code).to.equal('NO_FILE');
      expect((await upload([{ name: 'attachment', filename: 'a.txt', content: 'x' }]).expect(400)).body.error.code).to.equal('MALFORMED_UPLOAD');
      expect((await request.post('/upload').send({ files: 'x' }).expect(400)).body.error.code).to.equal('MALFORMED_UPLOAD');
      const truncated = multipart([{ name: 'files', filename: 'a.txt', content: 'hello' }]);
      const cut = await request
        .post('/upload')
        .set('Content-Type', truncated.contentType)
        .send(truncated.body.subarray(0, truncated.body.length - 30))
        .expect(400);
      expect(cut.body.error.code).to.equal('MALFORMED_UPLOAD');
      const noBoundary = await request.post('/upload').set('Content-Type', 'multipart/form-data').send('--x\r\n').expect(400);
      expect(noBoundary.body.error.code).to.equal('MALFORMED_UPLOAD');
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });

    it('removes what was written when the client disconnects in the middle of a file', async () => {
      const { body, contentType } = multipart([
        { name: 'files', filename: 'first.pdf', content: minimalPdf() },
        { name: 'files', filename: 'interrupted.pdf', content: largePdfLike(3 * 1024 * 1024) },
      ]);
      const { port } = server.address() as AddressInfo;
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/upload',
        headers: { 'Content-Type': contentType, 'Content-Length': body.length },
      });
      req.on('error', () => undefined);
      const outcome = once(settled, 'settled');
      req.write(body.subarray(0, 1_500_000));
      // Wait until chunks of the second file are in GridFS, so that there is something to clean up.
      for (let i = 0; i < 200 && (await counts()).chunks < 3; i++) await new Promise((r) => setTimeout(r, 25));
      expect((await counts()).chunks).to.be.at.least(3);
      req.destroy();
      const [err] = await outcome;
      expect(err).to.be.instanceOf(HttpError);
      expect((err as HttpError).code).to.equal('UPLOAD_INTERRUPTED');
      expect(await counts()).to.deep.equal({ files: 0, chunks: 0 });
    });
  });

  describe('serve() and remove()', () => {
    let big: Buffer;
    let bigFile: StoredFile;
    let url: string;

    before(async () => {
      await emptyBucket();
      big = largePdfLike(1024 * 1024 + 17);
      bigFile = await uploadOne('Mediation – séance 1 «Genève».pdf', big);
      url = `/files/${bigFile.fileId.toHexString()}`;
    });

    it('sends the whole file with safe, cacheable-per-person headers', async () => {
      const res = await request.get(url).buffer(true).parse(binaryParser).expect(200);
      expect(res.headers['content-type']).to.equal('application/pdf');
      expect(res.headers['content-length']).to.equal(String(big.length));
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['etag']).to.equal(`"${sha256(big)}"`);
      expect(res.headers['accept-ranges']).to.equal('bytes');
      expect(res.headers['cache-control']).to.match(/^private\b/);
      expect(Buffer.compare(res.body as Buffer, big)).to.equal(0);
    });

    it('encodes a non-ASCII file name in Content-Disposition, inline for PDF and attachment on request', async () => {
      const res = await request.head(url).expect(200);
      expect(res.headers['content-disposition']).to.equal(
        `inline; filename="Mediation ? s?ance 1 ?Gen?ve?.pdf"; filename*=UTF-8''Mediation%20%E2%80%93%20s%C3%A9ance%201%20%C2%ABGen%C3%A8ve%C2%BB.pdf`,
      );
      const download = await request.head(`${url}?download=1`).expect(200);
      expect(download.headers['content-disposition']).to.match(/^attachment; filename=/);
    });

    it('answers a byte range with 206 and exactly those bytes', async () => {
      const res = await request.get(url).set('Range', 'bytes=0-99').buffer(true).parse(binaryParser).expect(206);
      expect(res.headers['content-range']).to.equal(`bytes 0-99/${big.length}`);
      expect(res.headers['content-length']).to.equal('100');
      expect(Buffer.compare(res.body as Buffer, big.subarray(0, 100))).to.equal(0);
    });

    it('answers suffix, open-ended and chunk-straddling ranges', async () => {
      const suffix = await request.get(url).set('Range', 'bytes=-10').buffer(true).parse(binaryParser).expect(206);
      expect(suffix.headers['content-range']).to.equal(`bytes ${big.length - 10}-${big.length - 1}/${big.length}`);
      expect(Buffer.compare(suffix.body as Buffer, big.subarray(big.length - 10))).to.equal(0);

      const open = await request.get(url).set('Range', 'bytes=100-').buffer(true).parse(binaryParser).expect(206);
      expect(open.headers['content-range']).to.equal(`bytes 100-${big.length - 1}/${big.length}`);
      expect(Buffer.compare(open.body as Buffer, big.subarray(100))).to.equal(0);

      // 255 KB GridFS chunks: this range begins in one chunk and ends in the next.
      const across = await request.get(url).set('Range', 'bytes=261000-262000').buffer(true).parse(binaryParser).expect(206);
      expect(Buffer.compare(across.body as Buffer, big.subarray(261000, 262001))).to.equal(0);
    });

    it('refuses an unsatisfiable range with 416, and sends the whole file for several ranges or a stale If-Range', async () => {
      const res = await request.get(url).set('Range', `bytes=${big.length}-`).expect(416);
      expect(res.headers['content-range']).to.equal(`bytes */${big.length}`);
      const multi = await request.get(url).set('Range', 'bytes=0-9,20-29').buffer(true).parse(binaryParser).expect(200);
      expect((multi.body as Buffer).length).to.equal(big.length);
      await request.get(url).set('Range', 'bytes=0-9').set('If-Range', '"something-else"').buffer(true).parse(binaryParser).expect(200);
      await request
        .get(url)
        .set('Range', 'bytes=0-9')
        .set('If-Range', `"${sha256(big)}"`)
        .buffer(true)
        .parse(binaryParser)
        .expect(206);
    });

    it('answers HEAD with the headers and no body', async () => {
      const res = await request.head(url).expect(200);
      expect(res.headers['content-length']).to.equal(String(big.length));
      expect(res.headers['content-type']).to.equal('application/pdf');
      expect(res.text ?? '').to.equal('');
    });

    it('answers If-None-Match with 304 when the content is unchanged', async () => {
      const res = await request
        .get(url)
        .set('If-None-Match', `"${sha256(big)}"`)
        .expect(304);
      expect(res.headers['etag']).to.equal(`"${sha256(big)}"`);
      await request.get(url).set('If-None-Match', '"other"').buffer(true).parse(binaryParser).expect(200);
    });

    it('serves text as UTF-8 and inline, and other types (ZIP, Office) as attachments', async () => {
      const text = await uploadOne('ملاحظات الجلسة.md', arabicText);
      const res = await request.get(`/files/${text.fileId.toHexString()}`).expect(200);
      expect(res.headers['content-type']).to.equal('text/markdown; charset=utf-8');
      expect(res.headers['content-disposition']).to.match(/^inline; /);
      expect(res.text).to.equal(arabicText.toString('utf8'));

      const docx = await uploadOne('brief.docx', minimalDocx());
      const office = await request.head(`/files/${docx.fileId.toHexString()}`).expect(200);
      expect(office.headers['content-disposition']).to.equal('attachment; filename=brief.docx');
    });

    it('takes a download stopped half-way by the client in its stride', async () => {
      // Larger than the sockets' buffers, so the server is still sending when the client goes.
      const large = await uploadOne('long-recording.mp4.pdf', largePdfLike(7 * 1024 * 1024));
      const { port } = server.address() as AddressInfo;
      const outcome = once(served, 'served');
      const req = http.get({ host: '127.0.0.1', port, path: `/files/${large.fileId.toHexString()}` });
      req.on('error', () => undefined);
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      await once(res, 'data');
      req.destroy();
      const [err] = await outcome;
      expect(err).to.equal(null);
    });

    it('remove() deletes the file and every chunk; a missing file is no error', async () => {
      const file = await uploadOne('to-remove.pdf', largePdfLike(600_000));
      const chunks = connection.db!.collection('courses_material.chunks');
      expect(await chunks.countDocuments({ files_id: file.fileId })).to.equal(3);
      const store = createMaterialStore(connection, { maxBytes: 1024 });
      await store.remove(file.fileId.toHexString());
      expect(await chunks.countDocuments({ files_id: file.fileId })).to.equal(0);
      expect(await connection.db!.collection('courses_material.files').countDocuments({ _id: file.fileId })).to.equal(0);
      await request.get(`/files/${file.fileId.toHexString()}`).expect(404);
      await store.remove(file.fileId);
      await store.remove('not-an-id');
      // The other files are untouched.
      expect(await chunks.countDocuments({ files_id: bigFile.fileId })).to.equal(5);
    });
  });

  describe('store()', () => {
    it('stores a Buffer or a stream like an upload (name, sniffed type, sha256, metadata, served back) and refuses the same files', async () => {
      const store = createMaterialStore(connection, { maxBytes: 600_000 });
      const before = await counts();

      const pdf = minimalPdf();
      const fromBuffer = await store.store('../handouts/Reading list.pdf', pdf);
      expect(fromBuffer).to.include({ filename: 'Reading list.pdf', contentType: 'application/pdf', size: pdf.length, sha256: sha256(pdf) });
      const doc = await connection.db!.collection('courses_material.files').findOne({ _id: fromBuffer.fileId });
      expect(doc).to.include({ filename: 'Reading list.pdf', length: pdf.length });
      expect(doc!.metadata).to.deep.equal({ contentType: 'application/pdf', filename: 'Reading list.pdf', size: pdf.length, sha256: sha256(pdf) });

      // A stream whose first chunk ends inside a two-byte Arabic letter: the UTF-8 check spans chunks.
      const fromStream = await store.store('ملاحظات.md', Readable.from([arabicText.subarray(0, 5), arabicText.subarray(5)]));
      expect(fromStream).to.include({ filename: 'ملاحظات.md', contentType: 'text/markdown', size: arabicText.length, sha256: sha256(arabicText) });
      stored.set(fromStream.fileId.toHexString(), fromStream);
      const res = await request.get(`/files/${fromStream.fileId.toHexString()}`).expect(200);
      expect(res.text).to.equal(arabicText.toString('utf8'));

      const refusal = async (pending: Promise<unknown>) => {
        try {
          await pending;
        } catch (err) {
          return err as HttpError;
        }
        throw new Error('expected store() to refuse the file');
      };
      const program = await refusal(store.store('report.pdf', windowsProgram()));
      expect([program.status, program.code, program.message]).to.deep.equal([
        415,
        'FILE_TYPE_NOT_ALLOWED',
        'report.pdf is not an allowed type: its content is a Windows program.',
      ]);
      // Over the limit only after GridFS chunks were written: they are removed too.
      const big = largePdfLike(900_000);
      const tooLarge = await refusal(
        store.store('slides.pdf', Readable.from(Array.from({ length: 9 }, (_, i) => big.subarray(i * 100_000, (i + 1) * 100_000)))),
      );
      expect([tooLarge.status, tooLarge.code]).to.deep.equal([413, 'FILE_TOO_LARGE']);
      expect((await refusal(store.store('empty.txt', Buffer.alloc(0)))).code).to.equal('FILE_EMPTY');

      expect(await counts()).to.deep.equal({ files: before.files + 2, chunks: before.chunks + 2 });
    });
  });
});
