import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { DOMParser } from '@xmldom/xmldom';
import {
  generateServiceProviderMetadata,
  SAML,
  Strategy as SamlStrategy,
  ValidateInResponseTo,
  type PassportSamlConfig,
  type VerifyWithoutRequest,
} from '@node-saml/passport-saml';
import type { Model } from 'mongoose';
import type { Logger } from 'pino';
import type { ResolvedIdpConfig, SsoConfig } from '../config.ts';
import type { PendingRequestDoc } from '../models/saml.models.ts';
import { MongoRequestCache } from './request-cache.ts';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const SHA256_DIGEST = 'http://www.w3.org/2001/04/xmlenc#sha256';
const RETRY_UNAVAILABLE_MS = 5 * 60 * 1000;

/** What an IdP's metadata says (or its explicit settings). */
export interface IdpEndpoints {
  entityId: string;
  ssoUrl: string;
  sloUrl?: string | undefined;
  certificates: string[];
}

export interface CertificateInfo {
  subject: string;
  fingerprint: string;
  validTo: Date;
  daysLeft: number;
  /** 'expired' | 'expiring' (within the warning period) | 'ok' */
  state: 'expired' | 'expiring' | 'ok';
}

/** An identity provider ready for use, rebuilt whenever its metadata is refreshed. */
export interface ActiveIdp {
  config: ResolvedIdpConfig;
  endpoints: IdpEndpoints;
  certificates: CertificateInfo[];
  /** passport-saml's strategy: sign-in requests and assertion validation. */
  strategy: SamlStrategy;
  /** node-saml, same options: single logout messages. */
  saml: SAML;
  urls: { acs: string; slo: string; metadata: string; login: string; logout: string };
}

export interface IdpStatus {
  config: ResolvedIdpConfig;
  active?: ActiveIdp | undefined;
  /** Why it cannot be used right now (metadata unreachable or invalid). */
  problem?: string | undefined;
  metadataLoadedAt?: Date | undefined;
}

