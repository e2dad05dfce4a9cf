/**
 * A template version's stored content as the renderer takes it, and as it comes back from the
 * database (images as BSON binary, made Buffers again).
 */
import type { CertificateTemplate } from '../../render/index.ts';
import type { StoredImage, StoredTemplateContent } from '../../models/template.model.ts';

/** BSON binary read back from the database (mongodb `Binary`) as a Buffer. */
function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  const bin = value as { buffer?: Uint8Array; value?: () => Uint8Array } | undefined;
  if (bin?.buffer instanceof Uint8Array) return Buffer.from(bin.buffer.buffer, bin.buffer.byteOffset, bin.buffer.byteLength);
  throw new Error('certificates: a stored template image is not binary data');
}

function normaliseImage(img: StoredImage | undefined): StoredImage | undefined {
  return img ? { ...img, data: toBuffer(img.data) } : undefined;
}

/** Stored content with every image as a Buffer. */
export function normaliseContent(c: StoredTemplateContent): StoredTemplateContent {
  const programme = normaliseImage(c.logos?.programme);
  return {
    ...c,
    logos: { ...(programme ? { programme } : {}), partners: (c.logos?.partners ?? []).map((p) => normaliseImage(p)!) },
    signatories: c.signatories.map((s) => {
      const signature = normaliseImage(s.signature);
      return { name: s.name, title: s.title, ...(signature ? { signature } : {}) };
    }),
  };
}

/** The renderer's template from stored content. */
export function toRenderable(c: StoredTemplateContent): CertificateTemplate {
  const languages = c.languages.map((l) => ({ lang: l.lang, title: l.title, wording: l.wording, ...(l.codeLabel ? { codeLabel: l.codeLabel } : {}) }));
  return {
    page: { size: c.page.size, orientation: c.page.orientation },
    colours: { ...c.colours },
    languages: languages as unknown as CertificateTemplate['languages'],
    logos: {
      ...(c.logos.programme ? { programme: c.logos.programme.data } : {}),
      partners: c.logos.partners.map((p) => p.data),
    },
    signatories: c.signatories.map((s) => ({ name: s.name, title: { ...s.title }, ...(s.signature ? { signature: s.signature.data } : {}) })),
  };
}
