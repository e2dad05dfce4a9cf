/**
 * Tools for the attack tests: decode a captured response, change it as an attacker would, and
 * re-sign it, with the IdP's own key (which the test owns: to build a response that is valid in
 * every respect but one) or with an attacker's key.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';

export const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
export const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const DS = 'http://www.w3.org/2000/09/xmldsig#';

export const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
export const encode = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');

export const parseXml = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml');
export const serialize = (node: Node) => new XMLSerializer().serializeToString(node);

/** Removes every XML signature (or only the response's / the assertion's). */
export function stripSignatures(xml: string, which: 'all' | 'response' | 'assertion' = 'all'): string {
  const doc = parseXml(xml);
  for (const sig of Array.from(doc.getElementsByTagNameNS(DS, 'Signature'))) {
    const parent = sig.parentNode as Element;
    if (which === 'all' || (which === 'response' && parent.localName === 'Response') || (which === 'assertion' && parent.localName === 'Assertion')) {
      parent.removeChild(sig);
    }
  }
  return serialize(doc);
}

/** Edits the XML through the DOM (signatures are left as they are: they break if they covered it). */
export function edit(xml: string, change: (doc: Document) => void): string {
  const doc = parseXml(xml);
  change(doc);
  return serialize(doc);
}

export const first = (doc: Document | Element, ns: string, name: string) => doc.getElementsByTagNameNS(ns, name)[0]!;

/** Sets an attribute value in the AttributeStatement. */
export function setAttributeValue(doc: Document, name: string, value: string) {
  const attribute = Array.from(doc.getElementsByTagNameNS(SAML, 'Attribute')).find((a) => a.getAttribute('Name') === name)!;
  first(attribute, SAML, 'AttributeValue').textContent = value;
}

export interface SigningKey {
  keyPem: string;
  certPem: string;
}

/**
 * Re-signs: strips the old signatures, then signs the assertion and (unless `response: false`) the
 * response, like SimpleSAMLphp does (signature right after the Issuer, exclusive C14N).
 */
export function resign(xml: string, key: SigningKey, options: { response?: boolean; assertion?: boolean; algorithm?: 'sha256' | 'sha1' } = {}): string {
  let out = stripSignatures(xml);
  const sha1 = options.algorithm === 'sha1';
  const sign = (target: string, issuer: string) => {
    const sig = new SignedXml({
      privateKey: key.keyPem,
      publicCert: key.certPem,
      signatureAlgorithm: sha1 ? RSA_SHA1 : RSA_SHA256,
      canonicalizationAlgorithm: EXC_C14N,
    });
    sig.addReference({ xpath: target, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: sha1 ? SHA1 : SHA256 });
    sig.computeSignature(out, { location: { reference: issuer, action: 'after' } });
    out = sig.getSignedXml();
  };
  if (options.assertion !== false)
    sign("/*[local-name(.)='Response']/*[local-name(.)='Assertion']", "/*[local-name(.)='Response']/*[local-name(.)='Assertion']/*[local-name(.)='Issuer']");
  if (options.response !== false) sign("/*[local-name(.)='Response']", "/*[local-name(.)='Response']/*[local-name(.)='Issuer']");
  return out;
}

const instant = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Shifts the assertion's validity window (Conditions and SubjectConfirmationData). */
export function setValidity(doc: Document, notBeforeOffsetMs: number, notOnOrAfterOffsetMs: number) {
  const conditions = first(doc, SAML, 'Conditions');
  conditions.setAttribute('NotBefore', instant(notBeforeOffsetMs));
  conditions.setAttribute('NotOnOrAfter', instant(notOnOrAfterOffsetMs));
  first(doc, SAML, 'SubjectConfirmationData').setAttribute('NotOnOrAfter', instant(notOnOrAfterOffsetMs));
}

/** A logout request from the IdP (redirect binding), signed like SimpleSAMLphp signs it, or unsigned. */
export function logoutRequestQuery(options: {
  issuer: string;
  destination: string;
  nameID: string;
  sessionIndex?: string;
  key?: SigningKey;
  sigAlg?: string;
}): string {
  const id = `_${crypto.randomBytes(16).toString('hex')}`;
  const xml =
    `<samlp:LogoutRequest xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${id}" Version="2.0" IssueInstant="${instant(0)}" Destination="${options.destination}">` +
    `<saml:Issuer>${options.issuer}</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${options.nameID}</saml:NameID>` +
    (options.sessionIndex ? `<samlp:SessionIndex>${options.sessionIndex}</samlp:SessionIndex>` : '') +
    '</samlp:LogoutRequest>';
  let query = `SAMLRequest=${encodeURIComponent(zlib.deflateRawSync(xml).toString('base64'))}`;
  if (options.key) {
    const sigAlg = options.sigAlg ?? RSA_SHA256;
    query += `&SigAlg=${encodeURIComponent(sigAlg)}`;
    const signature = crypto.sign(sigAlg === RSA_SHA1 ? 'sha1' : 'sha256', Buffer.from(query), options.key.keyPem).toString('base64');
    query += `&Signature=${encodeURIComponent(signature)}`;
  }
  return query;
}

/** The same request in the POST binding (enveloped signature, or none). */
export function logoutRequestPost(options: { issuer: string; destination: string; nameID: string; key?: SigningKey }): string {
  const id = `_${crypto.randomBytes(16).toString('hex')}`;
  let xml =
    `<samlp:LogoutRequest xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${id}" Version="2.0" IssueInstant="${instant(0)}" Destination="${options.destination}">` +
    `<saml:Issuer>${options.issuer}</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${options.nameID}</saml:NameID></samlp:LogoutRequest>`;
  if (options.key) {
    const sig = new SignedXml({
      privateKey: options.key.keyPem,
      publicCert: options.key.certPem,
      signatureAlgorithm: RSA_SHA256,
      canonicalizationAlgorithm: EXC_C14N,
    });
    sig.addReference({ xpath: "/*[local-name(.)='LogoutRequest']", transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
    sig.computeSignature(xml, { location: { reference: "/*[local-name(.)='LogoutRequest']/*[local-name(.)='Issuer']", action: 'after' } });
    xml = sig.getSignedXml();
  }
  return encode(xml);
}
