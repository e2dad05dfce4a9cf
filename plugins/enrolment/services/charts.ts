/**
 * Server-rendered SVG charts for the donor reports: horizontal bar charts drawn as plain markup,
 * inlined in the page (readable without JavaScript, no chart library, a few KB each).
 *
 * The SVG is `role="img"` with a `<title>` and `<desc>` (the figures in words), every bar carries
 * its value as text, and the page shows the same figures as a table: the chart is never the only
 * way to read them. Every piece of text is escaped here, because the result is inserted unescaped.
 */

/** One series of bars: its name (legend) and colour. */
export interface ChartSeries {
  name: string;
  /** A fill colour with at least 3:1 contrast against white (WCAG non-text contrast). */
  colour: string;
}

export interface ChartRow {
  label: string;
  /** One value per series, in the order of `series`. */
  values: number[];
}

export interface BarChartInput {
  /** Unique on the page: used for the ids of `<title>` and `<desc>`. */
  id: string;
  title: string;
  /** What the chart shows, in words (read by screen readers). Generated from the rows when omitted. */
  desc?: string;
  series: ChartSeries[];
  rows: ChartRow[];
  /** Shown instead of bars when there are no rows. */
  emptyText?: string;
}

/** Default series colours: the stylesheet's olive and blue, both above 6:1 on white. */
export const CHART_COLOURS = ['#4e6b1f', '#0b5cad'] as const;

/**
 * Narrow enough to stay legible on a phone (drawn about 340 px wide there, its 13-unit text near
 * 11 px): each row's label sits on a line of its own above its bars, which take the whole width.
 */
const WIDTH = 400;
const VALUE_WIDTH = 44;
const LABEL_LINE = 19;
const BAR_HEIGHT = 16;
const BAR_GAP = 3;
const ROW_GAP = 12;
const LEGEND_HEIGHT = 26;
const MAX_LABEL_CHARS = 50;
const TEXT = '#1d2a2f';

/** Escapes text for SVG/XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Only `#rgb`/`#rrggbb` colours reach the markup: a colour is never a way to inject attributes. */
const safeColour = (c: string, fallback: string) => (/^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(c) ? c : fallback);

/** Shortens a label to what fits the chart's width (the full text stays in the row's `<title>`). */
function shorten(label: string): string {
  const chars = [...label];
  return chars.length <= MAX_LABEL_CHARS
    ? label
    : `${chars
        .slice(0, MAX_LABEL_CHARS - 1)
        .join('')
        .trimEnd()}…`;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** The chart's description in words, e.g. "Africa: participants 12, completions 9; Asia: …". */
export function describeRows(series: ChartSeries[], rows: ChartRow[]): string {
  return rows.map((r) => `${r.label}: ${series.map((s, i) => `${s.name} ${fmt(r.values[i] ?? 0)}`).join(', ')}`).join('; ');
}

/**
 * A horizontal bar chart, one group of bars per row (one bar per series), with the row's label
 * above its bars and each bar's value at its end. Bars scale to the largest value of the chart.
 *
 * Drawn left to right (`direction="ltr"`, so that text anchors mean the same in every page); the
 * stylesheet mirrors it in right-to-left pages, each text flipped back in place. Labels and values
 * take their own direction from their text (`unicode-bidi="plaintext"`): an Arabic label reads
 * right to left inside the chart, an English one left to right.
 */
export function horizontalBarChart(input: BarChartInput): string {
  const { rows } = input;
  const series = input.series.map((s, i) => ({ ...s, colour: safeColour(s.colour, CHART_COLOURS[i % CHART_COLOURS.length]!) }));
  const id = input.id.replace(/[^A-Za-z0-9_-]/g, '-');
  const desc = input.desc ?? (rows.length ? describeRows(series, rows) : (input.emptyText ?? ''));
  const max = Math.max(0, ...rows.flatMap((r) => r.values.map((v) => (Number.isFinite(v) ? v : 0))));
  const barArea = WIDTH - VALUE_WIDTH;
  const groupHeight = LABEL_LINE + series.length * BAR_HEIGHT + Math.max(0, series.length - 1) * BAR_GAP;
  const showLegend = series.length > 1;
  const top = showLegend ? LEGEND_HEIGHT : 4;
  const height = rows.length ? top + rows.length * (groupHeight + ROW_GAP) : top + 30;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" ` +
      `aria-labelledby="${id}-title ${id}-desc" font-family="system-ui, sans-serif" font-size="13" direction="ltr">`,
  );
  out.push(`<title id="${id}-title">${escapeXml(input.title)}</title>`);
  out.push(`<desc id="${id}-desc">${escapeXml(desc)}</desc>`);

  if (showLegend) {
    let x = 0;
    for (const s of series) {
      out.push(`<rect x="${x}" y="5" width="14" height="14" fill="${s.colour}"/>`);
      out.push(`<text x="${x + 20}" y="16" fill="${TEXT}" unicode-bidi="plaintext">${escapeXml(s.name)}</text>`);
      x += 28 + [...s.name].length * 7.5;
    }
  }
  if (!rows.length) {
    out.push(`<text x="0" y="${top + 18}" fill="${TEXT}" unicode-bidi="plaintext">${escapeXml(input.emptyText ?? '')}</text>`);
  }
  rows.forEach((row, r) => {
    const y0 = top + r * (groupHeight + ROW_GAP);
    out.push(`<g><title>${escapeXml(`${row.label}: ${series.map((s, i) => `${s.name} ${fmt(row.values[i] ?? 0)}`).join(', ')}`)}</title>`);
    out.push(`<text x="0" y="${y0 + 13}" fill="${TEXT}" unicode-bidi="plaintext">${escapeXml(shorten(row.label))}</text>`);
    series.forEach((s, i) => {
      const raw = row.values[i] ?? 0;
      const value = Number.isFinite(raw) && raw > 0 ? raw : 0;
      const w = max > 0 ? Math.round((value / max) * (barArea - 8) * 10) / 10 : 0;
      const y = y0 + LABEL_LINE + i * (BAR_HEIGHT + BAR_GAP);
      // A zero still shows a hairline, so "0" sits next to something.
      out.push(`<rect x="0" y="${y}" width="${Math.max(w, 1)}" height="${BAR_HEIGHT}" fill="${s.colour}"/>`);
      out.push(`<text x="${Math.max(w, 1) + 5}" y="${y + BAR_HEIGHT - 4}" fill="${TEXT}">${fmt(value)}</text>`);
    });
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('');
}
