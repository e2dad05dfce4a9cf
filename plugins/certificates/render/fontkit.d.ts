/**
 * The part of fontkit 2.0 that the renderer uses (fontkit ships no types): pdfkit embeds and
 * subsets fonts through fontkit; shaping is HarfBuzz's (fonts.ts).
 */
declare module 'fontkit' {
  export interface Font {
    postscriptName: string;
    familyName: string;
    unitsPerEm: number;
    ascent: number;
    descent: number;
    capHeight: number;
    hasGlyphForCodePoint(codePoint: number): boolean;
  }
  export function create(buffer: Uint8Array, postscriptName?: string): Font;
}
