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
  glyphPath,
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
  // A combining mark with nothing to sit on (first, or after a space) is a broken sequence in any
  // script, whether or not the shaper marks it with a dotted circle.
  const broken: string[] = [];
  let before: string | undefined;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const level = levels[index]!;
    if (/\p{M}/u.test(ch) && (before === undefined || /\s/u.test(before)) && !broken.includes(ch)) broken.push(ch);
    if (!isInvisibleControl(cp) && !isJoiner(cp)) before = ch;
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
  const runs = visual.map((r): ShapedRun => {
    const f = face(r.family, weight);
    const dir: Direction = r.level % 2 ? 'rtl' : 'ltr';
    const shaped = shape(f, r.text, dir, r.script === 'Zyyy' ? 'Latn' : r.script, testFeatures);
    for (const c of shaped.broken) {
      const s = r.text.slice(c.start, c.end).trim();
      if (s && !broken.includes(s)) broken.push(s);
    }
    const em = shaped.glyphs.reduce((w, g) => w + g.xAdvance, 0) / f.font.unitsPerEm;
    return { face: f, text: r.text, script: r.script, direction: dir, glyphs: shaped.glyphs, clusters: shaped.clusters, em };
  });
  // A stray mark the shaper also flagged is named once, as the sequence the shaper saw.
  if (broken.length) return { missing: [], broken: broken.filter((b) => !broken.some((o) => o !== b && o.includes(b))) };
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
 * The glyph code (CID) of a glyph standing for some characters, with a given width in the PDF's W
 * array (thousandths of the font size). The same glyph standing for other characters elsewhere (one
 * Arabic skeleton for ب ت ن ي), or given another width, gets another code: a copy of the glyph in the
 * subset with its own ToUnicode entry and width.
 */
function cidFor(font: PdfkitEmbeddedFont, id: number, codePoints: number[], width: number): number {
  const map = cidMaps.get(font)!;
  const key = `${id}:${codePoints.join(',')}:${width}`;
  let cid = map.get(key);
  if (cid === undefined) {
    cid = font.subset.includeGlyph(id);
    const known = font.unicode[cid];
    if (known !== undefined && (known.join(',') !== codePoints.join(',') || font.widths[cid] !== width)) {
      font.subset.glyphs.push(id);
      cid = font.subset.glyphs.length - 1;
    }
    font.unicode[cid] = codePoints;
    font.widths[cid] = width;
    map.set(key, cid);
  }
  return cid;
}

const codePointsOf = (s: string) => [...s].map((c) => c.codePointAt(0)!);

/** One piece of the text layer: a glyph that stands for characters, at its place on the baseline. */
interface TextPiece {
  face: FontFace;
  /** Glyph drawn (a blank one for invisible pieces). */
  id: number;
  codePoints: number[];
  /** Drawn position (points, PDF's upward y). */
  x: number;
  y: number;
  /** The glyph's own advance in points (used as its width when the next piece starts there). */
  natural: number;
  invisible: boolean;
}

/** A glyph drawn as a shape only (no text): the marks, dots and vowel parts of a cluster. */
interface ShapePiece {
  face: FontFace;
  id: number;
  x: number;
  y: number;
  scale: number;
}

/**
 * Lays out a line into text pieces (in visual order) and shapes.
 *
 * Every HarfBuzz cluster (a letter with its marks, an Indic syllable, a ligature) puts its text on one
 * glyph on the baseline, its widest: the base letter, the conjunct. Its other glyphs (marks, Arabic
 * dots, the parts of a split vowel) are drawn as shapes, outside the text layer, so that no reader
 * sees a glyph that stands for nothing (pdf.js would print its code as a character), and no mark
 * raised above the baseline is read as a line of its own (poppler). In right-to-left text a cluster of
 * several characters (a letter with vowel marks, a lam-alef) is drawn whole as shapes and its text
 * written as invisible glyphs, one per character, in visual order across the cluster: readers rebuild
 * right-to-left text from glyphs in visual order, and a glyph standing for several right-to-left
 * characters comes out reversed in poppler.
 */
