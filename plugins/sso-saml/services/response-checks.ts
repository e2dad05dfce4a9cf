import { DOMParser } from '@xmldom/xmldom';
import { SamlRefusal } from './refusal.ts';

const SAML_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SAML_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

/** SHA-256 or stronger only: a SHA-1 signature can be forged with money. */
const SIGNATURE_ALGORITHMS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512',
]);
const DIGEST_ALGORITHMS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);
/** The same, as the SigAlg of a redirect-binding message. */
export const REDIRECT_SIGNATURE_ALGORITHMS = SIGNATURE_ALGORITHMS;

function parse(xml: string) {
  // A DOCTYPE has no business in SAML and is how entity-expansion attacks start.
  if (/<!DOCTYPE/i.test(xml)) throw new SamlRefusal('MALFORMED', 'the message contains a DOCTYPE');
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) } }).parseFromString(
    xml,
    'text/xml',
  );
  if (errors.length || !doc?.documentElement) throw new SamlRefusal('MALFORMED', `not well-formed XML: ${errors[0] ?? 'empty'}`);
  return doc;
}

/** What the root element of a posted message says of itself (none of it verified yet). */
export interface PostedMessage {
  xml: string;
  destination: string | null;
  /** The message's own `<saml:Issuer>` (a Response's, not its assertion's), when it has one. */
  issuer: string | null;
  inResponseTo: string | null;
  /** The root element carries a signature (whether it holds is checked later). */
  signed: boolean;
}

/**
 * Decodes a POSTed SAML message (base64, as the POST binding carries it) and checks, before any
 * signature check, what it is made of: the expected root element, no DOCTYPE, SHA-256 or stronger.
 */
export function checkPostedMessage(message: unknown, expectedRoot: 'Response' | 'LogoutRequest' | 'LogoutResponse'): PostedMessage {
  if (typeof message !== 'string' || !message || message.length > 150_000) throw new SamlRefusal('MALFORMED', 'no SAML message in the form');
  const xml = Buffer.from(message, 'base64').toString('utf8');
  const doc = parse(xml);
  const root = doc.documentElement!;
  if (root.localName !== expectedRoot || root.namespaceURI !== SAML_PROTOCOL)
    throw new SamlRefusal('MALFORMED', `expected a ${expectedRoot}, got ${root.localName}`);
  for (const method of Array.from(doc.getElementsByTagNameNS(DS, 'SignatureMethod'))) {
    const algorithm = method.getAttribute('Algorithm') ?? '';
    if (!SIGNATURE_ALGORITHMS.has(algorithm)) throw new SamlRefusal('WEAK_ALGORITHM', `signature algorithm ${algorithm} is not accepted`);
  }
  for (const method of Array.from(doc.getElementsByTagNameNS(DS, 'DigestMethod'))) {
    const algorithm = method.getAttribute('Algorithm') ?? '';
    if (!DIGEST_ALGORITHMS.has(algorithm)) throw new SamlRefusal('WEAK_ALGORITHM', `digest algorithm ${algorithm} is not accepted`);
  }
  const ownChild = (ns: string, name: string) =>
    Array.from(root.childNodes).find((n): n is Element => n.nodeType === 1 && (n as Element).localName === name && (n as Element).namespaceURI === ns);
  const issuer = ownChild(SAML_ASSERTION, 'Issuer');
  return {
    xml,
    destination: root.getAttribute('Destination') || null,
    issuer: issuer ? (issuer.textContent ?? '').trim() : null,
    inResponseTo: root.getAttribute('InResponseTo') || null,
    signed: !!ownChild(DS, 'Signature'),
  };
}

export interface VerifiedAssertionFacts {
  id: string;
  issuer: string;
  /** The full text of the NameID, whatever comments split it into (the classic truncation trick). */
  nameID: string;
  recipients: string[];
  /** The `InResponseTo` of each subject confirmation: the sign-in request answered, as the IdP signed it. */
  inResponseTo: string[];
  /** When the assertion stops being acceptable: until then its id is remembered against replay. */
  notOnOrAfter: Date;
}

/**
 * Reads what Olive relies on from the assertion XML that the signature check returned (the signed
 * bytes, never the rest of the document).
 */
export function readVerifiedAssertion(assertionXml: string): VerifiedAssertionFacts {
  const doc = parse(assertionXml);
  const assertion = doc.documentElement!;
  if (assertion.localName !== 'Assertion' || assertion.namespaceURI !== SAML_ASSERTION)
    throw new SamlRefusal('INVALID_RESPONSE', 'the signed element is not an assertion');
  const child = (parent: Element, name: string) =>
    Array.from(parent.childNodes).find(
      (n): n is Element => n.nodeType === 1 && (n as Element).localName === name && (n as Element).namespaceURI === SAML_ASSERTION,
    );
  const subject = child(assertion, 'Subject');
  const nameIdElement = subject && child(subject, 'NameID');
  const confirmations = subject ? Array.from(subject.getElementsByTagNameNS(SAML_ASSERTION, 'SubjectConfirmationData')) : [];
  const conditions = child(assertion, 'Conditions');
  const limits = [conditions?.getAttribute('NotOnOrAfter'), ...confirmations.map((c) => c.getAttribute('NotOnOrAfter'))]
    .filter((v): v is string => !!v)
    .map((v) => new Date(v).getTime())
    .filter((t) => Number.isFinite(t));
  return {
    id: assertion.getAttribute('ID') ?? '',
    issuer: (child(assertion, 'Issuer')?.textContent ?? '').trim(),
    nameID: (nameIdElement?.textContent ?? '').trim(),
    recipients: confirmations.map((c) => c.getAttribute('Recipient') ?? ''),
    inResponseTo: confirmations.map((c) => c.getAttribute('InResponseTo') ?? ''),
    notOnOrAfter: new Date(limits.length ? Math.min(...limits) : Date.now() + 3600_000),
  };
}
