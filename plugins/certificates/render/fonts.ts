/**
 * The font registry: the bundled Noto TTFs, each loaded once per process with fontkit, chosen per
 * run of text by coverage, and shaped here (not by pdfkit) so that a whole run is shaped at once in
 * the direction the bidi algorithm gave it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as fontkit from 'fontkit';

/** Font families, in the order a character's font is looked for. */
export type FontFamily = 'latin' | 'arabic' | 'cjk';
export type FontWeight = 'regular' | 'bold';

const FAMILY_ORDER: readonly FontFamily[] = ['latin', 'arabic', 'cjk'];

/**
 * Which file serves which family. Noto Sans covers Latin, Cyrillic and Greek; Noto Naskh Arabic
 * covers Arabic (and Arabic-Indic digits); Noto Sans SC covers Chinese (and CJK punctuation).
 */
const FILES: Record<FontFamily, { pkg: string; regular: string; bold: string }> = {
  latin: { pkg: '@expo-google-fonts/noto-sans', regular: '400Regular/NotoSans_400Regular.ttf', bold: '700Bold/NotoSans_700Bold.ttf' },
  arabic: { pkg: '@expo-google-fonts/noto-naskh-arabic', regular: '400Regular/NotoNaskhArabic_400Regular.ttf', bold: '700Bold/NotoNaskhArabic_700Bold.ttf' },
  cjk: { pkg: '@expo-google-fonts/noto-sans-sc', regular: '400Regular/NotoSansSC_400Regular.ttf', bold: '700Bold/NotoSansSC_700Bold.ttf' },
};

/** A loaded font file. `key` is the name it is registered under in each PDF document. */
export interface FontFace {
  key: string;
  family: FontFamily;
  weight: FontWeight;
  font: fontkit.Font;
  /** The shaper's glyph infos of the last layout (see {@link shape}). */
  lastGlyphInfos: Array<{ codePoints: number[] }> | null;
}

/** One glyph of a shaped run, in visual order, with the characters it stands for. */
export interface ShapedGlyph {
  id: number;
  /** Characters (logical order) this glyph represents; empty for marks a font adds (Arabic dots). */
  codePoints: number[];
  /** Advance and offsets in font units. */
  xAdvance: number;
  xOffset: number;
  yOffset: number;
  advanceWidth: number;
}

const require = createRequire(import.meta.url);
const faces = new Map<string, FontFace>();

function fontPath(family: FontFamily, weight: FontWeight): string {
  const spec = FILES[family];
  return join(dirname(require.resolve(`${spec.pkg}/package.json`)), spec[weight]);
}

/** The face for a family and weight, loaded on first use and kept for the life of the process. */
export function face(family: FontFamily, weight: FontWeight = 'regular'): FontFace {
  const key = `${family}-${weight}`;
  let f = faces.get(key);
  if (!f) {
    const font = fontkit.create(readFileSync(fontPath(family, weight)));
    f = { key, family, weight, font, lastGlyphInfos: null };
    captureGlyphInfos(f);
    faces.set(key, f);
  }
  return f;
}

/**
 * fontkit hands back shaped glyphs as *shared, cached* Glyph objects whose `codePoints` are those of
 * whichever text first produced that glyph id in the process. In Noto Naskh Arabic one dotless
 * skeleton glyph serves ب, ت, ن, ي…, so pdfkit's ToUnicode map (built from `glyph.codePoints`)
 * prints ن as ب, and what a PDF extracts would depend on what the process rendered before.
 * The shaper's own per-layout glyph infos carry the right characters; fontkit drops them in
 * `cleanup()`, so we keep the last ones. Layout is synchronous, so "the last" is ours.
 */
function captureGlyphInfos(f: FontFace) {
  const layoutEngine = f.font._layoutEngine;
  const engine = layoutEngine?.engine;
  if (!engine || typeof engine.cleanup !== 'function') return;
  if (f.font._layoutEngine !== layoutEngine) throw new Error('fontkit layout engine is not cached: this fontkit version is not supported');
  const cleanup = engine.cleanup;
  engine.cleanup = function (this: typeof engine) {
    f.lastGlyphInfos = this!.glyphInfos;
    cleanup.call(this);
  };
}

/** Fonts of the families, regular weight first; loads Noto Sans SC (10 MB) only when asked. */
function covers(family: FontFamily, codePoint: number): boolean {
  return face(family).font.hasGlyphForCodePoint(codePoint);
}

