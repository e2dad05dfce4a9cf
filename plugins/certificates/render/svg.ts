/**
 * A name drawn as it will print, as an SVG image for web pages: the same fonts, the same HarfBuzz
 * shaping and bidi as the PDF, the glyphs as outlines (so the page needs no web font, and shows the
 * conjuncts, joins and marks the certificate will have).
 */
import { glyphPath, type FontWeight } from './fonts.ts';
import { directionOf, lineMetrics, pathCommands, shapeLine } from './text.ts';

export interface NameSvgOptions {
  /** Font size in SVG units (the image is `height` pixels tall whatever this is). Default 40. */
  size?: number;
  /** Height of the image in CSS pixels. Default 56. */
  height?: number;
  /** As on certificates, where names are bold. */
  weight?: FontWeight;
}

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const n = (v: number) => {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
};

/** A glyph's outline moved to (x, y) and scaled from font units (y up) to SVG units (y down). */
function placedPath(d: string, scale: number, x: number, y: number, box: number[]): string {
  const out: string[] = [];
  for (const cmd of pathCommands(d)) {
    const v = cmd.values;
    const pts: string[] = [];
    for (let i = 0; i < v.length; i += 2) {
      const px = x + v[i]! * scale;
      const py = y - v[i + 1]! * scale;
      box[0] = Math.min(box[0]!, px);
      box[1] = Math.min(box[1]!, py);
      box[2] = Math.max(box[2]!, px);
      box[3] = Math.max(box[3]!, py);
      pts.push(`${n(px)} ${n(py)}`);
    }
    out.push(cmd.type + pts.join(' '));
  }
  return out.join('');
}

/**
 * The name as an SVG string: `role="img"`, an `aria-label` with the name, the viewBox fitted to the
 * text, glyphs filled with `currentColor`. Throws `UncoveredCharactersError` for a name that cannot
 * be printed (check with `uncoveredCharacters` first). The same name gives the same string.
 */
export function nameSvg(name: string, o: NameSvgOptions = {}): string {
  const size = o.size ?? 40;
  const line = shapeLine(name, directionOf(name), o.weight ?? 'bold');
  const { ascent, descent } = lineMetrics(line);
  const baseline = ascent * size;
  const box = [0, 0, line.em * size, (ascent + descent) * size];
  const paths: string[] = [];
  let pen = 0;
  for (const run of line.runs) {
    const scale = size / run.face.font.unitsPerEm;
    for (const g of run.glyphs) {
      const d = glyphPath(run.face, g.id);
      if (d) paths.push(placedPath(d, scale, pen + g.xOffset * scale, baseline - g.yOffset * scale, box));
      pen += g.xAdvance * scale;
    }
  }
  const pad = size * 0.08;
  const [x0, y0, x1, y1] = [box[0]! - pad, box[1]! - pad, box[2]! + pad, box[3]! + pad];
  const height = o.height ?? 56;
  const width = Math.ceil(((x1 - x0) / (y1 - y0)) * height);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(name)}" viewBox="${n(x0)} ${n(y0)} ${n(x1 - x0)} ${n(y1 - y0)}" ` +
    `width="${width}" height="${height}" fill="currentColor"><path d="${paths.join('')}"/></svg>`
  );
}
