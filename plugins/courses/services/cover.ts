/**
 * Course covers: an image (JPEG, PNG or WebP, as its content says) stored in GridFS like course
 * material, with its pixel size read from its header so that pages set width and height.
 */
import type { LocalizedText } from '../contract.ts';

export const COVER_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
/** Largest cover, in bytes: covers are shown on every catalogue card, so they stay small. */
export const COVER_MAX_BYTES = 2 * 1024 * 1024;

export interface StoredCover {
  fileId: string;
  contentType: string;
  size: number;
  sha256: string;
  width: number;
  height: number;
  /** Per course language, like the course's other texts. */
  alt: LocalizedText;
}

/** The pixel size of a PNG, JPEG or WebP from its first bytes; null when it cannot be read. */
export function imageSize(head: Buffer): { width: number; height: number } | null {
  if (head.length >= 24 && head.readUInt32BE(0) === 0x89504e47 && head.toString('latin1', 12, 16) === 'IHDR') {
    return positive(head.readUInt32BE(16), head.readUInt32BE(20));
  }
  if (head.length >= 30 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = head.toString('latin1', 12, 16);
    if (chunk === 'VP8X') return positive(1 + head.readUIntLE(24, 3), 1 + head.readUIntLE(27, 3));
    if (chunk === 'VP8L' && head[20] === 0x2f) {
      const bits = head.readUInt32LE(21);
      return positive(1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff));
    }
    if (chunk === 'VP8 ') return positive(head.readUInt16LE(26) & 0x3fff, head.readUInt16LE(28) & 0x3fff);
    return null;
  }
  if (head.length >= 4 && head[0] === 0xff && head[1] === 0xd8) {
    // Markers up to the first start-of-frame, which holds the size.
    let at = 2;
    while (at + 9 < head.length) {
      if (head[at] !== 0xff) return null;
      const marker = head[at + 1]!;
      if (marker === 0xff) {
        at += 1;
        continue;
      }
      const length = head.readUInt16BE(at + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) return positive(head.readUInt16BE(at + 7), head.readUInt16BE(at + 5));
      at += 2 + length;
    }
  }
  return null;
}

const positive = (width: number, height: number) => (width > 0 && height > 0 ? { width, height } : null);
