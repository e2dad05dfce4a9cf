/**
 * One certificate as a PDF: frame, logos, title and wording in one or two languages, the name,
 * signatories, and the verification code with its QR code.
 *
 * Over 400 lines: the layout of one page is one drawing, read top to bottom.
 */
import { createHash } from 'node:crypto';
import PDFDocument from 'pdfkit';
import { drawQr, qrMatrix, type QrPlacement } from './qr.ts';
import {
  DEFAULT_COLOURS,
  baseLanguage,
  dateValue,
  fill,
  languageDirection,
  placeholderValues,
  templateProblems,
  textIn,
  type CertificateColours,
  type CertificateData,
  type CertificateTemplate,
  type ImageBytes,
  type TemplateLanguage,
} from './template.ts';
import {
  directionOf,
  drawAligned,
  fitText,
  lineMetrics,
  shapeLine,
  uncoveredCharacters,
  UncoveredCharactersError,
  wrap,
  type Direction,
  type ShapedLine,
} from './text.ts';
import type { FontWeight } from './fonts.ts';

/** Page sizes in points (portrait). */
const PAGE_SIZES = { A4: [595.28, 841.89], LETTER: [612, 792] } as const;

/** What a render produced, for tests and previews: the PDF and where the QR code is. */
export interface RenderedCertificate {
  pdf: Buffer;
  page: { width: number; height: number };
  /** The QR code as drawn: top-left corner and module size in points from the page's top-left. */
  qr: QrPlacement & { url: string };
}

export interface RenderOptions {
  /** Print a large "SPECIMEN" across the page (template previews). */
  specimen?: boolean;
}

/** A template that cannot be rendered. */
export class TemplateError extends Error {
  readonly code = 'CERTIFICATES_TEMPLATE_INVALID';
  constructor(readonly problems: string[]) {
    super(`certificate template: ${problems.join('; ')}`);
  }
}

/** A laid-out line of the body: shaped text with its size, colour and spacing. */
interface BodyLine {
  line: ShapedLine;
  size: number;
  colour: string;
  /** Extra space above the line, in points. */
  gap: number;
}

/**
 * The texts a certificate would print that contain characters no bundled font has (name, titles,
 * wording, signatories…), so that issuance can refuse them up front rather than print boxes.
 */
export function unprintableTexts(template: CertificateTemplate, data: CertificateData): Array<{ text: string; characters: string[] }> {
  const texts = new Set<string>([data.name, data.nameAlt ?? '', data.code]);
  const primary = template.languages[0].lang;
  for (const l of template.languages) {
    const values = placeholderValues(data, l, primary);
    texts
      .add(fill(l.title, values))
      .add(fill(l.wording, values))
      .add(l.codeLabel ?? '');
    for (const s of template.signatories) texts.add(s.name).add(textIn(s.title, l.lang, primary));
  }
  const out: Array<{ text: string; characters: string[] }> = [];
  for (const text of texts) {
    const characters = uncoveredCharacters(text);
    if (characters.length) out.push({ text, characters });
  }
  return out;
}

/** Renders a certificate; the same template and data give the same bytes. */
export async function renderCertificate(template: CertificateTemplate, data: CertificateData): Promise<Buffer> {
  return (await renderCertificateDetailed(template, data)).pdf;
}

/** The sample data a template preview prints. */
export const SAMPLE_DATA: CertificateData = {
  name: 'Amina Haddad',
  nameAlt: 'أمينة حداد',
  course: {
    en: 'Negotiation and Mediation',
    fr: 'Négociation et médiation',
    es: 'Negociación y mediación',
    ru: 'Переговоры и посредничество',
    zh: '谈判与调解',
    ar: 'التفاوض والوساطة',
  },
  edition: { en: 'Fellowship 2027, Holmenkollen', fr: 'Programme de bourses 2027, Holmenkollen' },
  startDate: '2027-06-07',
  endDate: '2027-06-18',
  place: { en: 'Oslo', fr: 'Oslo', ar: 'أوسلو', zh: '奥斯陆', ru: 'Осло', es: 'Oslo' },
  hours: 60,
  code: '0000-0000-0000-0000-0',
  verificationUrl: 'https://olive.example/verify/0000-0000-0000-0000-0',
  issueDate: '2027-06-18',
};

