/**
 * The font registry and the shaper: the bundled Noto TTFs, each loaded once per process (lazily,
 * on the first character that needs it), chosen per run of text by script and coverage, and
 * shaped with HarfBuzz (harfbuzzjs, the WebAssembly build of the shaper browsers use) so that
 * every script is shaped by the OpenType rules its fonts were made for: Indic reordering,
 * conjuncts and reph, Khmer and Myanmar subscripts, Thai mark stacking, Arabic joining and marks.
 *
 * Each file is parsed twice: by fontkit, which pdfkit needs to embed and subset the font, and by
 * HarfBuzz, which shapes and draws outlines (for the SVG preview).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as fontkit from 'fontkit';
import * as hb from 'harfbuzzjs';

/** Font families, in the order a character's font is looked for when its script has no font of its own. */
export const FONT_FAMILIES = [
  'latin',
  'arabic',
  'hebrew',
  'devanagari',
  'bengali',
  'tamil',
  'sinhala',
  'thai',
  'khmer',
  'myanmar',
  'ethiopic',
  'georgian',
  'armenian',
  'korean',
  'cjk',
] as const;
export type FontFamily = (typeof FONT_FAMILIES)[number];
export type FontWeight = 'regular' | 'bold';

/**
 * Which package serves which family. Noto Sans covers Latin, Cyrillic and Greek; Noto Naskh Arabic
 * covers Arabic (and Arabic-Indic digits); Noto Sans SC covers Chinese (and CJK punctuation, kana);
 * Noto Sans KR covers Hangul; each other script has its Noto Sans. All from `@expo-google-fonts/*`,
 * whose file names follow one pattern.
 */
const PACKAGES: Record<FontFamily, [pkg: string, file: string]> = {
  latin: ['noto-sans', 'NotoSans'],
  arabic: ['noto-naskh-arabic', 'NotoNaskhArabic'],
  hebrew: ['noto-sans-hebrew', 'NotoSansHebrew'],
  devanagari: ['noto-sans-devanagari', 'NotoSansDevanagari'],
  bengali: ['noto-sans-bengali', 'NotoSansBengali'],
  tamil: ['noto-sans-tamil', 'NotoSansTamil'],
  sinhala: ['noto-sans-sinhala', 'NotoSansSinhala'],
  thai: ['noto-sans-thai', 'NotoSansThai'],
  khmer: ['noto-sans-khmer', 'NotoSansKhmer'],
  myanmar: ['noto-sans-myanmar', 'NotoSansMyanmar'],
  ethiopic: ['noto-sans-ethiopic', 'NotoSansEthiopic'],
  georgian: ['noto-sans-georgian', 'NotoSansGeorgian'],
  armenian: ['noto-sans-armenian', 'NotoSansArmenian'],
  korean: ['noto-sans-kr', 'NotoSansKR'],
  cjk: ['noto-sans-sc', 'NotoSansSC'],
};

/**
 * Scripts (ISO 15924, as HarfBuzz names them) and the family that prints each. A character of
 * another script (Common, Inherited) is neutral: it goes with its neighbours.
 */
const SCRIPTS: Array<[script: string, family: FontFamily, test: RegExp]> = [
  ['Latn', 'latin', /\p{sc=Latin}/u],
  ['Cyrl', 'latin', /\p{sc=Cyrillic}/u],
  ['Grek', 'latin', /\p{sc=Greek}/u],
  ['Arab', 'arabic', /\p{sc=Arabic}/u],
  ['Hebr', 'hebrew', /\p{sc=Hebrew}/u],
  ['Deva', 'devanagari', /\p{sc=Devanagari}/u],
  ['Beng', 'bengali', /\p{sc=Bengali}/u],
  ['Taml', 'tamil', /\p{sc=Tamil}/u],
  ['Sinh', 'sinhala', /\p{sc=Sinhala}/u],
  ['Thai', 'thai', /\p{sc=Thai}/u],
  ['Khmr', 'khmer', /\p{sc=Khmer}/u],
  ['Mymr', 'myanmar', /\p{sc=Myanmar}/u],
  ['Ethi', 'ethiopic', /\p{sc=Ethiopic}/u],
  ['Geor', 'georgian', /\p{sc=Georgian}/u],
  ['Armn', 'armenian', /\p{sc=Armenian}/u],
  ['Hang', 'korean', /\p{sc=Hangul}/u],
  ['Hani', 'cjk', /\p{sc=Han}/u],
  ['Hira', 'cjk', /\p{sc=Hiragana}/u],
  ['Kana', 'cjk', /\p{sc=Katakana}/u],
  ['Bopo', 'cjk', /\p{sc=Bopomofo}/u],
];

