/**
 * Writes the demo programme's sample PDF, fixtures/courses/materials/conflict-analysis-reading-list.pdf:
 * the Conflict Analysis course's reading list, as a small, valid, text-based PDF.
 *
 *   npx tsx scripts/make-sample-materials.ts
 *
 * No PDF library is a dependency of Olive, and the demo file should be ours and reproducible, so the
 * PDF is written by hand: the standard Helvetica fonts (every reader has them, nothing embedded),
 * WinAnsi encoding for the few typographic characters, uncompressed content streams, and a
 * cross-reference table with exact byte offsets. The output is the same bytes on every run (no
 * dates or ids in it), so running the script again leaves git with nothing to commit.
 *
 * Over 400 lines: most of it is the reading list's text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const OUTPUT = fileURLToPath(new URL('../fixtures/courses/materials/conflict-analysis-reading-list.pdf', import.meta.url));

// ---- The reading list --------------------------------------------------------------------------

interface Reference {
  cite: string;
  note: string;
}
interface Section {
  heading: string;
  references: Reference[];
}

const TITLE = 'Conflict Analysis: reading list';
const SUBTITLE = 'Olive demo programme · four-week self-paced e-learning course · about 20 hours';
const INTRODUCTION =
  'Start with the three core texts in week 1; the others go with the modules named in each heading. ' +
  'The notes say why each text is worth your time. Most UN documents listed are freely available online: search for their titles or document symbols.';

const SECTIONS: Section[] = [
  {
    heading: 'Core texts (week 1)',
    references: [
      {
        cite: 'United Nations (2012). Guidance for Effective Mediation. New York: United Nations.',
        note: 'The eight fundamentals of UN mediation, from preparedness to quality peace agreements. Short and practical.',
      },
      {
        cite: 'United Nations and World Bank (2018). Pathways for Peace: Inclusive Approaches to Preventing Violent Conflict. Washington, DC: World Bank.',
        note: 'The evidence for prevention, and why exclusion from power and services drives violent conflict.',
      },
      {
        cite: 'United Nations Development Group (2016). Conducting a Conflict and Development Analysis. New York: UNDG.',
        note: 'A step-by-step method used by UN country teams; its templates suit the case in module 6.',
      },
    ],
  },
  {
    heading: 'Module 1: understanding the sources of conflict',
    references: [
      {
        cite: 'Galtung, J. (1969). “Violence, Peace, and Peace Research.” Journal of Peace Research 6(3): 167–191.',
        note: 'The origin of “structural violence”: harm built into social arrangements rather than done by anyone in particular.',
      },
      {
        cite: 'Azar, E. E. (1990). The Management of Protracted Social Conflict: Theory and Cases. Aldershot: Dartmouth.',
        note: 'Why conflicts over identity, recognition and basic needs last, and resist bargaining.',
      },
      {
        cite: 'Stewart, F., ed. (2008). Horizontal Inequalities and Conflict. Basingstoke: Palgrave Macmillan.',
        note: 'Inequality between groups, not just individuals, as a cause of mobilisation and violence.',
      },
      {
        cite: 'Collier, P. and Hoeffler, A. (2004). “Greed and Grievance in Civil War.” Oxford Economic Papers 56(4): 563–595.',
        note: 'The opportunity-based account; read it alongside Stewart and judge the debate for yourself.',
      },
    ],
  },
  {
    heading: 'Modules 2 and 3: actors, interests and dynamics',
    references: [
      {
        cite: 'Fisher, S. et al. (2000). Working with Conflict: Skills and Strategies for Action. London: Zed Books.',
        note: 'Practical tools: actor mapping, the conflict tree, timelines. The basis of this course’s exercises.',
      },
      {
        cite: 'Stedman, S. J. (1997). “Spoiler Problems in Peace Processes.” International Security 22(2): 5–53.',
        note: 'Types of spoilers, and strategies for managing each.',
      },
      {
        cite: 'Zartman, I. W. (2000). “Ripeness: The Hurting Stalemate and Beyond.” In P. C. Stern and D. Druckman, eds., International Conflict Resolution After the Cold War. Washington, DC: National Academy Press.',
        note: 'When parties are ready to negotiate, and what a mediator can do before then.',
      },
      {
        cite: 'Glasl, F. (1999). Confronting Conflict: A First-Aid Kit for Handling Conflict. Stroud: Hawthorn Press.',
        note: 'The nine stages of escalation, and which kinds of help fit each.',
      },
      {
        cite: 'Anderson, M. B. (1999). Do No Harm: How Aid Can Support Peace – or War. Boulder: Lynne Rienner.',
        note: 'Connectors and dividers: how outsiders’ presence and resources affect a conflict.',
      },
    ],
  },
  {
    heading: 'Modules 4 and 5: mechanisms, early warning and prevention',
    references: [
      {
        cite: 'Charter of the United Nations (1945), Chapter VI, in particular Article 33.',
        note: 'The peaceful means of settlement, in the Charter’s own words.',
      },
      {
        cite: 'Boutros-Ghali, B. (1992). An Agenda for Peace: Preventive Diplomacy, Peacemaking and Peace-keeping. UN document A/47/277 – S/24111.',
        note: 'The report that put preventive diplomacy at the centre of the UN’s work.',
      },
      {
        cite: 'Fisher, R., Ury, W. and Patton, B. (2011). Getting to Yes: Negotiating Agreement Without Giving In. 3rd ed. New York: Penguin.',
        note: 'Interest-based negotiation; also the core text of this programme’s negotiation course.',
      },
      {
        cite: 'Ramsbotham, O., Woodhouse, T. and Miall, H. (2016). Contemporary Conflict Resolution. 4th ed. Cambridge: Polity.',
        note: 'A broad textbook; its chapters on prevention and on ending violent conflict suit modules 4 and 5.',
      },
    ],
  },
];

const FOOTNOTE = 'Compiled for the Olive demo programme. An illustrative list, not an official UNITAR publication.';

// ---- Fonts and text ----------------------------------------------------------------------------

/**
 * Helvetica's advance widths (per 1000 units of font size) for ASCII 32–126, from the standard
 * Adobe font metrics. Lines are broken with them; the bold face is measured with a margin instead
 * of a table of its own, since only headings use it.
 */
