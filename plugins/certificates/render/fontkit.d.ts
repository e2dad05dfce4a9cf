/**
 * The part of fontkit 2.0 that the renderer uses (fontkit ships no types). `_layoutEngine` is
 * internal: see fonts.ts for why we reach into it.
 */
declare module 'fontkit' {
  export interface Glyph {
    id: number;
    codePoints: number[];
    advanceWidth: number;
  }
  export interface GlyphPosition {
    xAdvance: number;
    yAdvance: number;
    xOffset: number;
    yOffset: number;
  }
  export interface GlyphRun {
    glyphs: Glyph[];
    positions: GlyphPosition[];
    direction: 'ltr' | 'rtl';
    advanceWidth: number;
  }
  export interface Font {
    postscriptName: string;
    familyName: string;
    unitsPerEm: number;
    ascent: number;
    descent: number;
    capHeight: number;
    hasGlyphForCodePoint(codePoint: number): boolean;
    glyphForCodePoint(codePoint: number): Glyph;
    layout(text: string | Glyph[], features?: string[], script?: string, language?: string, direction?: 'ltr' | 'rtl'): GlyphRun;
    /** Internal (fontkit 2.0.4): the layout engine; `engine` is the OpenType shaper when the font has GSUB/GPOS. */
    _layoutEngine: { engine?: { glyphInfos: Array<{ codePoints: number[] }> | null; cleanup?: () => void } | null };
  }
  export function create(buffer: Uint8Array, postscriptName?: string): Font;
}