const PEM_LINE = 64;
export function toPem(base64Der: string): string {
  const body = base64Der.replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${body.match(new RegExp(`.{1,${PEM_LINE}}`, 'g'))!.join('\n')}\n-----END CERTIFICATE-----`;
}

/** Reads entity id, endpoints and signing certificates from an IdP's SAML metadata XML. */
export function parseIdpMetadata(xml: string, wantedEntityId?: string): IdpEndpoints {
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { error: (m: string) => errors.push(m), fatalError: (m: string) => errors.push(m) } }).parseFromString(
    xml,
    'text/xml',
  );
  if (errors.length || !doc?.documentElement) throw new Error(`the metadata is not well-formed XML (${errors[0] ?? 'empty'})`);
  const entities = Array.from(doc.getElementsByTagNameNS(MD, 'EntityDescriptor')).filter((e) => e.getElementsByTagNameNS(MD, 'IDPSSODescriptor').length > 0);
  const entity = wantedEntityId ? entities.find((e) => e.getAttribute('entityID') === wantedEntityId) : entities.length === 1 ? entities[0] : undefined;
  if (!entity) {
    throw new Error(
      entities.length > 1 && !wantedEntityId
        ? 'the metadata describes several identity providers: set entityId to choose one'
        : `the metadata holds no identity provider${wantedEntityId ? ` with entity id ${wantedEntityId}` : ''}`,
    );
  }
  const idp = entity.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0]!;
  const endpoint = (name: string) =>
    Array.from(idp.getElementsByTagNameNS(MD, name))
      .find((e) => e.getAttribute('Binding') === REDIRECT_BINDING)
      ?.getAttribute('Location') ?? undefined;
  const certificates = Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))
    .filter((k) => !k.getAttribute('use') || k.getAttribute('use') === 'signing')
    .flatMap((k) => Array.from(k.getElementsByTagNameNS(DS, 'X509Certificate')))
    .map((c) => (c.textContent ?? '').replace(/\s+/g, ''))
    .filter(Boolean)
    .map(toPem);
  const ssoUrl = endpoint('SingleSignOnService');
  if (!ssoUrl) throw new Error('the metadata has no SingleSignOnService with the HTTP-Redirect binding');
  if (!certificates.length) throw new Error('the metadata has no signing certificate');
  return { entityId: entity.getAttribute('entityID')!, ssoUrl, sloUrl: endpoint('SingleLogoutService'), certificates: [...new Set(certificates)] };
}

export function describeCertificate(pem: string, warningDays: number, now = Date.now()): CertificateInfo {
  const cert = new crypto.X509Certificate(pem);
  const validTo = new Date(cert.validTo);
  const daysLeft = Math.floor((validTo.getTime() - now) / 86400000);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    fingerprint: cert.fingerprint256,
    validTo,
    daysLeft,
    state: validTo.getTime() <= now ? 'expired' : daysLeft < warningDays ? 'expiring' : 'ok',
  };
}

async function fetchMetadata(url: string): Promise<string> {
  const parsed = new URL(url);
  // Metadata decides which keys are trusted: it must come over TLS, except from a local test IdP.
  if (parsed.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error('metadata URLs must use https');
  }
  const res = await fetch(url, { signal: AbortSignal.timeout(8000), redirect: 'error' });
  if (!res.ok) throw new Error(`metadata URL answered ${res.status}`);
  return res.text();
}

/**
 * The configured identity providers and their live state. Metadata is loaded at start and refreshed
 * on a timer; an IdP whose metadata cannot be loaded stays unavailable (its sign-in button says so)
 * without stopping Olive or the other IdPs, and keeps its last good metadata on a failed refresh.
 */
export class IdpRegistry {
  private readonly statuses = new Map<string, IdpStatus>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly config: SsoConfig,
    private readonly baseUrl: string,
    private readonly requests: Model<PendingRequestDoc>,
    private readonly logger: Logger,
  ) {
    for (const idp of config.idps) this.statuses.set(idp.id, { config: idp, problem: 'not loaded yet' });
  }

  get spEntityId(): string {
    return this.config.serviceProvider.entityId ?? `${this.baseUrl}/auth/saml`;
  }

  get spCertificate(): CertificateInfo | undefined {
    const pem = this.config.serviceProvider.certificate;
    return pem ? describeCertificate(pem, this.config.certificateWarningDays) : undefined;
  }

  all(): IdpStatus[] {
    return [...this.statuses.values()];
  }

  status(id: string): IdpStatus | undefined {
    return this.statuses.get(id);
  }

  active(id: string): ActiveIdp | undefined {
    return this.statuses.get(id)?.active;
  }

  async start(): Promise<void> {
    await Promise.all(this.config.idps.map((idp) => this.load(idp)));
    this.checkServiceProviderCertificate();
    for (const idp of this.config.idps) {
      if (!idp.metadataFile && !idp.metadataUrl) continue;
      const timer = setInterval(() => void this.load(idp), idp.metadataRefreshHours * 3600 * 1000);
      timer.unref();
      this.timers.push(timer);
    }
    // An IdP whose metadata could not be loaded at all is retried sooner than the daily refresh.
    const retry = setInterval(() => {
      for (const status of this.statuses.values()) if (!status.active) void this.load(status.config);
    }, RETRY_UNAVAILABLE_MS);
    retry.unref();
    this.timers.push(retry);
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** (Re)loads one IdP's metadata and rebuilds its SAML objects. Never throws. */
  async load(idp: ResolvedIdpConfig): Promise<void> {
    const status = this.statuses.get(idp.id)!;
    try {
      let endpoints: IdpEndpoints;
      if (idp.metadataFile || idp.metadataUrl) {
        const xml = idp.metadataFile ? await fs.readFile(idp.metadataFile, 'utf8') : await fetchMetadata(idp.metadataUrl!);
        const fromMetadata = parseIdpMetadata(xml, idp.entityId);
        endpoints = {
          entityId: fromMetadata.entityId,
          ssoUrl: idp.ssoUrl ?? fromMetadata.ssoUrl,
          sloUrl: idp.sloUrl ?? fromMetadata.sloUrl,
          certificates: [...new Set([...fromMetadata.certificates, ...idp.certificates])],
        };
        status.metadataLoadedAt = new Date();
      } else {
        endpoints = { entityId: idp.entityId!, ssoUrl: idp.ssoUrl!, sloUrl: idp.sloUrl, certificates: idp.certificates };
      }
      status.active = this.build(idp, endpoints);
      status.problem = undefined;
      this.warnAboutCertificates(idp.id, status.active.certificates);
    } catch (err) {
      status.problem = (err as Error).message;
      this.logger.error(
        { idp: idp.id, err: (err as Error).message },
        status.active
          ? 'identity provider metadata could not be refreshed; keeping the previous metadata'
          : 'identity provider metadata could not be loaded; its sign-in is unavailable',
      );
    }
  }

  private warnAboutCertificates(idpId: string, certificates: CertificateInfo[]) {
    for (const cert of certificates) {
      if (cert.state === 'ok') continue;
      const valid = certificates.some((c) => c.state !== 'expired');
      this.logger.warn(
        { idp: idpId, subject: cert.subject, validTo: cert.validTo.toISOString(), daysLeft: cert.daysLeft },
        cert.state === 'expired'
          ? `an identity provider certificate has expired${valid ? '' : ' and no other is configured'}`
          : `an identity provider certificate expires in ${cert.daysLeft} days: add its successor before then`,
      );
    }
  }

  private checkServiceProviderCertificate() {
    const cert = this.spCertificate;
    if (cert && cert.state !== 'ok') {
      this.logger.warn(
        { subject: cert.subject, validTo: cert.validTo.toISOString(), daysLeft: cert.daysLeft },
        "Olive's own SAML signing certificate expires soon or has expired",
      );
    }
  }

  private build(idp: ResolvedIdpConfig, endpoints: IdpEndpoints): ActiveIdp {
    const urls = this.urlsOf(idp.id);
    const sp = this.config.serviceProvider;
    const options: PassportSamlConfig = {
      name: `saml-${idp.id}`,
      issuer: this.spEntityId,
      audience: this.spEntityId,
      callbackUrl: urls.acs,
      logoutCallbackUrl: urls.slo,
      entryPoint: endpoints.ssoUrl,
      ...(endpoints.sloUrl ? { logoutUrl: endpoints.sloUrl } : {}),
      idpIssuer: endpoints.entityId,
      // Every certificate is trusted at once: an IdP rolling its key over causes no outage.
      idpCert: endpoints.certificates,
      privateKey: sp.privateKey!,
      publicCert: sp.certificate!,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: SHA256_DIGEST,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: idp.wantResponseSigned,
      acceptedClockSkewMs: idp.clockSkewSeconds * 1000,
      // Only answers to requests we sent (no unsolicited, IdP-initiated responses), within the lifetime.
      validateInResponseTo: ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: this.config.requestLifetimeMinutes * 60 * 1000,
      cacheProvider: new MongoRequestCache(this.requests, idp.id, this.config.requestLifetimeMinutes * 60 * 1000),
      identifierFormat: idp.nameIdFormat,
      // Entra refuses a requested "password" context when people sign in with MFA or Windows Hello.
      disableRequestedAuthnContext: true,
    };
    // The verify callbacks hand the validated profile back: the route decides what it means.
    const handBack: VerifyWithoutRequest = (profile, done) => done(null, profile ?? undefined);
    const strategy = new SamlStrategy(options, handBack, handBack);
    return {
      config: idp,
      endpoints,
      certificates: endpoints.certificates.map((pem) => describeCertificate(pem, this.config.certificateWarningDays)),
      strategy,
      saml: new SAML(options),
      urls,
    };
  }

  /**
   * Olive's metadata for one IdP: entity id, assertion consumer, logout service, signing
   * certificate. It needs nothing from the IdP, so it is there even before the IdP's metadata is
   * (an IdP administrator usually asks for ours first).
   */
  serviceProviderMetadata(idp: ResolvedIdpConfig): string {
    const urls = this.urlsOf(idp.id);
    const sp = this.config.serviceProvider;
    const xml = generateServiceProviderMetadata({
      issuer: this.spEntityId,
      callbackUrl: urls.acs,
      logoutCallbackUrl: urls.slo,
      identifierFormat: idp.nameIdFormat,
      wantAssertionsSigned: true,
      privateKey: sp.privateKey!,
      publicCerts: sp.certificate!,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: SHA256_DIGEST,
    });
    // node-saml lists the logout service with the POST binding only; the redirect binding is
    // offered first (most IdPs prefer it for logout), both answered by the same route.
    return xml.replace(
      `<SingleLogoutService Binding="${POST_BINDING}"`,
      `<SingleLogoutService Binding="${REDIRECT_BINDING}" Location="${urls.slo}"/><SingleLogoutService Binding="${POST_BINDING}"`,
    );
  }

  private urlsOf(idpId: string) {
    const base = `${this.baseUrl}/auth/saml/${idpId}`;
    return { acs: `${base}/acs`, slo: `${base}/slo`, metadata: `${base}/metadata`, login: `${base}/login`, logout: `${base}/logout` };
  }
}