/** A loaded font file. `key` is the name it is registered under in each PDF document. */
export interface FontFace {
  key: string;
  family: FontFamily;
  weight: FontWeight;
  /** fontkit's parse, for pdfkit (embedding, subsetting) and metrics. */
  font: fontkit.Font;
  /** HarfBuzz's parse, for shaping and outlines. */
  hb: hb.Font;
  /** The font's dotted circle (U+25CC), which HarfBuzz inserts where a sequence is broken; 0 if none. */
  dottedCircle: number;
  /** A glyph that draws nothing (the space), for invisible text. */
  blank: number;
}

/** One glyph of a shaped run, in visual order. */
export interface ShapedGlyph {
  id: number;
  /** Start (UTF-16 index in the run's text) of the HarfBuzz cluster the glyph belongs to. */
  cluster: number;
  /** Advance and offsets in font units. */
  xAdvance: number;
  xOffset: number;
  yOffset: number;
  /** The glyph's own advance (its width in the font), which the PDF's W array gives. */
  advanceWidth: number;
}

/** A shaped run: glyphs in visual order, and its clusters (logical order) with their text. */
export interface Shaping {
  glyphs: ShapedGlyph[];
  /** Cluster starts in logical order, each with the end of its text (UTF-16 indices in the run's text). */
  clusters: Array<{ start: number; end: number }>;
  /** Clusters that did not shape into real glyphs (.notdef, or a dotted circle HarfBuzz inserted). */
  broken: Array<{ start: number; end: number }>;
}

const require = createRequire(import.meta.url);
const faces = new Map<string, FontFace>();

function fontPath(family: FontFamily, weight: FontWeight): string {
  const [pkg, file] = PACKAGES[family];
  const style = weight === 'bold' ? '700Bold' : '400Regular';
  return join(dirname(require.resolve(`@expo-google-fonts/${pkg}/package.json`)), style, `${file}_${style}.ttf`);
}

/** The face for a family and weight, loaded on first use and kept for the life of the process. */
export function face(family: FontFamily, weight: FontWeight = 'regular'): FontFace {
  const key = `${family}-${weight}`;
  let f = faces.get(key);
  if (!f) {
    const bytes = readFileSync(fontPath(family, weight));
    const font = fontkit.create(bytes);
    const hbFont = new hb.Font(new hb.Face(new hb.Blob(bytes)));
    f = { key, family, weight, font, hb: hbFont, dottedCircle: hbFont.nominalGlyph(0x25cc) ?? 0, blank: hbFont.nominalGlyph(0x20) ?? 0 };
    faces.set(key, f);
  }
  return f;
}

/** Fonts of the families, regular weight first; loads Noto Sans SC (10 MB) only when asked. */
function covers(family: FontFamily, codePoint: number): boolean {
  return face(family).font.hasGlyphForCodePoint(codePoint);
}

/** Characters that carry no glyph of their own and are left out of runs: bidi controls, variation selectors… */
export function isInvisibleControl(cp: number): boolean {
  return (
    cp === 0x200b ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x061c ||
    cp === 0xfeff ||
    cp === 0x00ad ||
    (cp >= 0xfe00 && cp <= 0xfe0f)
  );
}

/** Zero-width non-joiner and joiner: kept in the run, where they steer shaping (Indic half forms, Persian). */
export function isJoiner(cp: number): boolean {
  return cp === 0x200c || cp === 0x200d;
}

const scriptCache = new Map<number, [string, FontFamily] | null>();

