/**
 * Pixel helpers for the rendering tests: a line of text alone on a small PDF page, rasterised by
 * poppler's pdftoppm (grey, 8 bits), 8-bit grey PNG files for the reference images (written and read
 * here with zlib: no image library needed), and a comparison that forgives anti-aliasing and
 * sub-pixel placement but not a different glyph.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import PDFDocument from 'pdfkit';
import { directionOf, drawLine, shapeLine } from '../render/text.ts';

/** A grey image: one byte per pixel, 0 black, 255 white. */
export interface Grey {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * A PDF page with `text` in bold at `size`, drawn at (10 + dx, baseline): just large enough for it,
 * or `width` points wide.
 */
export async function linePdf(text: string, o: { size?: number; dx?: number; width?: number } = {}): Promise<Buffer> {
  const { size = 28, dx = 0 } = o;
  const line = shapeLine(text, directionOf(text), 'bold');
  const width = o.width ?? Math.ceil(line.em * size + 20);
  const height = Math.ceil(size * 1.9);
  const doc = new PDFDocument({ size: [width, height], margin: 0, font: null as unknown as undefined });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve) => doc.on('end', resolve));
  doc.fillColor('#000000');
  drawLine(doc, line, 10 + dx, size * 1.3, size);
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}

/** Rasterises the first page of a PDF with pdftoppm at `dpi`, in grey. */
export function rasterise(pdf: Buffer, dir: string, dpi = 96): Grey {
  const file = join(dir, `r${process.hrtime.bigint()}.pdf`);
  writeFileSync(file, pdf);
  execFileSync('pdftoppm', ['-r', String(dpi), '-gray', '-singlefile', file, file]);
  const pgm = readFileSync(`${file}.pgm`);
  const m = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(pgm.subarray(0, 40).toString('latin1'));
  if (!m) throw new Error('pdftoppm did not write a PGM');
  return { width: Number(m[1]), height: Number(m[2]), data: new Uint8Array(pgm.subarray(m[0].length)) };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit grey PNG of the image (rows unfiltered, deflated). */
export function encodePng(img: Grey): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.width, 0);
  ihdr.writeUInt32BE(img.height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8 bits, grey, deflate, filter method 0, no interlace
  const raw = Buffer.alloc((img.width + 1) * img.height);
  for (let y = 0; y < img.height; y++) raw.set(img.data.subarray(y * img.width, (y + 1) * img.width), y * (img.width + 1) + 1);
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** Reads an 8-bit grey PNG as {@link encodePng} writes it (any row filter). */
export function decodePng(png: Buffer): Grey {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let width = 0,
    height = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[9] !== 0 || body[12] !== 0) throw new Error('only 8-bit grey, non-interlaced PNGs');
    } else if (type === 'IDAT') idat.push(body);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (width + 1)]!;
    for (let x = 0; x < width; x++) {
      const v = raw[y * (width + 1) + 1 + x]!;
      const a = x ? data[y * width + x - 1]! : 0;
      const b = y ? data[(y - 1) * width + x]! : 0;
      const c = x && y ? data[(y - 1) * width + x - 1]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a),
        pb = Math.abs(p - b),
        pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      if (predictor === undefined) throw new Error(`PNG row filter ${filter}`);
      data[y * width + x] = (v + predictor) & 0xff;
    }
  }
  return { width, height, data };
}

/**
 * How many ink pixels of each image have no ink pixel near them in the other one ("near": within
 * `radius` pixels), as a share of all ink pixels. Ink is darker than mid-grey. Anti-aliasing and
 * placement a pixel off move edges by a pixel and score near 0; a glyph that is not there, a mark
 * in another place or letters that do not join leave whole strokes without a partner.
 */
export function inkDifference(a: Grey, b: Grey, radius = 1): { stray: number; ink: number; share: number } {
  if (a.width !== b.width || a.height !== b.height) return { stray: Infinity, ink: 0, share: Infinity };
  const ink = (img: Grey, x: number, y: number) => x >= 0 && y >= 0 && x < img.width && y < img.height && img.data[y * img.width + x]! < 128;
  let stray = 0,
    total = 0;
  for (const [p, q] of [
    [a, b],
    [b, a],
  ] as const) {
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) {
        if (!ink(p, x, y)) continue;
        total++;
        let near = false;
        for (let dy = -radius; dy <= radius && !near; dy++) for (let dx = -radius; dx <= radius && !near; dx++) near = ink(q, x + dx, y + dy);
        if (!near) stray++;
      }
    }
  }
  return { stray, ink: total, share: total ? stray / total : 0 };
}
