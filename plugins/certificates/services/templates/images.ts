/**
 * A template's images (programme and partner logos, signatures): PNG or JPEG by content, within
 * the size limit, readable by pdfkit as it will be when printing; anything else is named in words.
 */
import crypto from 'node:crypto';
import { FileTypeParser } from 'file-type';
import PDFDocument from 'pdfkit';
import type { StoredImage } from '../../models/template.model.ts';

/** An image given to {@link TemplateService.save}: a new upload, or an image of an earlier version kept. */
export interface ImageInput {
  filename: string;
  data: Buffer;
  /** The form field it came from, so that a refusal is shown next to it. */
  field?: string;
}

/** What is wrong with an image, or null: PNG or JPEG by content, within the size limit, readable. */
export async function imageProblem(img: ImageInput, maxBytes: number): Promise<string | null> {
  const name = img.filename || 'The image';
  if (img.data.length === 0) return `${name} is empty.`;
  if (img.data.length > maxBytes)
    return `${name} is larger than the ${Math.round(maxBytes / 1024)} KB limit for images (it is ${Math.ceil(img.data.length / 1024)} KB): make it smaller.`;
  const kind = await imageKind(img.data);
  if (!kind) {
    let detected: string | undefined;
    try {
      detected = (await new FileTypeParser().fromBuffer(img.data))?.ext;
    } catch {
      detected = undefined;
    }
    const head = img.data.subarray(0, 512).toString('utf8').trimStart().toLowerCase();
    const what = detected
      ? (DESCRIBED[detected] ?? `a .${detected} file`)
      : head.startsWith('<')
        ? 'XML or SVG (SVG can carry script)'
        : 'not a recognised image';
    return `${name} is not a PNG or JPEG image: its content is ${what}. Save it as PNG or JPEG and choose it again.`;
  }
  try {
    // pdfkit reads the image's header here, as it will when printing.
    (new PDFDocument({ autoFirstPage: false }) as unknown as { openImage(b: Buffer): unknown }).openImage(img.data);
  } catch {
    return `${name} could not be read as a ${kind === 'image/png' ? 'PNG' : 'JPEG'} image (it may be damaged). Save it again and choose it again.`;
  }
  return null;
}

const DESCRIBED: Record<string, string> = {
  exe: 'a Windows program',
  elf: 'a Linux program',
  pdf: 'a PDF document',
  gif: 'a GIF image',
  webp: 'a WebP image',
  bmp: 'a BMP image',
  tif: 'a TIFF image',
  ico: 'an icon',
  xml: 'XML or SVG (SVG can carry script)',
  zip: 'a ZIP archive',
  heic: 'a HEIC photo',
  avif: 'an AVIF image',
};

async function imageKind(data: Buffer): Promise<StoredImage['contentType'] | null> {
  let ext: string | undefined;
  try {
    ext = (await new FileTypeParser().fromBuffer(data))?.ext;
  } catch {
    return null;
  }
  return ext === 'png' ? 'image/png' : ext === 'jpg' ? 'image/jpeg' : null;
}

export function storedImage(img: ImageInput): StoredImage {
  const contentType = img.data[0] === 0x89 ? 'image/png' : 'image/jpeg';
  return {
    contentType,
    filename: img.filename.replace(/[\p{Cc}\p{Cf}\\/]/gu, '').slice(-120) || 'image',
    size: img.data.length,
    sha256: crypto.createHash('sha256').update(img.data).digest('hex'),
    data: img.data,
  };
}
