import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ROLES } from '../../src/index.ts';

/**
 * Where an attribute comes from: one SAML attribute name, or several tried in order (the first
 * present wins). `nameID` means the assertion's NameID.
 */
const attributeSource = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
export type AttributeSource = z.infer<typeof attributeSource>;

/** Which assertion attributes Olive reads, per identity provider. Unset fields come from the preset. */
export const attributeMappingSchema = z
  .object({
    /** The person's stable key at this IdP: `nameID` (default) or an attribute such as a staff index number. */
    key: attributeSource.optional(),
    email: attributeSource.optional(),
    givenName: attributeSource.optional(),
    familyName: attributeSource.optional(),
    displayName: attributeSource.optional(),
    organisation: attributeSource.optional(),
    /** Groups or roles; their values are looked up in the IdP's `roles` map. */
    groups: attributeSource.optional(),
  })
  .strict();
export type AttributeMapping = Required<z.infer<typeof attributeMappingSchema>>;

const NAMEID = 'nameID';

/**
 * Ready-made mappings. `entra` reads Microsoft Entra ID's namespaced claim names (UN Unite ID
 * runs on Entra): the object id is its immutable per-tenant user key, where the default NameID
 * (the UPN) changes when a person's name does.
 */
export const PRESETS: Record<'generic' | 'entra', AttributeMapping> = {
  generic: {
    key: NAMEID,
    email: ['email', 'mail', 'urn:oid:0.9.2342.19200300.100.1.3'],
    givenName: ['givenName', 'urn:oid:2.5.4.42'],
    familyName: ['sn', 'surname', 'urn:oid:2.5.4.4'],
    displayName: ['displayName', 'cn', 'urn:oid:2.16.840.1.113730.3.1.241'],
    organisation: ['o', 'organization', 'urn:oid:2.5.4.10'],
    groups: ['groups', 'memberOf', 'eduPersonAffiliation', 'urn:oid:1.3.6.1.4.1.5923.1.1.1.1'],
  },
  entra: {
    key: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
    email: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
    givenName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
    familyName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
    displayName: 'http://schemas.microsoft.com/identity/claims/displayname',
    organisation: ['http://schemas.microsoft.com/identity/claims/companyname', 'companyName'],
    groups: ['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  },
};

const RESERVED_IDS = new Set(['admin']);

/** One identity provider. Give its metadata (file or URL), or its entity id, sign-on URL and certificates. */
export const idpSchema = z
  .object({
    /** Lower-case id used in URLs: `/auth/saml/<id>/…`. */
    id: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, 'use 1-40 lower-case letters, digits and dashes')
      .refine((id) => !RESERVED_IDS.has(id), 'this id is reserved'),
    /** The sign-in button: "UN staff (Unite ID)". */
    label: z.string().trim().min(1).max(80),
    /** The IdP's SAML metadata XML in a file: entity id, endpoints and certificates are read from it. */
    metadataFile: z.string().optional(),
    /** The same, fetched over HTTPS (plain HTTP only for a local test IdP) and refreshed. */
    metadataUrl: z.url().optional(),
    metadataRefreshHours: z
      .number()
      .min(0.1)
      .max(24 * 30)
      .default(24),
    /** Without metadata: the IdP's entity id (the assertions' Issuer). */
    entityId: z.string().min(1).optional(),
    /** Without metadata: the single sign-on URL (HTTP-Redirect binding). */
    ssoUrl: z.url().optional(),
    /** Without metadata: the single logout URL (HTTP-Redirect binding); without it, sign-out is local only. */
    sloUrl: z.url().optional(),
    /**
     * Signing certificates, PEM text or paths to PEM files; added to those in the metadata. Several
     * at once are all trusted, so an IdP's certificate rollover causes no outage.
     */
    certificates: z.array(z.string().min(1)).default([]),
    preset: z.enum(['generic', 'entra']).default('generic'),
    /** Overrides of the preset's attribute names. */
    attributes: attributeMappingSchema.default({}),
    /** Group (or role claim) values to Olive roles: `{ "olive-trainers": ["trainer"] }`. */
    roles: z.record(z.string(), z.array(z.enum(ROLES))).default({}),
    /** Roles of a new account when no group maps to one. */
    defaultRoles: z.array(z.enum(ROLES)).min(1).default(['learner']),
    /** Organisation recorded when the IdP sends none ("UN Secretariat"). */
    defaultOrganisation: z.string().max(200).optional(),
    /** Create an account at first sign-in (just in time). */
    createAccounts: z.boolean().default(true),
    /** Only for these e-mail domains (empty: any). */
    allowedEmailDomains: z.array(z.string().trim().toLowerCase().min(1)).default([]),
    /**
     * The IdP vouches for its e-mail addresses (e.g. an organisation's own directory): a first
     * sign-in may then be linked to an existing account with that address. Never for an IdP where
     * people type their own address.
     */
    emailsVerified: z.boolean().default(false),
    /** The whole Response must be signed too (the assertion always must be). Turn off only for IdPs that cannot. */
    wantResponseSigned: z.boolean().default(true),
    /** Accepted clock difference with the IdP. Keep it small. */
    clockSkewSeconds: z.number().int().min(0).max(300).default(60),
    /** NameID format asked for. */
    nameIdFormat: z.string().default('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'),
  })
  .strict()
  .refine((idp) => !!(idp.metadataFile || idp.metadataUrl || (idp.entityId && idp.ssoUrl && idp.certificates.length)), {
    message: 'give metadataFile or metadataUrl, or entityId, ssoUrl and certificates',
  });
export type IdpConfig = z.output<typeof idpSchema>;

const serviceProviderSchema = z
  .object({
    /** Olive's entity id at the IdPs; default `<BASE_URL>/auth/saml`. */
    entityId: z.string().min(1).optional(),
    /** Olive's signing key (PEM text or a file path): signs requests and single-logout messages. */
    privateKey: z.string().min(1).optional(),
    /** Its certificate (PEM text or a file path), published in Olive's metadata. */
    certificate: z.string().min(1).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    serviceProvider: serviceProviderSchema.optional(),
    idps: z.array(idpSchema).default([]),
  })
  .strict();

const PEM = /^-----BEGIN /;

/** PEM text as given, or read from a file (relative paths from `baseDir`). */
function readPem(value: string, baseDir: string): string {
  if (PEM.test(value.trim())) return value.trim();
  return fs.readFileSync(path.resolve(baseDir, value), 'utf8').trim();
}

/**
 * The plugin's settings. Identity providers come from `idps` and from the JSON file `configFile`
 * (same shape: `{ serviceProvider?, idps }`), so that a deployment or the SSO demo can add them
 * without changing code: olive.config.ts passes `configFile: process.env.OLIVE_SAML_CONFIG`.
 * Key and certificate files are read here, so a missing file stops the boot with a clear message.
 */
export const ssoConfigSchema = z
  .object({
    serviceProvider: serviceProviderSchema.default({}),
    idps: z.array(idpSchema).default([]),
    configFile: z.string().optional(),
    /** Warn in the log and the admin page this many days before a configured certificate expires. */
    certificateWarningDays: z.number().int().min(1).max(365).default(30),
    /** How long a sign-in request may wait for its answer from the IdP. */
    requestLifetimeMinutes: z.number().int().min(1).max(60).default(10),
  })
  .strict()
  .transform((config, ctx) => {
    let idps = config.idps;
    let sp = config.serviceProvider;
    let baseDir = process.cwd();
    if (config.configFile) {
      let raw: unknown;
      try {
        raw = JSON.parse(fs.readFileSync(config.configFile, 'utf8'));
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['configFile'], message: `cannot read ${config.configFile}: ${(err as Error).message}` });
        return z.NEVER;
      }
      const parsed = fileSchema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          ctx.addIssue({ ...issue, code: 'custom', path: ['configFile', ...issue.path], message: `${config.configFile}: ${issue.message}` } as never);
        return z.NEVER;
      }
      idps = [...idps, ...parsed.data.idps];
      sp = { ...parsed.data.serviceProvider, ...stripUndefined(sp) };
      baseDir = path.dirname(path.resolve(config.configFile));
    }
    const seen = new Set<string>();
    for (const idp of idps) {
      if (seen.has(idp.id)) ctx.addIssue({ code: 'custom', path: ['idps'], message: `identity provider id '${idp.id}' is used twice` });
      seen.add(idp.id);
    }
    let privateKey: string | undefined;
    let certificate: string | undefined;
    const certificatesByIdp = new Map<string, string[]>();
    try {
      privateKey = sp.privateKey ? readPem(sp.privateKey, baseDir) : undefined;
      certificate = sp.certificate ? readPem(sp.certificate, baseDir) : undefined;
      for (const idp of idps)
        certificatesByIdp.set(
          idp.id,
          idp.certificates.map((c) => readPem(c, baseDir)),
        );
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['serviceProvider'], message: `cannot read a key or certificate: ${(err as Error).message}` });
      return z.NEVER;
    }
    if (idps.length && (!privateKey || !certificate)) {
      ctx.addIssue({
        code: 'custom',
        path: ['serviceProvider'],
        message: "identity providers need Olive's signing key and certificate (serviceProvider.privateKey and .certificate)",
      });
      return z.NEVER;
    }
    return {
      certificateWarningDays: config.certificateWarningDays,
      requestLifetimeMinutes: config.requestLifetimeMinutes,
      serviceProvider: { entityId: sp.entityId, privateKey, certificate },
      idps: idps.map((idp) => ({
        ...idp,
        metadataFile: idp.metadataFile && path.resolve(baseDir, idp.metadataFile),
        certificates: certificatesByIdp.get(idp.id) ?? [],
        attributes: { ...PRESETS[idp.preset], ...stripUndefined(idp.attributes) } as AttributeMapping,
      })),
    };
  });
export type SsoConfig = z.output<typeof ssoConfigSchema>;
export type ResolvedIdpConfig = SsoConfig['idps'][number];

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