/** Characters that carry no glyph of their own: bidi controls, joiners, variation selectors. */
export function isInvisibleControl(cp: number): boolean {
  return (
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x061c ||
    cp === 0xfeff ||
    cp === 0x00ad ||
    (cp >= 0xfe00 && cp <= 0xfe0f)
  );
}

/** Characters where a whole word is expected to be of one script (not a neutral like a space or a digit). */
const CJK_RANGES: Array<[number, number]> = [
  [0x2e80, 0x2fdf],
  [0x3000, 0x303f],
  [0x3040, 0x30ff],
  [0x3100, 0x312f],
  [0x31a0, 0x31ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xffef],
  [0x20000, 0x3134f],
];
const ARABIC_RANGES: Array<[number, number]> = [
  [0x0600, 0x06ff],
  [0x0750, 0x077f],
  [0x08a0, 0x08ff],
  [0xfb50, 0xfdff],
  [0xfe70, 0xfeff],
];
const inRanges = (cp: number, ranges: Array<[number, number]>) => ranges.some(([a, b]) => cp >= a && cp <= b);

/** The family a character naturally belongs to, when it belongs to one (otherwise `null`: neutral). */
export function naturalFamily(cp: number): FontFamily | null {
  if (inRanges(cp, ARABIC_RANGES)) return 'arabic';
  if (inRanges(cp, CJK_RANGES)) return 'cjk';
  if (/\p{L}|\p{M}/u.test(String.fromCodePoint(cp))) return 'latin';
  return null;
}

/**
 * The font for one character: its natural family when that font has it, otherwise `preferred`
 * (the neighbouring run's font, so a space or digit stays in the run around it) when it has it,
 * otherwise the first bundled font that has it; `null` when no bundled font has it.
 */
export function familyFor(cp: number, preferred: FontFamily | null): FontFamily | null {
  const natural = naturalFamily(cp);
  if (natural && covers(natural, cp)) return natural;
  if (preferred && covers(preferred, cp)) return preferred;
  for (const family of FAMILY_ORDER) if (covers(family, cp)) return family;
  return null;
}

/**
 * The characters of `text` that no bundled font can print (each once, in order of appearance),
 * so that a name is flagged before issuance instead of printing a box. Invisible controls (bidi
 * marks, joiners) and line breaks are not counted.
 */
export function uncoveredCharacters(text: string): string[] {
  const missing: string[] = [];
  for (const ch of text.normalize('NFC')) {
    const cp = ch.codePointAt(0)!;
    if (isInvisibleControl(cp) || ch === '\n' || ch === '\r' || ch === '\t') continue;
    if (familyFor(cp, null) === null && !missing.includes(ch)) missing.push(ch);
  }
  return missing;
}

/** OpenType script tag for fontkit, per family. */
const SCRIPT_TAG: Record<FontFamily, string> = { latin: 'latn', arabic: 'arab', cjk: 'hani' };

/**
 * Shapes a whole run (one font, one direction) with fontkit and returns its glyphs in visual order,
 * each with the characters it stands for. The direction comes from the bidi algorithm, never from
 * fontkit's guess: fontkit would call a run of Arabic-Indic digits "Arabic, right to left" and
 * reverse ٢٠٢٦ into ٦٢٠٢.
 */
export function shape(f: FontFace, text: string, direction: 'ltr' | 'rtl'): ShapedGlyph[] {
  // Start from glyphs that carry their own characters (clones of fontkit's shared glyphs), so the
  // shaper's joining analysis and the glyph infos it leaves behind see the right code points.
  const input: fontkit.Glyph[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    input.push(Object.create(f.font.glyphForCodePoint(cp), { codePoints: { value: [cp] } }) as fontkit.Glyph);
  }
  f.lastGlyphInfos = null;
  const run = f.font.layout(input, [], SCRIPT_TAG[f.family], undefined, direction);
  const infos = f.lastGlyphInfos as Array<{ codePoints: number[] }> | null;
  const n = run.glyphs.length;
  if (infos && infos.length !== n) throw new Error('fontkit glyph infos do not match the glyph run');
  return run.glyphs.map((g, i) => {
    const p = run.positions[i]!;
    const info = infos ? infos[direction === 'rtl' ? n - 1 - i : i]! : g;
    return { id: g.id, codePoints: [...info.codePoints], xAdvance: p.xAdvance, xOffset: p.xOffset, yOffset: p.yOffset, advanceWidth: g.advanceWidth };
  });
}