const HELVETICA_WIDTHS = [
  278,
  278,
  355,
  556,
  556,
  889,
  667,
  191,
  333,
  333,
  389,
  584,
  278,
  333,
  278,
  278, // space ! " # $ % & ' ( ) * + , - . /
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  556,
  278,
  278,
  584,
  584,
  584,
  556, // 0-9 : ; < = > ?
  1015,
  667,
  667,
  722,
  722,
  667,
  611,
  778,
  722,
  278,
  500,
  667,
  556,
  833,
  722,
  778, // @ A-O
  667,
  778,
  722,
  667,
  611,
  722,
  667,
  944,
  667,
  667,
  611,
  278,
  278,
  278,
  469,
  556, // P-Z [ \ ] ^ _
  333,
  556,
  556,
  500,
  556,
  556,
  278,
  556,
  556,
  222,
  222,
  500,
  222,
  833,
  556,
  556, // ` a-o
  556,
  556,
  333,
  500,
  278,
  556,
  500,
  722,
  500,
  500,
  500,
  334,
  260,
  334,
  584, // p-z { | } ~
];

/** The typographic characters used above, as WinAnsiEncoding bytes, with their Helvetica widths. */
const WIN_ANSI: Record<string, [byte: number, width: number]> = {
  '‘': [0x91, 222],
  '’': [0x92, 222],
  '“': [0x93, 333],
  '”': [0x94, 333],
  '•': [0x95, 350],
  '–': [0x96, 556],
  '—': [0x97, 1000],
  '·': [0xb7, 278],
};

type Font = 'regular' | 'bold' | 'italic';
const FONT_RESOURCE: Record<Font, string> = { regular: 'F1', bold: 'F2', italic: 'F3' };

function charWidth(ch: string): number {
  const code = ch.charCodeAt(0);
  if (code >= 32 && code <= 126) return HELVETICA_WIDTHS[code - 32]!;
  const special = WIN_ANSI[ch];
  if (special) return special[1];
  throw new Error(`No WinAnsi code for ${JSON.stringify(ch)}: use another character in the reading list.`);
}

function textWidth(text: string, font: Font, size: number): number {
  let units = 0;
  for (const ch of text) units += charWidth(ch);
  return (units * size * (font === 'bold' ? 1.08 : 1)) / 1000;
}

/** A PDF literal string: WinAnsi bytes (one character per byte), with \ ( ) escaped. */
function pdfString(text: string): string {
  let out = '(';
  for (const ch of text) {
    charWidth(ch); // refuses what WinAnsi cannot show
    const special = WIN_ANSI[ch];
    const c = special ? String.fromCharCode(special[0]) : ch;
    out += c === '\\' || c === '(' || c === ')' ? `\\${c}` : c;
  }
  return `${out})`;
}

function wrap(text: string, font: Font, size: number, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (line && textWidth(candidate, font, size) > width) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line) lines.push(line);
  return lines;
}

// ---- Layout ------------------------------------------------------------------------------------

const PAGE = { width: 595.28, height: 841.89 }; // A4, in points
const MARGIN = { left: 56, right: 56, top: 52, bottom: 56 };
const TEXT_WIDTH = PAGE.width - MARGIN.left - MARGIN.right;
const HANGING_INDENT = 14;