/** The script of a character (ISO 15924) and its family, or `null` for neutrals (Common, Inherited). */
export function scriptOf(cp: number): [script: string, family: FontFamily] | null {
  let s = scriptCache.get(cp);
  if (s === undefined) {
    const ch = String.fromCodePoint(cp);
    const hit = SCRIPTS.find(([, , test]) => test.test(ch));
    s = hit ? [hit[0], hit[1]] : null;
    scriptCache.set(cp, s);
  }
  return s;
}

/** The family a character naturally belongs to, when it belongs to one (otherwise `null`: neutral). */
export function naturalFamily(cp: number): FontFamily | null {
  return scriptOf(cp)?.[1] ?? null;
}

/** A combining mark (or joiner) of no script of its own: it belongs with the character before it. */
export function isInheritedMark(cp: number): boolean {
  return isJoiner(cp) || (scriptOf(cp) === null && /\p{M}/u.test(String.fromCodePoint(cp)));
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
  for (const family of FONT_FAMILIES) if (covers(family, cp)) return family;
  return null;
}

/**
 * The characters of `text` that no bundled font has (each once, in order of appearance).
 * Invisible controls (bidi marks, joiners) and line breaks are not counted. See also
 * `unprintableCharacters` in text.ts, which also shapes the text.
 */
export function missingCharacters(text: string): string[] {
  const missing: string[] = [];
  for (const ch of text.normalize('NFC')) {
    const cp = ch.codePointAt(0)!;
    if (isInvisibleControl(cp) || isJoiner(cp) || ch === '\n' || ch === '\r' || ch === '\t') continue;
    if (familyFor(cp, null) === null && !missing.includes(ch)) missing.push(ch);
  }
  return missing;
}

// One HarfBuzz buffer for the process: shaping is synchronous, so it is never shared by two callers.
let buffer: hb.Buffer | null = null;

/**
 * Shapes a whole run (one font, one script, one direction) with HarfBuzz and returns its glyphs in
 * visual order with their clusters. The direction comes from the bidi algorithm, never from a guess
 * (a run of Arabic-Indic digits is left to right: ٢٠٢٦ stays ٢٠٢٦).
 *
 * `features` (e.g. `['-liga']`) turns OpenType features on or off: tests use it to show that the
 * pixel comparison catches unshaped text.
 */
export function shape(f: FontFace, text: string, direction: 'ltr' | 'rtl', script: string, features: string[] = []): Shaping {
  buffer ??= new hb.Buffer();
  const b = buffer;
  b.clearContents();
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    b.add(cp, i);
    i += cp > 0xffff ? 2 : 1;
  }
  b.setDirection(direction === 'rtl' ? hb.Direction.RTL : hb.Direction.LTR);
  b.setScript(script);
  b.setFlags(hb.BufferFlag.BOT | hb.BufferFlag.EOT);
  b.guessSegmentProperties();
  hb.shape(
    f.hb,
    b,
    features.map((s) => hb.Feature.fromString(s)!),
  );
  const infos = b.getGlyphInfos();
  const positions = b.getGlyphPositions();
  const glyphs: ShapedGlyph[] = infos.map((info, i) => {
    const p = positions[i]!;
    return {
      id: info.codepoint,
      cluster: info.cluster,
      xAdvance: p.xAdvance,
      xOffset: p.xOffset,
      yOffset: p.yOffset,
      advanceWidth: f.hb.glyphHAdvance(info.codepoint),
    };
  });
  const starts = [...new Set(glyphs.map((g) => g.cluster))].sort((a, b) => a - b);
  const clusters = starts.map((start, i) => ({ start, end: starts[i + 1] ?? text.length }));
  const brokenStarts = new Set<number>();
  for (const g of glyphs) {
    if (g.id === 0 || (f.dottedCircle && g.id === f.dottedCircle && !text.includes('\u25cc'))) brokenStarts.add(g.cluster);
  }
  return { glyphs, clusters, broken: clusters.filter((c) => brokenStarts.has(c.start)) };
}

/** The outline of a glyph as SVG path data, in font units with y up. */
export function glyphPath(f: FontFace, id: number): string {
  return f.hb.glyphToPath(id);
}
