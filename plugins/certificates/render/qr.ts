/**
 * The QR code to the verification page, drawn as vector rectangles from `qrcode`'s module matrix
 * (sharp at any zoom or print size, a few hundred bytes, no raster image).
 */
import QRCode from 'qrcode';

/** The QR code's modules for a text (error correction level M), row by row; `true` is dark. */
export function qrMatrix(text: string): boolean[][] {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const rows: boolean[][] = [];
  for (let r = 0; r < modules.size; r++) {
    const row: boolean[] = [];
    for (let c = 0; c < modules.size; c++) row.push(modules.get(r, c) === 1 || (modules.get(r, c) as unknown) === true);
    rows.push(row);
  }
  return rows;
}

/** Where a QR code was drawn: its top-left corner (pdfkit's top-down points) and module size. */
export interface QrPlacement {
  x: number;
  y: number;
  moduleSize: number;
  matrix: boolean[][];
}

/**
 * Draws the matrix with its top-left module at (x, y) in a square of `size` points: each row's
 * runs of dark modules become one rectangle, and everything is filled at once. The light quiet
 * zone around the code is the page's white background; leave 4 modules of space around it.
 */
export function drawQr(doc: PDFKit.PDFDocument, matrix: boolean[][], x: number, y: number, size: number, color: string): QrPlacement {
  const n = matrix.length;
  const m = size / n;
  doc.save();
  for (let r = 0; r < n; r++) {
    const row = matrix[r]!;
    for (let c = 0; c < n;) {
      if (!row[c]) {
        c++;
        continue;
      }
      let end = c;
      while (end < n && row[end]) end++;
      doc.rect(x + c * m, y + r * m, (end - c) * m, m);
      c = end;
    }
  }
  doc.fillColor(color).fill();
  doc.restore();
  return { x, y, moduleSize: m, matrix };
}