/** Renders a template with sample data (or the given data) and "SPECIMEN" across it. */
export async function renderPreview(template: CertificateTemplate, sample: Partial<CertificateData> = {}): Promise<Buffer> {
  return (await renderCertificateDetailed(template, { ...SAMPLE_DATA, ...sample }, { specimen: true })).pdf;
}

/** Renders a certificate and tells where the QR code is (see {@link renderCertificate}). */
export async function renderCertificateDetailed(
  template: CertificateTemplate,
  data: CertificateData,
  options: RenderOptions = {},
): Promise<RenderedCertificate> {
  const problems = templateProblems(template);
  if (problems.length) throw new TemplateError(problems);
  const colours: CertificateColours = { ...DEFAULT_COLOURS, ...template.colours };
  const [pw, ph] = PAGE_SIZES[template.page?.size ?? 'A4'];
  const landscape = (template.page?.orientation ?? 'landscape') === 'landscape';
  const W = landscape ? ph : pw;
  const H = landscape ? pw : ph;
  const languages = template.languages;
  const primary = languages[0];

  // Geometry, in pdfkit's top-down points.
  const frame = 24;
  const left = 64;
  const contentWidth = W - 2 * left;
  const qrSize = 70;
  const qrX = W - left - qrSize + 8;
  const codeLines = primary.codeLabel ? 2 : 1;
  const bottom = H - frame - 18;
  const qrY = bottom - codeLines * 11 - 4 - qrSize;
  const sigTitleLines = languages.length;
  const sigBlock = 42 + 6 + 14 + sigTitleLines * 11.5;
  const footerTop = Math.min(qrY, bottom - sigBlock) - 14;

  // Shape everything before opening the document: a character no font has stops here.
  const logos = [template.logos?.programme, ...(template.logos?.partners ?? [])].filter((l): l is ImageBytes => !!l);
  const logoHeight = landscape ? 52 : 60;
  const bodyTop = frame + 20 + (logos.length ? logoHeight + 14 : 12);
  const available = footerTop - bodyTop;

  let k = 1;
  let body = layoutBody(template, data, colours, contentWidth, k);
  for (let i = 0; i < 4 && bodyHeight(body) > available; i++) {
    k *= Math.max(0.5, (available / bodyHeight(body)) * 0.98);
    body = layoutBody(template, data, colours, contentWidth, k);
  }
  const sigLines = template.signatories.map((s) => ({
    name: s.name,
    titles: languages.map((l) => textIn(s.title, l.lang, primary.lang)).filter((t, i, all) => t && all.indexOf(t) === i),
    signature: s.signature,
  }));
  const codeLine = shapeLine(data.code, 'ltr', 'bold');
  const codeLabel = primary.codeLabel ? shapeLine(primary.codeLabel, languageDirection(primary.lang)) : null;
  const specimen = options.specimen ? shapeLine('SPECIMEN', 'ltr', 'bold') : null;

  const values = placeholderValues(data, primary, primary.lang);
  const doc = new PDFDocument({
    size: [W, H],
    margin: 0,
    // No default font: pdfkit would otherwise load Helvetica for nothing.
    font: null as unknown as undefined,
    lang: primary.lang,
    displayTitle: true,
    info: {
      Title: `${fill(primary.title, values)} — ${data.name}`,
      Subject: `${values.course} (${data.code})`,
      Creator: 'Olive certificates',
      Producer: 'Olive (pdfkit)',
      // The file identifier is a hash of these fields: with a fixed date, the same data gives the same bytes.
      CreationDate: dateValue(data.issueDate),
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });

  const images = await embedImages(doc, [...logos, ...template.signatories.map((s) => s.signature).filter((b): b is ImageBytes => !!b)]);

  // Frame.
  doc
    .lineWidth(2.2)
    .strokeColor(colours.primary)
    .rect(frame, frame, W - 2 * frame, H - 2 * frame)
    .stroke();
  doc
    .lineWidth(0.7)
    .strokeColor(colours.accent)
    .rect(frame + 6, frame + 6, W - 2 * frame - 12, H - 2 * frame - 12)
    .stroke();

  if (specimen) {
    doc.save();
    doc.rotate(landscape ? -24 : -50, { origin: [W / 2, H / 2] });
    doc.fillColor('#e8e8e8');
    drawAligned(doc, specimen, 0, W, H / 2 + 40, 120);
    doc.restore();
  }

  // Logos in one centred row.
  if (logos.length) {
    const opened = logos.map((bytes) => images.get(bytes)!);
    const gap = 28;
    const maxW = Math.min(170, (contentWidth - gap * (opened.length - 1)) / opened.length);
    const sizes = opened.map((img) => {
      const s = Math.min(maxW / img.width, logoHeight / img.height);
      return { w: img.width * s, h: img.height * s };
    });
    let x = (W - (sizes.reduce((a, s) => a + s.w, 0) + gap * (sizes.length - 1))) / 2;
    const top = frame + 20;
    opened.forEach((img, i) => {
      const s = sizes[i]!;
      doc.image(img as unknown as Buffer, x, top + (logoHeight - s.h) / 2, { width: s.w, height: s.h });
      x += s.w + gap;
    });
  }

  // Body, centred vertically in the space between the logos and the signatories.
  let y = bodyTop + Math.max(0, (available - bodyHeight(body)) / 2);
  for (const b of body) {
    const { ascent, descent } = lineMetrics(b.line);
    y += b.gap;
    doc.fillColor(b.colour);
    drawAligned(doc, b.line, left, contentWidth, y + ascent * b.size, b.size);
    y += (ascent + descent) * b.size * LINE_SPACING;
  }

  // Signatories, in equal columns left of the QR code.
  const sigRight = qrX - 24;
  const n = sigLines.length;
  const colWidth = Math.min(220, (sigRight - left) / n);
  const sigLeft = left + (sigRight - left - colWidth * n) / 2;
  sigLines.forEach((s, i) => {
    const x = sigLeft + i * colWidth;
    const inner = colWidth - 20;
    const ruleY = bottom - sigTitleLines * 11.5 - 14 - 4;
    if (s.signature) {
      const img = images.get(s.signature)!;
      const sc = Math.min(inner / img.width, 40 / img.height);
      doc.image(img as unknown as Buffer, x + (colWidth - img.width * sc) / 2, ruleY - 2 - img.height * sc, { width: img.width * sc, height: img.height * sc });
    }
    doc
      .lineWidth(0.6)
      .strokeColor(colours.accent)
      .moveTo(x + 10, ruleY)
      .lineTo(x + colWidth - 10, ruleY)
      .stroke();
    const name = fitText(s.name, { direction: directionOf(s.name), weight: 'bold', size: 10.5, minSize: 6.5, maxWidth: inner, maxLines: 1 });
    doc.fillColor(colours.text);
    drawAligned(doc, name.lines[0]!, x, colWidth, ruleY + 13, name.size);
    s.titles.forEach((t, j) => {
      const fitted = fitText(t, { direction: directionOf(t), weight: 'regular', size: 8.5, minSize: 6, maxWidth: inner, maxLines: 1 });
      doc.fillColor(colours.muted);
      drawAligned(doc, fitted.lines[0]!, x, colWidth, ruleY + 13 + 11.5 * (j + 1), fitted.size);
    });
  });

  // QR code to the verification page, and the code under it.
  const qr = drawQr(doc, qrMatrix(data.verificationUrl), qrX, qrY, qrSize, colours.text);
  let cy = qrY + qrSize + 4;
  if (codeLabel) {
    doc.fillColor(colours.muted);
    drawAligned(doc, codeLabel, qrX - 30, qrSize + 60, cy + 7, 7);
    cy += 11;
  }
  doc.fillColor(colours.text);
  drawAligned(doc, codeLine, qrX - 40, qrSize + 80, cy + 8, 8.5);

  doc.end();
  await ended;
  return { pdf: Buffer.concat(chunks), page: { width: W, height: H }, qr: { ...qr, url: data.verificationUrl } };
}

const LINE_SPACING = 1.12;

/** pdfkit's image object (internal, 0.20): `image` is the PNG decoder until the image is written. */
interface PdfkitImage {
  width: number;
  height: number;
  image?: unknown;
  embed(doc: PDFKit.PDFDocument): void;
}

/**
 * Embeds each distinct image once, one after the other. pdfkit decodes a PNG with transparency
 * asynchronously and numbers its soft mask when the decoding ends: started together, two such
 * images would be numbered in whichever order zlib finishes, and the same certificate would not
 * always give the same bytes.
 */
async function embedImages(doc: PDFKit.PDFDocument, sources: ImageBytes[]): Promise<Map<ImageBytes, PdfkitImage>> {
  const images = new Map<ImageBytes, PdfkitImage>();
  const byContent = new Map<string, PdfkitImage>();
  for (const bytes of sources) {
    // The same picture given twice (a partner's logo also used as a signature…) is embedded once.
    const digest = createHash('sha256').update(bytes).digest('hex');
    let img = byContent.get(digest);
    if (!img) {
      img = (doc as unknown as { openImage(b: Buffer): PdfkitImage }).openImage(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
      img.embed(doc);
      while (img.image) await new Promise((resolve) => setImmediate(resolve));
      byContent.set(digest, img);
    }
    images.set(bytes, img);
  }
  return images;
}

function bodyHeight(lines: BodyLine[]): number {
  return lines.reduce((h, b) => {
    const { ascent, descent } = lineMetrics(b.line);
    return h + b.gap + (ascent + descent) * b.size * LINE_SPACING;
  }, 0);
}

/** Title(s) and wording of every language at scale `k`. */
function layoutBody(template: CertificateTemplate, data: CertificateData, colours: CertificateColours, width: number, k: number): BodyLine[] {
  const out: BodyLine[] = [];
  const languages = template.languages;
  const primaryLang = languages[0].lang;
  const add = (
    text: string,
    o: { direction: Direction; weight: FontWeight; size: number; minSize?: number; maxLines?: number; colour: string; gap: number },
  ) => {
    if (!text.trim()) return;
    const lines = o.minSize
      ? fitText(text, { direction: o.direction, weight: o.weight, size: o.size, minSize: o.minSize, maxWidth: width, maxLines: o.maxLines ?? 2 })
      : { size: o.size, lines: wrap(text, o.direction, o.weight, o.size, width) };
    lines.lines.forEach((line, i) => out.push({ line, size: lines.size, colour: o.colour, gap: i === 0 ? o.gap : 0 }));
  };

  // Titles: the primary large, the secondary under it.
  languages.forEach((l: TemplateLanguage, i) => {
    const values = placeholderValues(data, l, primaryLang);
    const a = naskhScale(l.lang);
    add(fill(l.title, values), {
      direction: languageDirection(l.lang),
      weight: 'bold',
      size: (i ? 17 : 30) * k * a,
      minSize: (i ? 11 : 18) * k * a,
      colour: i ? colours.muted : colours.primary,
      gap: i ? 2 * k : 0,
    });
  });

  // Each block prints the name written in its script (placeholderValues); a name no block prints
  // (the Arabic one on an English-only or English + French certificate) goes under the first name line.
  const printed = languages.map((l) => placeholderValues(data, l, primaryLang).name);
  let unprinted = [data.name, data.nameAlt].find((n): n is string => !!n?.trim() && !printed.includes(n));

  languages.forEach((l: TemplateLanguage, i) => {
    const secondary = i > 0;
    const s = (secondary ? 0.82 : 1) * k * naskhScale(l.lang);
    const dir = languageDirection(l.lang);
    const values = placeholderValues(data, l, primaryLang);
    let gap = (secondary ? 14 : 18) * k;
    for (const raw of l.wording.split('\n')) {
      const line = raw.trim();
      if (!line) {
        gap += 6 * s;
        continue;
      }
      if (line === '{name}') {
        const name = values.name;
        add(name, { direction: directionOf(name, dir), weight: 'bold', size: 30 * s, minSize: 15 * s, maxLines: 2, colour: colours.primary, gap: gap + 4 * s });
        if (unprinted) {
          add(unprinted, {
            direction: directionOf(unprinted, dir),
            weight: 'bold',
            size: 19 * s,
            minSize: 11 * s,
            maxLines: 1,
            colour: colours.primary,
            gap: 0,
          });
          unprinted = undefined;
        }
        gap = 4 * s;
      } else if (line === '{course}') {
        add(values.course, {
          direction: directionOf(values.course, dir),
          weight: 'bold',
          size: 18 * s,
          minSize: 11 * s,
          maxLines: 2,
          colour: colours.text,
          gap: gap + 2 * s,
        });
        gap = 4 * s;
      } else {
        add(fill(line, values), { direction: dir, weight: 'regular', size: 12.5 * s, colour: secondary ? colours.muted : colours.text, gap });
        gap = 3 * s;
      }
    }
  });
  return out;
}

/** Naskh letters look smaller than Noto Sans at the same size: Arabic wording is set a little larger. */
function naskhScale(lang: string): number {
  return baseLanguage(lang) === 'ar' ? 1.15 : 1;
}

export { UncoveredCharactersError };
