/**
 * The certificate renderer: no database, no HTTP. The certificates plugin builds on this module.
 * See README.md in this folder for what was measured and what extracts per script.
 */
export {
  renderCertificate,
  renderCertificateDetailed,
  renderPreview,
  unprintableTexts,
  SAMPLE_DATA,
  TemplateError,
  type RenderedCertificate,
  type RenderOptions,
} from './certificate.ts';
export {
  PLACEHOLDERS,
  DEFAULT_COLOURS,
  templateProblems,
  templateWarnings,
  formatDate,
  formatNumber,
  localeOf,
  languageDirection,
  type CertificateTemplate,
  type CertificateData,
  type TemplateLanguage,
  type Signatory,
  type CertificateColours,
  type LocalisedText,
  type ImageBytes,
  type CalendarDate,
  type Placeholder,
  type TemplateWarning,
} from './template.ts';
export { scriptOf, languageScripts, nameFor } from './wording.ts';
export { UncoveredCharactersError, shapeLine, uncoveredCharacters, type ShapedLine } from './text.ts';
export { qrMatrix, type QrPlacement } from './qr.ts';
export { nameSvg, type NameSvgOptions } from './svg.ts';