function layoutPieces(line: ShapedLine, x: number, y: number, size: number): { pieces: TextPiece[]; shapes: ShapePiece[]; end: number } {
  const pieces: TextPiece[] = [];
  const shapes: ShapePiece[] = [];
  let pen = x;
  for (const run of line.runs) {
    const scale = size / run.face.font.unitsPerEm;
    const at: number[] = [];
    for (const g of run.glyphs) {
      at.push(pen);
      pen += g.xAdvance * scale;
    }
    const end = new Map(run.clusters.map((c) => [c.start, c.end]));
    for (let i = 0; i < run.glyphs.length;) {
      const start = run.glyphs[i]!.cluster;
      let j = i;
      while (j < run.glyphs.length && run.glyphs[j]!.cluster === start) j++;
      const idx = Array.from({ length: j - i }, (_, k) => i + k);
      const chars = codePointsOf(run.text.slice(start, end.get(start)));
      // The carrier: on the baseline, widest, first in logical order among equals.
      const logical = run.direction === 'rtl' ? idx.slice().reverse() : idx;
      let carrier = -1;
      for (const gi of logical) {
        const g = run.glyphs[gi]!;
        if (g.yOffset !== 0 || g.xAdvance <= 0) continue;
        if (carrier < 0 || g.xAdvance > run.glyphs[carrier]!.xAdvance) carrier = gi;
      }
      const left = at[i]!;
      const right = at[j - 1]! + run.glyphs[j - 1]!.xAdvance * scale;
      const whole = carrier < 0 || (run.direction === 'rtl' && chars.length > 1);
      for (const gi of idx) {
        const g = run.glyphs[gi]!;
        const gx = at[gi]! + g.xOffset * scale;
        if (!whole && gi === carrier)
          pieces.push({ face: run.face, id: g.id, codePoints: chars, x: gx, y: y + g.yOffset * scale, natural: g.advanceWidth * scale, invisible: false });
        else shapes.push({ face: run.face, id: g.id, x: gx, y: y + g.yOffset * scale, scale });
      }
      if (whole) {
        const visual = run.direction === 'rtl' ? chars.slice().reverse() : chars;
        const w = Math.max(right - left, 0.01 * size * visual.length) / visual.length;
        visual.forEach((cp, k) => pieces.push({ face: run.face, id: run.face.blank, codePoints: [cp], x: left + k * w, y, natural: w, invisible: true }));
      }
      i = j;
    }
  }
  return { pieces, shapes, end: pen };
}

// Glyph outlines as PDF path operators, per face and glyph, for the life of the process.
const outlineCache = new Map<string, { ops: string; bbox: [number, number, number, number] }>();

/** A glyph's outline as PDF path operators in font units, with its bounding box. */
function outline(f: FontFace, id: number): { ops: string; bbox: [number, number, number, number] } {
  const key = `${f.key}:${id}`;
  let o = outlineCache.get(key);
  if (!o) {
    const ops: string[] = [];
    let bbox: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
    const see = (px: number, py: number) => {
      bbox = [Math.min(bbox[0], px), Math.min(bbox[1], py), Math.max(bbox[2], px), Math.max(bbox[3], py)];
    };
    const n = (v: number) => String(Math.round(v * 10) / 10);
    let cx = 0,
      cy = 0;
    for (const cmd of pathCommands(glyphPath(f, id))) {
      const v = cmd.values;
      if (cmd.type === 'M' || cmd.type === 'L') {
        ops.push(`${n(v[0]!)} ${n(v[1]!)} ${cmd.type === 'M' ? 'm' : 'l'}`);
        [cx, cy] = [v[0]!, v[1]!];
      } else if (cmd.type === 'Q') {
        // A quadratic Bézier as the cubic that draws the same curve.
        const [qx, qy, px, py] = v as [number, number, number, number];
        ops.push(
          `${n(cx + ((qx - cx) * 2) / 3)} ${n(cy + ((qy - cy) * 2) / 3)} ${n(px + ((qx - px) * 2) / 3)} ${n(py + ((qy - py) * 2) / 3)} ${n(px)} ${n(py)} c`,
        );
        [cx, cy] = [px, py];
      } else if (cmd.type === 'C') {
        ops.push(`${v.map(n).join(' ')} c`);
        [cx, cy] = [v[4]!, v[5]!];
      } else {
        ops.push('h');
        continue;
      }
      for (let k = 0; k < v.length; k += 2) see(v[k]!, v[k + 1]!);
    }
    if (bbox[0] === Infinity) bbox = [0, 0, 0, 0];
    o = { ops: ops.length ? `${ops.join('\n')}\nf` : '', bbox };
    outlineCache.set(key, o);
  }
  return o;
}

const forms = new WeakMap<object, Map<string, { name: string; ref: unknown }>>();