interface Run {
  font: Font;
  size: number;
  x: number;
  y: number;
  text: string;
}

function layout(): Run[][] {
  const pages: Run[][] = [[]];
  let y = PAGE.height - MARGIN.top;
  const page = () => pages[pages.length - 1]!;
  const ensure = (height: number) => {
    if (y - height < MARGIN.bottom) {
      pages.push([]);
      y = PAGE.height - MARGIN.top;
    }
  };
  const block = (text: string, font: Font, size: number, leading: number, indent = 0, hanging = 0) => {
    const lines = wrap(text, font, size, TEXT_WIDTH - indent - hanging);
    lines.forEach((line, i) => {
      ensure(leading);
      y -= leading;
      page().push({ font, size, x: MARGIN.left + indent + (i > 0 ? hanging : 0), y, text: line });
    });
  };

  block(TITLE, 'bold', 18, 22);
  y -= 4;
  block(SUBTITLE, 'italic', 10, 14);
  y -= 8;
  block(INTRODUCTION, 'regular', 10, 13.5);
  for (const section of SECTIONS) {
    y -= 8;
    // A heading is never left alone at the foot of a page.
    ensure(16 + 3 * 13);
    block(section.heading, 'bold', 11.5, 16);
    y -= 2;
    for (const ref of section.references) {
      const height =
        12 * (wrap(ref.cite, 'regular', 9.5, TEXT_WIDTH - HANGING_INDENT).length + wrap(ref.note, 'italic', 9, TEXT_WIDTH - HANGING_INDENT).length) + 4;
      ensure(height); // an entry and its note stay together
      y -= 4;
      block(ref.cite, 'regular', 9.5, 12, 0, HANGING_INDENT);
      block(ref.note, 'italic', 9, 11.5, HANGING_INDENT);
    }
  }
  return pages;
}

// ---- The PDF file ------------------------------------------------------------------------------

const num = (n: number) => String(Math.round(n * 100) / 100);

/** A page's text, and its footer: the footnote, and page numbers when there is more than one page. */
function contentStream(runs: Run[], pageNumber: number, pageCount: number): string {
  const text = (font: Font, size: number, x: number, y: number, value: string) =>
    `BT /${FONT_RESOURCE[font]} ${num(size)} Tf 1 0 0 1 ${num(x)} ${num(y)} Tm ${pdfString(value)} Tj ET`;
  const ops = runs.map((r) => text(r.font, r.size, r.x, r.y, r.text));
  const footerY = MARGIN.bottom - 28;
  ops.push(text('italic', 8, MARGIN.left, footerY, FOOTNOTE));
  if (pageCount > 1) {
    const folio = `${pageNumber} / ${pageCount}`;
    ops.push(text('regular', 8, PAGE.width - MARGIN.right - textWidth(folio, 'regular', 8), footerY, folio));
  }
  return ops.join('\n');
}

/** Serialises numbered objects (1..n, in order) with an exact cross-reference table. */
function serialise(objects: string[], rootId: number, infoId: number): Buffer {
  // Every character is one byte (WinAnsi), so string lengths are byte offsets. The comment line
  // of high bytes tells transfer tools that the file is binary, as the PDF specification advises.
  let pdf = '%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root ${rootId} 0 R /Info ${infoId} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

export function readingListPdf(): Buffer {
  const pages = layout();
  const font = (base: string) => `<< /Type /Font /Subtype /Type1 /BaseFont /${base} /Encoding /WinAnsiEncoding >>`;
  // 1 catalog, 2 page tree, 3–5 fonts, 6 document information, then a page and its content each.
  const firstPage = 7;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R /Lang (en) >>',
    `<< /Type /Pages /Kids [${pages.map((_, i) => `${firstPage + 2 * i} 0 R`).join(' ')}] /Count ${pages.length} >>`,
    font('Helvetica'),
    font('Helvetica-Bold'),
    font('Helvetica-Oblique'),
    `<< /Title ${pdfString(TITLE)} /Author (Olive demo programme) /Producer (scripts/make-sample-materials.ts) >>`,
  ];
  pages.forEach((runs, i) => {
    const content = contentStream(runs, i + 1, pages.length);
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${num(PAGE.width)} ${num(PAGE.height)}] /Contents ${firstPage + 2 * i + 1} 0 R ` +
        '/Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> >>',
      `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    );
  });
  return serialise(objects, 1, 6);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const pdf = readingListPdf();
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  fs.writeFileSync(OUTPUT, pdf);
  console.log(`${path.relative(process.cwd(), OUTPUT)}: ${pdf.length} bytes`);
}
