/**
 * Lines of text: bidi and font runs, shaping, measuring, wrapping, shrinking to fit, and drawing
 * the glyphs into a pdfkit document.
 *
 * pdfkit 0.20's `text()` shapes word by word and lets fontkit guess each word's direction, which
 * reverses Arabic word order and Arabic-Indic numbers. Here each line is split with the Unicode
 * bidi algorithm (bidi-js) into runs of one embedding level and one font, the runs are put in visual
 * order (rule L2), each run is shaped whole in its own direction (fonts.ts), and the glyphs are
 * written with `TJ` into pdfkit's page, using pdfkit's font objects for embedding and subsetting.
 */
import bidiImport, { type Bidi } from 'bidi-js';
import type {} from 'pdfkit'; // its global PDFKit namespace: the document this draws on
import {
  face,
  familyFor,
  isInheritedMark,
  isInvisibleControl,
  isJoiner,
  missingCharacters,
  naturalFamily,
  scriptOf,
  shape,
  type FontFace,
  type FontFamily,
  type FontWeight,
  type ShapedGlyph,
} from './fonts.ts';

// bidi-js is CommonJS (`module.exports = factory`) while its types declare an ES default export.
const bidiFactory = ((bidiImport as unknown as { default?: () => Bidi }).default ?? bidiImport) as unknown as () => Bidi;
const bidi = bidiFactory();

export type Direction = 'ltr' | 'rtl';

/** One run of a line: one font, one script, one direction, shaped whole. `em` is its width at font size 1. */
export interface ShapedRun {
  face: FontFace;
  text: string;
  script: string;
  direction: Direction;
  /** Glyphs in visual order. */
  glyphs: ShapedGlyph[];
  /** HarfBuzz clusters in logical order: UTF-16 ranges of `text`. */
  clusters: Array<{ start: number; end: number }>;
  em: number;
}

/** A line ready to draw: runs in visual (left-to-right) order. */
export interface ShapedLine {
  text: string;
  direction: Direction;
  runs: ShapedRun[];
  em: number;
}

/**
 * Text that cannot be printed correctly: characters no bundled font has, or a sequence the shaper
 * could only draw with a dotted circle or a missing-glyph box (a vowel sign with no consonant, a
 * mark on nothing…).
 */
export class UncoveredCharactersError extends Error {
  readonly code = 'CERTIFICATES_UNCOVERED_CHARACTERS';
  constructor(
    readonly characters: string[],
    readonly text: string,
  ) {
    super(`no bundled font can print ${characters.map(describe).join(', ')} in ${JSON.stringify(text)}`);
  }
}

/** A character or sequence with its code points: "ि (U+093F)". */
function describe(s: string): string {
  return `${s} (${[...s].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(' ')})`;
}

/** The paragraph direction of a text by its first strong character (rule P2), or the fallback. */
export function directionOf(text: string, fallback: Direction = 'ltr'): Direction {
  for (const ch of text) {
    const type = bidi.getBidiCharTypeName(ch);
    if (type === 'L') return 'ltr';
    if (type === 'R' || type === 'AL') return 'rtl';
  }
  return fallback;
}

// Shaped lines are cached per process: a template's wording and the words of names repeat across
// certificates. The cache is bounded, so memory stays flat over a long run.
const CACHE_LIMIT = 4000;
const cache = new Map<string, ShapedLine | { missing: string[]; broken: string[] }>();

/** Shaping options for tests: OpenType features to set (`-liga`, `-rlig`…). Not part of the cache key. */
let testFeatures: string[] = [];
/** For tests only: shape with these OpenType feature settings (and an empty cache) until reset with `[]`. */
export function setFeaturesForTests(features: string[]): void {
  testFeatures = features;
  cache.clear();
}

/**
 * Shapes one line (no line breaks) in a paragraph direction: bidi levels, font per character by
 * script and coverage (a neutral character such as a space or a digit keeps its neighbours' font when
 * that font has it, a combining mark keeps its base's), runs of one level, font and script, mirrored
 * brackets in right-to-left runs, runs in visual order, each shaped whole by HarfBuzz. Throws
 * {@link UncoveredCharactersError} rather than print a box or a dotted circle.
 */
export function shapeLine(input: string, direction: Direction, weight: FontWeight = 'regular'): ShapedLine {
  const r = tryShapeLine(input, direction, weight);
  if ('missing' in r) throw new UncoveredCharactersError([...r.missing, ...r.broken], input);
  return r;
}

