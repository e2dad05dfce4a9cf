/**
 * Test files made here, so each test says what its bytes are: the courses tests' shared samples.
 */

/** A minimal but valid one-page PDF showing `text`, with a correct cross-reference table. */
export function minimalPdf(text = 'Olive course material'): Buffer {
  const content = `BT /F1 16 Tf 20 40 Td (${text.replace(/[()\\]/g, '\\$&')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** A Windows program's first bytes: DOS stub and a PE header for an i386 image. */
export function windowsProgram(): Buffer {
  const exe = Buffer.alloc(2048);
  exe.write('MZ', 0, 'latin1');
  exe.writeUInt16LE(0x90, 2);
  exe.writeUInt16LE(3, 4);
  exe.writeUInt32LE(0x80, 0x3c); // e_lfanew
  exe.write('This program cannot be run in DOS mode.\r\r\n$', 0x4e, 'latin1');
  exe.write('PE\0\0', 0x80, 'latin1');
  exe.writeUInt16LE(0x14c, 0x84); // Machine: i386
  exe.writeUInt16LE(1, 0x86); // one section
  exe.writeUInt16LE(0xe0, 0x94); // optional header size
  exe.writeUInt16LE(0x0102, 0x96); // executable, 32-bit
  exe.writeUInt16LE(0x10b, 0x98); // PE32 magic
  return exe;
}
