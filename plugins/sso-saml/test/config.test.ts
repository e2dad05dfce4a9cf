import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { captureLogger, createTestApp, csrfFrom, signIn, type TestApp } from '../../../test/helpers/app.ts';
import { generateKeyPair, type KeyPair } from '../../../test/helpers/saml-idp.ts';
import { PRESETS } from '../config.ts';
import { attributesFrom, mapPerson } from '../services/accounts.ts';
import { parseIdpMetadata } from '../services/idp-registry.ts';
import sso from '../index.ts';

describe('sso-saml: configuration, no IdP, unavailable IdPs, attribute mapping', function () {
  this.timeout(30000);
  let dir: string;
  let sp: KeyPair;
  let idpCert: KeyPair;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-sso-config-'));
    sp = generateKeyPair(dir, 'sp');
    idpCert = generateKeyPair(dir, 'idp');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('with no identity provider (the demo start)', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ plugins: [sso], seed: true, label: 'sso_none' });
    });
    after(() => t.stop());

    it('offers nothing: no organisation on the home page or the sign-in page, no admin menu entry, and local sign-in works', async () => {
      const visitorHome = await supertest(t.app).get('/').expect(200);
      expect(visitorHome.text).to.include('Sign in with your Olive account.');
      expect(visitorHome.text).not.to.include('organisation&#39;s account');
      const login = await supertest(t.app).get('/login').expect(200);
      expect(login.text).not.to.include('With your organisation');
      const admin = await signIn(t.app, 'admin@olive.example');
      const home = await admin.get('/').expect(200);
      expect(home.text).not.to.include('/auth/saml/admin');
    });

    it("an unknown IdP gets a clear page, not an error, in the person's language", async () => {
      const res = await supertest(t.app).get('/auth/saml/unite/login').expect(404);
      expect(res.text).to.include('<code>UNKNOWN_IDP</code>').and.include('Sign-in refused');
      const fr = await supertest(t.app).get('/auth/saml/unite/login').set('Cookie', 'olive.lang=fr').expect(404);
      expect(fr.text).to.include('Connexion refusée').and.include('n&#39;est pas configurée');
    });
  });

  describe('from a JSON file (OLIVE_SAML_CONFIG), configured by entity id, URL and certificate', () => {
    let t: TestApp;
    let logs: Record<string, unknown>[];
    before(async () => {
      const file = path.join(dir, 'saml.json');
      fs.writeFileSync(
        path.join(dir, 'partner-metadata.xml'),
        `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.partner.example/idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${idpCert.certPem.replace(/-----[A-Z ]+-----|\s/g, '')}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.partner.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`,
      );
      fs.writeFileSync(
        file,
        JSON.stringify({
          serviceProvider: { privateKey: 'sp.key', certificate: 'sp.crt' }, // relative to the file
          idps: [
            {
              id: 'unite',
              label: 'UN staff (Unite ID)',
              preset: 'entra',
              entityId: 'https://sts.windows.net/tenant/',
              ssoUrl: 'https://login.microsoftonline.com/tenant/saml2',
              certificates: ['idp.crt'],
            },
            { id: 'down', label: 'Partner (unreachable)', metadataUrl: 'http://127.0.0.1:9/metadata' },
            { id: 'from-file', label: 'Partner (metadata file)', metadataFile: 'partner-metadata.xml' },
          ],
        }),
      );
      const captured = captureLogger('info');
      logs = captured.lines;
      t = await createTestApp({ plugins: [sso], pluginConfig: { 'sso-saml': { configFile: file } }, seed: true, logger: captured.logger, label: 'sso_file' });
    });
    after(() => t.stop());

    it('shows each IdP on the sign-in page next to the local form, and the home page invites visitors to use them', async () => {
      const home = await supertest(t.app).get('/').expect(200);
      expect(home.text).to.include('Sign in with your organisation&#39;s account or your Olive account.');
      const login = await supertest(t.app).get('/login?returnTo=%2Faccount').expect(200);
      expect(login.text).to.include('href="/auth/saml/unite/login?returnTo=%2Faccount"').and.include('UN staff (Unite ID)');
      expect(login.text).to.include('name="password"');
    });

    it('sends people to the IdP with a signed request (SHA-256)', async () => {
      const res = await supertest(t.app).get('/auth/saml/unite/login').expect(303);
      const url = new URL(res.headers.location!);
      expect(url.origin + url.pathname).to.equal('https://login.microsoftonline.com/tenant/saml2');
      expect(url.searchParams.get('SigAlg')).to.equal('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      expect(url.searchParams.get('Signature')).to.be.a('string');
      expect(await t.app.olive.connection.db!.collection('sso-saml_request').countDocuments({ _id: { $regex: /^unite:/ } } as never)).to.equal(1);
    });

    it('reads an IdP from a metadata file', async () => {
      const res = await supertest(t.app).get('/auth/saml/from-file/login').expect(303);
      expect(res.headers.location).to.match(/^https:\/\/idp\.partner\.example\/sso\?SAMLRequest=/);
      const metadata = await supertest(t.app).get('/auth/saml/from-file/metadata').expect(200);
      expect(metadata.text).to.include('/auth/saml/from-file/acs');
    });

    it('an IdP whose metadata cannot be loaded is unavailable, says so, and breaks nothing else', async () => {
      const res = await supertest(t.app).get('/auth/saml/down/login').expect(503);
      expect(res.text).to.include('<code>IDP_UNAVAILABLE</code>');
      // Olive's own metadata does not depend on the IdP's: an IdP administrator can still fetch it.
      const metadata = await supertest(t.app).get('/auth/saml/down/metadata').expect(200);
      expect(metadata.text).to.include('/auth/saml/down/acs');
      expect(logs.some((l) => l.idp === 'down' && /could not be loaded/.test(String(l.msg)))).to.equal(true);
      const admin = await signIn(t.app, 'admin@olive.example');
      const page = await admin.get('/auth/saml/admin').expect(200);
      expect(page.text).to.include('Unavailable:').and.include('https://sts.windows.net/tenant/');
    });

    it('the assertion consumer takes cross-site posts without a CSRF token; every other form still needs one', async () => {
      const acs = await supertest(t.app).post('/auth/saml/unite/acs').type('form').send({ SAMLResponse: 'bm90IHhtbA==' });
      expect(acs.status).to.equal(400);
      expect(acs.text).to.include('<code>MALFORMED</code>');
      const agent = supertest.agent(t.app);
      await agent.get('/login').expect(200);
      await agent.post('/login').type('form').send({ email: 'admin@olive.example', password: 'x' }).expect(403);
      const admin = await signIn(t.app, 'admin@olive.example');
      await admin.post('/auth/saml/unite/logout').type('form').send({}).expect(403);
      await admin
        .post('/auth/saml/unite/logout')
        .type('form')
        .send({ _csrf: csrfFrom((await admin.get('/').expect(200)).text) })
        .expect(303);
    });
  });

  describe('invalid configuration stops the boot with every problem named', () => {
    it('an IdP without metadata or entity id, a missing key file, a reserved id', async () => {
      let error: Error | undefined;
      try {
        await createTestApp({ plugins: [sso], pluginConfig: { 'sso-saml': { idps: [{ id: 'admin', label: 'X' }] } }, label: 'sso_bad' });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).to.include("plugin 'sso-saml' config").and.include('metadataFile or metadataUrl').and.include('reserved');
      try {
        await createTestApp({
          plugins: [sso],
          pluginConfig: {
            'sso-saml': {
              serviceProvider: { privateKey: '/nonexistent.key', certificate: sp.certFile },
              idps: [{ id: 'x', label: 'X', metadataUrl: 'https://idp.example/md' }],
            },
          },
          label: 'sso_bad',
        });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).to.include('cannot read a key or certificate').and.include('/nonexistent.key');
      try {
        await createTestApp({
          plugins: [sso],
          pluginConfig: { 'sso-saml': { idps: [{ id: 'x', label: 'X', metadataUrl: 'https://idp.example/md' }] } },
          label: 'sso_bad',
        });
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).to.include('signing key and certificate');
    });
  });

  it('runs on node-saml 5.1.0 or later and xml-crypto 6.0.1 or later (the 2025 signature-verification fixes)', () => {
    const requireFrom = (from: string) => createRequire(from);
    const passportSaml = requireFrom(import.meta.url).resolve('@node-saml/passport-saml');
    const nodeSamlPkg = requireFrom(passportSaml).resolve('@node-saml/node-saml/package.json');
    const xmlCryptoPkg = requireFrom(nodeSamlPkg).resolve('xml-crypto/package.json');
    const version = (file: string) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version.split('.').map(Number);
    const atLeast = (v: number[], min: number[]) => v[0]! > min[0]! || (v[0] === min[0] && (v[1]! > min[1]! || (v[1] === min[1] && v[2]! >= min[2]!)));
    expect(atLeast(version(nodeSamlPkg), [5, 1, 0]), `node-saml ${version(nodeSamlPkg).join('.')}`).to.equal(true);
    expect(atLeast(version(xmlCryptoPkg), [6, 0, 1]), `xml-crypto ${version(xmlCryptoPkg).join('.')}`).to.equal(true);
  });

  describe('attribute mapping', () => {
    const idp = (overrides: Record<string, unknown> = {}) =>
      ({
        id: 'unite',
        label: 'Unite',
        preset: 'entra',
        attributes: PRESETS.entra,
        roles: { 'b7e1c0de-trainers': ['trainer'] },
        defaultRoles: ['learner'],
        defaultOrganisation: 'UN Secretariat',
        ...overrides,
      }) as never;

    it("reads Microsoft Entra's namespaced claims with the preset", () => {
      const attributes = attributesFrom({
        'http://schemas.microsoft.com/identity/claims/objectidentifier': '7f0c2d8e-1111-4a4a-9b9b-0123456789ab',
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': 'Jane.Doe@UN.org',
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname': 'Jane',
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname': 'Doe',
        'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': ['b7e1c0de-trainers', 'other'],
      });
      const person = mapPerson(idp(), 'jane.doe@un.org', attributes);
      expect(person).to.deep.include({
        key: '7f0c2d8e-1111-4a4a-9b9b-0123456789ab',
        email: 'jane.doe@un.org',
        name: 'Jane Doe',
        organisation: 'UN Secretariat',
        roles: ['trainer'],
      });
    });

    it('refuses an assertion without the stable key', () => {
      expect(() => mapPerson(idp(), 'jane', attributesFrom({}))).to.throw('MISSING_KEY');
    });

    it('reads IdP metadata with several signing certificates (a rollover announced in metadata)', () => {
      const body = (pem: string) => pem.replace(/-----[A-Z ]+-----|\s/g, '');
      const xml = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sts.windows.net/tenant/">
        <RoleDescriptor/><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body(idpCert.certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
        <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body(sp.certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
        <KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
        <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/tenant/saml2"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://post.example/"/>
        <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/tenant/saml2"/>
        </IDPSSODescriptor></EntityDescriptor>`;
      const parsed = parseIdpMetadata(xml);
      expect(parsed.entityId).to.equal('https://sts.windows.net/tenant/');
      expect(parsed.ssoUrl).to.equal('https://login.microsoftonline.com/tenant/saml2');
      expect(parsed.certificates).to.have.length(2);
      expect(parsed.certificates[0]!.replace(/\s/g, '')).to.equal(idpCert.certPem.replace(/\s/g, ''));
    });
  });
});