/** Like {@link shapeLine}, but tells what cannot be printed instead of throwing. */
function tryShapeLine(input: string, direction: Direction, weight: FontWeight): ShapedLine | { missing: string[]; broken: string[] } {
  const key = `${direction}${weight}\u0000${input}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const result = shapeUncached(input, direction, weight);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, result);
  return result;
}

function shapeUncached(input: string, direction: Direction, weight: FontWeight): ShapedLine | { missing: string[]; broken: string[] } {
  const text = input.normalize('NFC');
  const { levels } = bidi.getEmbeddingLevels(text, direction);
  const mirrored = bidi.getMirroredCharactersMap(text, levels);

  // Font and script per character (index in UTF-16 units), carrying the previous strong font over
  // neutrals; a combining mark or joiner stays with the character before it.
  type Unit = { ch: string; family: FontFamily; script: string | null; level: number };
  const units: Unit[] = [];
  const missing: string[] = [];
  let preferred: FontFamily | null = null;
  for (const ch of text) {
    preferred = naturalFamily(ch.codePointAt(0)!);
    if (preferred) break;
  }
  let index = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const level = levels[index]!;
    const prev = units[units.length - 1];
    if (isInvisibleControl(cp)) {
      // left out: bidi controls were applied by the bidi algorithm, the others draw nothing
    } else if (isJoiner(cp)) {
      if (prev) units.push({ ch, family: prev.family, script: prev.script, level: prev.level });
    } else if (prev && isInheritedMark(cp) && face(prev.family, weight).font.hasGlyphForCodePoint(cp)) {
      units.push({ ch, family: prev.family, script: prev.script, level: prev.level });
    } else {
      const family = familyFor(cp, preferred);
      if (family === null) {
        if (!missing.includes(ch)) missing.push(ch);
      } else {
        if (naturalFamily(cp)) preferred = family;
        units.push({ ch: level % 2 ? (mirrored.get(index) ?? ch) : ch, family, script: scriptOf(cp)?.[0] ?? null, level });
      }
    }
    index += ch.length;
  }
  if (missing.length) return { missing, broken: [] };

  // A neutral takes the script of the run it is in (the one before it, or else the one after it).
  let last: string | null = null;
  for (const u of units) {
    if (u.script === null) u.script = last;
    else last = u.script;
  }
  let next: string | null = null;
  for (let i = units.length - 1; i >= 0; i--) {
    const u = units[i]!;
    if (u.script === null) u.script = next;
    else next = u.script;
  }
  // Runs of one level, one font and one script, in logical order.
  const logical: Array<{ family: FontFamily; script: string; level: number; text: string }> = [];
  for (const u of units) {
    const script = u.script ?? 'Zyyy';
    const run = logical[logical.length - 1];
    if (run && run.family === u.family && run.level === u.level && (run.script === script || script === 'Zyyy')) run.text += u.ch;
    else logical.push({ family: u.family, script, level: u.level, text: u.ch });
  }
  // Rule L2: from the highest level down to the lowest odd level, reverse every sequence of runs at
  // that level or higher. (Within a run, the shaper puts right-to-left glyphs in visual order.)
  const visual = logical.slice();
  const maxLevel = visual.reduce((m, r) => Math.max(m, r.level), 0);
  const minOdd = visual.reduce((m, r) => (r.level % 2 ? Math.min(m, r.level) : m), Infinity);
  for (let level = maxLevel; level >= minOdd; level--) {
    for (let i = 0; i < visual.length;) {
      if (visual[i]!.level < level) {
        i++;
        continue;
      }
      let j = i;
      while (j < visual.length && visual[j]!.level >= level) j++;
      visual.splice(i, j - i, ...visual.slice(i, j).reverse());
      i = j;
    }
  }
  const broken: string[] = [];
  const runs = visual.map((r): ShapedRun => {
    const f = face(r.family, weight);
    const dir: Direction = r.level % 2 ? 'rtl' : 'ltr';
    const shaped = shape(f, r.text, dir, r.script === 'Zyyy' ? 'Latn' : r.script, testFeatures);
    for (const c of shaped.broken) {
      const s = r.text.slice(c.start, c.end);
      if (!broken.includes(s)) broken.push(s);
    }
    const em = shaped.glyphs.reduce((w, g) => w + g.xAdvance, 0) / f.font.unitsPerEm;
    return { face: f, text: r.text, script: r.script, direction: dir, glyphs: shaped.glyphs, clusters: shaped.clusters, em };
  });
  if (broken.length) return { missing: [], broken };
  return { text: input, direction, runs, em: runs.reduce((w, r) => w + r.em, 0) };
}

/**
 * What of `text` cannot be printed: characters no bundled font has, and sequences that shape to a
 * dotted circle or a missing glyph (in either weight), each once, in order. Empty means printable.
 * Line breaks separate lines; each line is shaped in the direction of its first strong character.
 */
export function uncoveredCharacters(text: string): string[] {
  const out = missingCharacters(text);
  if (out.length) return out;
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    for (const weight of ['regular', 'bold'] as const) {
      const r = tryShapeLine(line, directionOf(line), weight);
      if ('missing' in r) for (const s of [...r.missing, ...r.broken]) if (!out.includes(s)) out.push(s);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Wrapping and fitting

const CJK_CHAR = /[\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[\u{20000}-\u{3134f}]/u;
/** CJK punctuation that must not start a line (it sticks to what precedes it). */
const NO_LINE_START = /^[，。、：；！？）」』】》〉”’·%,.:;!?)\]]/u;
/** CJK punctuation that must not end a line (it sticks to what follows it). */
const NO_LINE_END = /[（「『【《〈“‘([]$/u;

/** Break opportunities: between words, and between CJK characters (keeping punctuation attached). */
function tokens(text: string): Array<{ space: boolean; text: string }> {
  const out: Array<{ space: boolean; text: string }> = [];
  let pendingSpace = false;
  for (const part of text.split(/(\s+)/)) {
    if (part === '') continue;
    if (/^\s+$/.test(part)) {
      pendingSpace = out.length > 0;
      continue;
    }
    const pieces: string[] = [];
    let buf = '';
    for (const ch of part) {
      if (CJK_CHAR.test(ch)) {
        if (buf && !NO_LINE_END.test(buf)) {
          pieces.push(buf);
          buf = '';
        }
        buf += ch;
      } else if (NO_LINE_START.test(ch) || !buf || !CJK_CHAR.test(buf.slice(-1))) {
        buf += ch;
      } else {
        pieces.push(buf);
        buf = ch;
      }
    }
    if (buf) pieces.push(buf);
    pieces.forEach((p, i) => out.push({ space: i === 0 && pendingSpace, text: p }));
    pendingSpace = false;
  }
  return out;
}

/**
 * Splits a paragraph into lines no wider than `maxWidth` at `size` (a single word wider than the
 * line gets a line of its own). Words are measured one by one (cached) and the lines shaped whole.
 */
export function wrap(text: string, direction: Direction, weight: FontWeight, size: number, maxWidth: number): ShapedLine[] {
  const whole = shapeLine(text, direction, weight);
  if (whole.em * size <= maxWidth) return [whole];
  const spaceEm = shapeLine(' ', direction, weight).em;
  const lines: string[] = [];
  let current = '';
  let width = 0;
  for (const t of tokens(text)) {
    const w = shapeLine(t.text, direction, weight).em * size;
    const gap = current && t.space ? spaceEm * size : 0;
    if (current && width + gap + w > maxWidth) {
      lines.push(current);
      current = t.text;
      width = w;
    } else {
      current += (current && t.space ? ' ' : '') + t.text;
      width += gap + w;
    }
  }
  if (current) lines.push(current);
  return lines.map((l) => shapeLine(l, direction, weight));
}

export interface FitOptions {
  direction: Direction;
  weight: FontWeight;
  size: number;
  /** Smallest size before giving up shrinking (then the text wraps onto more lines than maxLines). */
  minSize: number;
  maxWidth: number;
  maxLines: number;
}

/**
 * The largest size (from `size` down to `minSize`) at which the text fits in `maxLines` lines of
 * `maxWidth`; long names and titles shrink first and wrap second.
 */
export function fitText(text: string, o: FitOptions): { size: number; lines: ShapedLine[] } {
  const one = shapeLine(text, o.direction, o.weight);
  const fits = one.em > 0 ? (o.maxWidth / one.em) * 0.999 : o.size;
  if (fits >= o.size) return { size: o.size, lines: [one] };
  // One line allowed: shrink as far as needed (never run over). Otherwise shrink on one line down to
  // 60 % (or the minimum), then wrap at decreasing sizes.
  if (o.maxLines <= 1) return { size: fits, lines: [one] };
  const floor = Math.max(o.minSize, o.size * 0.6);
  if (fits >= floor) return { size: fits, lines: [one] };
  for (let size = floor; ; size = Math.max(o.minSize, size * 0.92)) {
    const lines = wrap(text, o.direction, o.weight, size, o.maxWidth);
    if (lines.length <= o.maxLines || size <= o.minSize) return { size, lines };
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing

/** The internals of pdfkit 0.20's embedded fonts that drawing needs. */
interface PdfkitEmbeddedFont {
  id: string;
  scale: number;
  widths: number[];
  unicode: number[][];
  subset: { includeGlyph(id: number): number; glyphs: number[] };
  ref(): unknown;
  toUnicodeCmap(): unknown;
  document: { ref(): { end(s: string): void } };
}
interface PdfkitInternals {
  _font: PdfkitEmbeddedFont;
  page: { fonts: Record<string, unknown>; height: number };
  addContent(s: string): unknown;
  registerFont(name: string, src: unknown): unknown;
}

const registered = new WeakMap<object, Set<string>>();
const cidMaps = new WeakMap<PdfkitEmbeddedFont, Map<string, number>>();

/** Formats a number for a content stream (2 decimals, no "-0"). */
export function num(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function embeddedFont(doc: PDFKit.PDFDocument, f: FontFace): PdfkitEmbeddedFont {
  const d = doc as unknown as PdfkitInternals;
  let names = registered.get(doc);
  if (!names) registered.set(doc, (names = new Set()));
  if (!names.has(f.key)) {
    // pdfkit accepts a fontkit font object: the parsed font is shared by every document.
    d.registerFont(f.key, f.font);
    names.add(f.key);
  }
  doc.font(f.key);
  const font = d._font;
  if (!cidMaps.has(font)) {
    cidMaps.set(font, new Map());
    font.toUnicodeCmap = () => toUnicodeCmap(font);
  }
  return font;
}

/** UTF-16BE hex of code points, as a CMap or a PDF string wants them. */
function utf16Hex(codePoints: number[]): string {
  let out = '';
  for (const cp of codePoints) {
    const units = cp > 0xffff ? [0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)] : [cp];
    for (const u of units) out += u.toString(16).padStart(4, '0');
  }
  return out;
}

/**
 * The font's ToUnicode CMap, written by us instead of pdfkit: one `bfchar` entry per glyph code that
 * stands for characters, none for a code that stands for none (the other glyphs of a cluster).
 */
function toUnicodeCmap(font: PdfkitEmbeddedFont): unknown {
  const entries: string[] = [];
  font.unicode.forEach((cps, cid) => {
    if (cps && cps.length) entries.push(`<${cid.toString(16).padStart(4, '0')}> <${utf16Hex(cps)}>`);
  });
  const chunks: string[] = [];
  for (let i = 0; i < entries.length; i += 100)
    chunks.push(`${Math.min(100, entries.length - i)} beginbfchar\n${entries.slice(i, i + 100).join('\n')}\nendbfchar`);
  const cmap = font.document.ref();
  cmap.end(
    [
      '/CIDInit /ProcSet findresource begin',
      '12 dict begin',
      'begincmap',
      '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
      '/CMapName /Adobe-Identity-UCS def',
      '/CMapType 2 def',
      '1 begincodespacerange',
      '<0000> <ffff>',
      'endcodespacerange',
      ...chunks,
      'endcmap',
      'CMapName currentdict /CMap defineresource pop',
      'end',
      'end',
    ].join('\n'),
  );
  return cmap;
}

/**
 * The glyph code (CID) of a glyph standing for some characters. The same glyph standing for other
 * characters elsewhere (one Arabic skeleton for ب ت ن ي) gets another code, a copy of the glyph in
 * the subset with its own ToUnicode entry, so copy and search give the real letters.
 */
function cidFor(font: PdfkitEmbeddedFont, id: number, advanceWidth: number, codePoints: number[]): number {
  const map = cidMaps.get(font)!;
  const key = `${id}:${codePoints.join(',')}`;
  let cid = map.get(key);
  if (cid === undefined) {
    cid = font.subset.includeGlyph(id);
    const known = font.unicode[cid];
    if (known !== undefined && known.join(',') !== codePoints.join(',')) {
      font.subset.glyphs.push(id);
      cid = font.subset.glyphs.length - 1;
    }
    font.unicode[cid] = codePoints;
    font.widths[cid] = advanceWidth * font.scale;
    map.set(key, cid);
  }
  return cid;
}

const codePointsOf = (s: string) => [...s].map((c) => c.codePointAt(0)!);

/**
 * The characters each glyph of a run stands for in the ToUnicode map, by cluster: the glyph that
 * carries a cluster's text (its widest glyph, the base, and the first of equals in logical order)
 * stands for all of it; the cluster's other glyphs (marks, pre-base vowel parts) for nothing.
 */
function glyphTexts(run: ShapedRun): number[][] {
  const out: number[][] = run.glyphs.map(() => []);
  const byCluster = new Map<number, number[]>();
  run.glyphs.forEach((g, i) => {
    let list = byCluster.get(g.cluster);
    if (!list) byCluster.set(g.cluster, (list = []));
    list.push(i);
  });
  for (const c of run.clusters) {
    const idx = byCluster.get(c.start)!;
    const logical = run.direction === 'rtl' ? idx.slice().reverse() : idx;
    const chars = codePointsOf(run.text.slice(c.start, c.end));
    let carrier = logical[0]!;
    for (const gi of logical) if (run.glyphs[gi]!.xAdvance > run.glyphs[carrier]!.xAdvance) carrier = gi;
    out[carrier] = chars;
  }
  return out;
}

/**
 * Draws a shaped line with its left end at `x` and its baseline at `baseline` (pdfkit's top-down
 * coordinates), in the current fill colour.
 */
export function drawLine(doc: PDFKit.PDFDocument, line: ShapedLine, x: number, baseline: number, size: number): void {
  const d = doc as unknown as PdfkitInternals;
  const y = d.page.height - baseline;
  const parts: string[] = ['BT'];
  let cx = x;
  for (const run of line.runs) {
    const font = embeddedFont(doc, run.face);
    if (d.page.fonts[font.id] == null) d.page.fonts[font.id] = font.ref();
    const upem = run.face.font.unitsPerEm;
    const scale = size / upem;
    const texts = glyphTexts(run);
    parts.push(`/${font.id} ${num(size)} Tf`, `1 0 0 1 ${num(cx)} ${num(y)} Tm`);
    let segment: string[] = [];
    let pendingTm = false;
    const flush = () => {
      if (segment.length) parts.push(`[${segment.join(' ')}] TJ`);
      segment = [];
    };
    run.glyphs.forEach((g, i) => {
      const cid = cidFor(font, g.id, g.advanceWidth, texts[i]!).toString(16).padStart(4, '0');
      if (g.xOffset || g.yOffset) {
        flush();
        parts.push(`1 0 0 1 ${num(cx + g.xOffset * scale)} ${num(y + g.yOffset * scale)} Tm`, `<${cid}> Tj`);
        pendingTm = true;
      } else {
        if (pendingTm) {
          parts.push(`1 0 0 1 ${num(cx)} ${num(y)} Tm`);
          pendingTm = false;
        }
        segment.push(`<${cid}>`);
        // TJ moves by the glyph's width from the W array; correct for kerning and zero-width marks.
        const adjust = (g.xAdvance - g.advanceWidth) * (1000 / upem);
        if (Math.abs(adjust) > 0.005) segment.push(num(-adjust));
      }
      cx += g.xAdvance * scale;
    });
    flush();
  }
  parts.push('ET');
  doc.save();
  // pdfkit's pages are drawn top-down (a flipped CTM); text needs the PDF's own upward y axis.
  doc.transform(1, 0, 0, -1, 0, d.page.height);
  d.addContent(parts.join('\n'));
  doc.restore();
}

export type Align = 'start' | 'center' | 'end';

/**
 * Draws a line aligned in a box [x, x + width]: `start` and `end` follow the line's direction
 * (start is the right edge for right-to-left text).
 */
export function drawAligned(
  doc: PDFKit.PDFDocument,
  line: ShapedLine,
  x: number,
  width: number,
  baseline: number,
  size: number,
  align: Align = 'center',
): void {
  const w = line.em * size;
  const side = align === 'center' ? 'center' : (align === 'start') === (line.direction === 'ltr') ? 'left' : 'right';
  const left = side === 'center' ? x + (width - w) / 2 : side === 'left' ? x : x + width - w;
  drawLine(doc, line, left, baseline, size);
}

/** Ascent and descent (positive, at size 1) of the fonts a line uses, for line spacing. */
export function lineMetrics(line: ShapedLine): { ascent: number; descent: number } {
  let ascent = 0.8,
    descent = 0.25;
  for (const r of line.runs) {
    const f = r.face.font;
    ascent = Math.max(ascent, Math.min(f.ascent / f.unitsPerEm, 1.1));
    descent = Math.max(descent, Math.min(-f.descent / f.unitsPerEm, 0.45));
  }
  return { ascent, descent };
}
