/**
 * Which files course material may be, decided from their content (file-type) and name: documents,
 * images, audio, video, ZIP and UTF-8 text are accepted; programs, disk images, markup that can
 * carry script, and names that would run when saved are refused with words a trainer understands.
 */
import { FileTypeParser, type FileTypeResult } from 'file-type';
import { HttpError } from '../../../../src/index.ts';

/**
 * Bytes kept in memory to decide a file's type. More than file-type's 4100-byte default so that an
 * Office package's manifest or a long MP4 header is still inside the sample; the rest of the file
 * is never buffered.
 */
export const HEAD_BYTES = 64 * 1024;

const OFFICE_BY_EXTENSION: Record<string, string> = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
};

/** Old (compound-file) Office formats: file-type only says `cfb`, which is also what .msi installers are. */
const LEGACY_OFFICE_BY_EXTENSION: Record<string, string> = {
  doc: 'application/msword',
  xls: 'application/vnd.ms-excel',
  ppt: 'application/vnd.ms-powerpoint',
};

/** Detected type (file-type's `ext`) → the Content-Type we store and serve. */
const ALLOWED_DETECTED: Record<string, string> = {
  pdf: 'application/pdf',
  ...OFFICE_BY_EXTENSION,
  png: 'image/png',
  apng: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  mp4: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  zip: 'application/zip',
};

const TEXT_BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
};

/**
 * Words for the types people are most likely to upload by mistake, or on purpose (in English; pages
 * say them as `courses:errors.fileType.content.<ext>`).
 */
const DESCRIBED: Record<string, string> = {
  exe: 'a Windows program',
  elf: 'a Linux program',
  macho: 'a macOS program',
  dmg: 'a macOS disk image',
  jar: 'a Java program',
  class: 'a Java program',
  apk: 'an Android app',
  xpi: 'a browser extension',
  crx: 'a browser extension',
  wasm: 'a WebAssembly program',
  lnk: 'a Windows shortcut',
  swf: 'a Flash file',
  xml: 'XML (such as SVG, which can carry script)',
  rar: 'a RAR archive',
  '7z': 'a 7-Zip archive',
  gz: 'a gzip archive',
  tar: 'a tar archive',
};

/**
 * Names that make a saved download run or render as something else (a PDF saved as .html, a ZIP
 * as .jar): refused whatever the content, since the name travels with the file to people's disks.
 */
const DANGEROUS_EXTENSIONS = new Set([
  'exe',
  'msi',
  'com',
  'scr',
  'bat',
  'cmd',
  'ps1',
  'vbs',
  'vbe',
  'js',
  'jse',
  'wsf',
  'wsh',
  'hta',
  'cpl',
  'lnk',
  'reg',
  'jar',
  'apk',
  'xpi',
  'crx',
  'appx',
  'msix',
  'app',
  'dmg',
  'pkg',
  'deb',
  'rpm',
  'sh',
  'command',
  'html',
  'htm',
  'xhtml',
  'shtml',
  'svg',
  'svgz',
  'xml',
  'mht',
  'mhtml',
]);

export interface Classification {
  contentType: string;
  /** Present for text: keeps checking the rest of the file. */
  text?: TextCheck;
}

export async function classify(head: Buffer, filename: string, complete: boolean): Promise<Classification> {
  const extension = extensionOf(filename);
  // A UTF-16 byte-order mark looks like an MPEG audio frame to file-type; say what it really is.
  if (isUtf16(head)) throw notText(filename, UTF16_REASON, 'utf16');
  if (DANGEROUS_EXTENSIONS.has(extension)) {
    throw new HttpError(
      415,
      'FILE_TYPE_NOT_ALLOWED',
      `${filename} is not an allowed type: files named .${extension} are not accepted, whatever their content.`,
      { filename },
      { key: 'courses:errors.fileType.dangerousName', params: { filename, ext: extension } },
    );
  }
  let detected: FileTypeResult | undefined;
  try {
    // A parser per call: it keeps the file being parsed in its own fields, and the files of a
    // request are classified concurrently.
    detected = await new FileTypeParser().fromBuffer(head);
  } catch {
    // A parser failure on a truncated or hostile head means "not recognised", which is judged below.
    detected = undefined;
  }
  const refuse = (reason: string, key: string, params: Record<string, unknown> = {}) =>
    new HttpError(
      415,
      'FILE_TYPE_NOT_ALLOWED',
      `${filename} is not an allowed type: ${reason}.`,
      { filename, detected: detected?.mime ?? null },
      { key, params: { filename, ...params } },
    );

  if (detected) {
    if (detected.ext === 'cfb') {
      const legacy = LEGACY_OFFICE_BY_EXTENSION[extension];
      if (legacy) return { contentType: legacy };
      throw refuse(
        'its content is a compound binary file (such as a Windows installer); only old Office files named .doc, .xls or .ppt are accepted in that format',
        'courses:errors.fileType.compound',
      );
    }
    // Office files are ZIP packages; when the package's manifest lies beyond the sample file-type
    // can only say "zip", and the extension then names which Office type it is.
    if (detected.ext === 'zip' && OFFICE_BY_EXTENSION[extension]) return { contentType: OFFICE_BY_EXTENSION[extension] };
    const allowed = ALLOWED_DETECTED[detected.ext];
    if (allowed) return { contentType: allowed };
    const described = DESCRIBED[detected.ext];
    throw described
      ? refuse(`its content is ${described}`, `courses:errors.fileType.content.${detected.ext}`)
      : refuse(`its content is ${detected.mime} (.${detected.ext})`, 'courses:errors.fileType.contentOther', { mime: detected.mime, ext: detected.ext });
  }

  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    // A ZIP whose first entry is larger than the sample: file-type gives up, but the signature is clear.
    return { contentType: OFFICE_BY_EXTENSION[extension] ?? ALLOWED_DETECTED.zip! };
  }

  const text = new TextCheck();
  text.push(head, filename);
  if (complete) text.end(filename);
  const textType = TEXT_BY_EXTENSION[extension];
  if (!textType) throw refuse('text files are accepted only as .txt, .md or .csv', 'courses:errors.fileType.textExtension');
  return { contentType: textType, text };
}

/** Plain text means UTF-8 without NUL bytes, over the whole file (it is served as charset=utf-8). */
export class TextCheck {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  push(chunk: Uint8Array, filename: string) {
    if (chunk.includes(0)) throw notText(filename, 'its content is binary data, not a recognised document, image, audio, video or text format', 'binary');
    try {
      this.decoder.decode(chunk, { stream: true });
    } catch {
      throw notText(filename, 'its text is not UTF-8; save it as UTF-8 and try again', 'notUtf8');
    }
  }

  end(filename: string) {
    try {
      this.decoder.decode();
    } catch {
      throw notText(filename, 'its text is not UTF-8 (it ends in the middle of a character)', 'notUtf8End');
    }
  }
}

const UTF16_REASON = 'its text is UTF-16; save it as UTF-8 and try again';

export function isUtf16(chunk: Uint8Array): boolean {
  return (chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff);
}

function notText(filename: string, reason: string, kind: 'binary' | 'notUtf8' | 'notUtf8End' | 'utf16') {
  return new HttpError(
    415,
    'FILE_TYPE_NOT_ALLOWED',
    `${filename} is not an allowed type: ${reason}.`,
    { filename },
    {
      key: `courses:errors.fileType.text.${kind}`,
      params: { filename },
    },
  );
}

function extensionOf(filename: string): string {
  const match = /\.([^.]+)$/.exec(filename);
  return match ? match[1]!.toLowerCase() : '';
}