/** The name of a form XObject drawing one glyph's outline in this document (made once per document). */
function glyphForm(doc: PDFKit.PDFDocument, f: FontFace, id: number): string {
  const d = doc as unknown as { page: { xobjects: Record<string, unknown> }; ref(data: object): { end(s: string): void } };
  let byGlyph = forms.get(doc);
  if (!byGlyph) forms.set(doc, (byGlyph = new Map()));
  const key = `${f.key}:${id}`;
  let form = byGlyph.get(key);
  if (!form) {
    const o = outline(f, id);
    const ref = d.ref({ Type: 'XObject', Subtype: 'Form', BBox: o.bbox });
    ref.end(o.ops);
    form = { name: `G${byGlyph.size + 1}`, ref };
    byGlyph.set(key, form);
  }
  if (d.page.xobjects[form.name] == null) d.page.xobjects[form.name] = form.ref;
  return form.name;
}

/**
 * Draws a shaped line with its left end at `x` and its baseline at `baseline` (pdfkit's top-down
 * coordinates), in the current fill colour.
 *
 * The text layer is one `TJ` per font: each piece's width in the W array is the distance to the next
 * piece (its own advance when that is within kerning of it), so the pen needs no moves and readers
 * see the pieces of a word touching, as one word.
 */
export function drawLine(doc: PDFKit.PDFDocument, line: ShapedLine, x: number, baseline: number, size: number): void {
  const d = doc as unknown as PdfkitInternals;
  const y = d.page.height - baseline;
  const { pieces, shapes, end } = layoutPieces(line, x, y, size);
  const parts: string[] = ['BT'];
  let font: PdfkitEmbeddedFont | null = null;
  let invisible = false;
  let segment: string[] = [];
  let penX = NaN;
  let penY = NaN;
  const flush = () => {
    if (segment.length) parts.push(`[${segment.join(' ')}] TJ`);
    segment = [];
  };
  pieces.forEach((p, i) => {
    const f = embeddedFont(doc, p.face);
    if (f !== font) {
      flush();
      font = f;
      if (d.page.fonts[f.id] == null) d.page.fonts[f.id] = f.ref();
      parts.push(`/${f.id} ${num(size)} Tf`);
    }
    if (p.invisible !== invisible) {
      flush();
      invisible = p.invisible;
      parts.push(invisible ? '3 Tr' : '0 Tr');
    }
    if (Math.abs(p.x - penX) > 0.005 || p.y !== penY) {
      flush();
      parts.push(`1 0 0 1 ${num(p.x)} ${num(p.y)} Tm`);
      penX = p.x;
      penY = p.y;
    }
    const next = pieces[i + 1]?.x ?? end;
    const distance = next - p.x;
    // Within kerning of its own advance: keep the glyph's width (fewer glyph copies) and move the pen.
    const width = Math.abs(distance - p.natural) < 0.03 * size && !p.invisible ? p.natural : Math.max(distance, 0.001 * size);
    const w = Math.round((width / size) * 1000 * 100) / 100;
    segment.push(`<${cidFor(f, p.id, p.codePoints, w).toString(16).padStart(4, '0')}>`);
    const adjust = ((distance - (w * size) / 1000) / size) * 1000;
    if (Math.abs(adjust) > 0.005 && i < pieces.length - 1) segment.push(num(-adjust));
    penX = p.x + distance;
  });
  flush();
  if (invisible) parts.push('0 Tr');
  parts.push('ET');
  for (const s of shapes) {
    if (!outline(s.face, s.id).ops) continue;
    parts.push(`q ${num4(s.scale)} 0 0 ${num4(s.scale)} ${num(s.x)} ${num(s.y)} cm /${glyphForm(doc, s.face, s.id)} Do Q`);
  }
  doc.save();
  // pdfkit's pages are drawn top-down (a flipped CTM); text needs the PDF's own upward y axis.
  doc.transform(1, 0, 0, -1, 0, d.page.height);
  d.addContent(parts.join('\n'));
  doc.restore();
}

/** A number with 4 decimals (glyph scales). */
function num4(n: number): string {
  return String(Math.round(n * 10000) / 10000);
}

/** SVG-style path data (HarfBuzz's) as commands. */
export function pathCommands(path: string): Array<{ type: string; values: number[] }> {
  const out: Array<{ type: string; values: number[] }> = [];
  for (const m of path.matchAll(/([MLQCZ])([^MLQCZ]*)/g)) out.push({ type: m[1]!, values: m[2]!.split(/[ ,]+/).filter(Boolean).map(Number) });
  return out;
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
