/** Names of files people upload, and of files Olive sends back. */

const MAX_FILE_NAME_LENGTH = 200;

/**
 * A file name safe to store, show and send back: no path (either separator), no control or bidi
 * formatting characters (which can disguise "exe" as "pdf"), no leading dots, whitespace collapsed,
 * at most 200 characters with the extension kept. Letters of every script survive. `fallback` when
 * nothing is left.
 */
export function safeFileName(name: string, fallback = 'file'): string {
  let clean = name.normalize('NFC');
  clean = clean.slice(Math.max(clean.lastIndexOf('/'), clean.lastIndexOf('\\')) + 1);
  clean = clean
    // Control characters, and format characters except the joiners some scripts (Persian, Indic) need.
    .replace(/[\p{Cc}\p{Cs}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/gu, '')
    // Characters Windows refuses in names, so a download keeps its name there too.
    .replace(/[<>:"|?*]/g, '_')
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '');
  // The limit counts UTF-16 units (what a title's maxlength counts), cutting only between whole
  // characters, so a name of emoji cannot pass here and then fail as a title.
  if (clean.length > MAX_FILE_NAME_LENGTH) {
    const ext = /\.[^.\s]{1,20}$/u.exec(clean)?.[0] ?? '';
    let stem = '';
    for (const char of Array.from(clean.slice(0, clean.length - ext.length))) {
      if (stem.length + char.length + ext.length > MAX_FILE_NAME_LENGTH) break;
      stem += char;
    }
    clean = stem.trimEnd() + ext;
  }
  return clean || fallback;
}
