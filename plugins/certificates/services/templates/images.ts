/**
 * A template's images (programme and partner logos, signatures): PNG or JPEG by content, within
 * the size limit, readable by pdfkit as it will be when printing; anything else is named in words.
 */
import crypto from 'node:crypto';
import { FileTypeParser } from 'file-type';
import PDFDocument from 'pdfkit';
import type { ErrorText } from '../../../../src/index.ts';
import type { StoredImage } from '../../models/template.model.ts';

/** An image given to {@link TemplateService.save}: a new upload, or an image of an earlier version kept. */
export interface ImageInput {
  filename: string;
  data: Buffer;
  /** The form field it came from, so that a refusal is shown next to it. */
  field?: string;
}

/** What is wrong with an image (its catalogue entry), or null: PNG or JPEG by content, within the size limit, readable. */
export async function imageProblem(img: ImageInput, maxBytes: number): Promise<ErrorText | null> {
  // Browsers always send a file's name; one made in code may have none.
  const named = (key: string, params: Record<string, unknown> = {}): ErrorText => ({ key, params: { name: img.filename || 'image', ...params } });
  if (img.data.length === 0) return named('certificates:errors.image.empty');
  if (img.data.length > maxBytes)
    return named('certificates:errors.image.tooLarge', { limit: Math.round(maxBytes / 1024), size: Math.ceil(img.data.length / 1024) });
  const kind = await imageKind(img.data);
  if (!kind) {
    let detected: string | undefined;
    try {
      detected = (await new FileTypeParser().fromBuffer(img.data))?.ext;
    } catch {
      detected = undefined;
    }
    const head = img.data.subarray(0, 512).toString('utf8').trimStart().toLowerCase();
    const what = detected ? (DESCRIBED.has(detected) ? detected : 'other') : head.startsWith('<') ? 'xml' : 'unknown';
    return named(`certificates:errors.image.notPngOrJpeg.${what}`, { ext: detected ?? '' });
  }
  try {
    // pdfkit reads the image's header here, as it will when printing.
    (new PDFDocument({ autoFirstPage: false }) as unknown as { openImage(b: Buffer): unknown }).openImage(img.data);
  } catch {
    return named('certificates:errors.image.damaged', { kind: kind === 'image/png' ? 'PNG' : 'JPEG' });
  }
  return null;
}

/** The kinds of file a refusal names (`certificates:errors.image.notPngOrJpeg.<kind>`); others are named by extension. */
const DESCRIBED = new Set(['exe', 'elf', 'pdf', 'gif', 'webp', 'bmp', 'tif', 'ico', 'xml', 'zip', 'heic', 'avif']);

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
