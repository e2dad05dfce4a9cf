/**
 * Attacks on SAML sign-in against a real identity provider: forged, replayed, wrapped and misdirected
 * messages, certificate rollover, single logout. Over 400 lines: each attack needs the same signed
 * setting, built once here.
 */
import zlib from 'node:zlib';
import { expect } from 'chai';
import supertest from 'supertest';
import type { Response } from 'supertest';
import { generateKeyPair, type KeyPair } from '../../../test/helpers/saml-idp.ts';
import { signIn } from '../../../test/helpers/app.ts';
import {
  decode,
  DS,
  edit,
  encode,
  first,
  logoutRequestPost,
  logoutRequestQuery,
  parseXml,
  resign,
  RSA_SHA1,
  SAML,
  SAMLP,
  setAttributeValue,
  setValidity,
  stripSignatures,
} from './tamper.ts';
import { bindingOf } from '../services/browser-binding.ts';
import { bindingCookieOf, ROLE_MAP, useSamlEnvironment } from './setup.ts';

/**
 * The attacks SAML service providers are known to suffer, each built from a real response of the
 * IdP (SimpleSAMLphp): each must be refused with a clear page and a logged reason, leaving no
 * signed-in session and no account behind.
 */
describe('sso-saml: attacks on the assertion consumer and single logout are refused', function () {
  this.timeout(30000);
  /** The IdP's retiring key during the rollover (the current one is the IdP's own). */
  let retiring: KeyPair;
  const env = useSamlEnvironment({
    label: 'sso_attacks',
    idps: (idp, dir) => {
      const base = { metadataUrl: idp.metadataUrl, attributes: { key: 'staffIndex' }, roles: ROLE_MAP, clockSkewSeconds: 5 };
      retiring = generateKeyPair(dir, 'retiring', { days: 10, commonName: 'Retiring IdP key' });
      return [
        { ...base, id: 'ssp-lenient', label: 'Lenient', wantResponseSigned: false },
        { ...base, id: 'ssp-verified', label: 'Verified e-mails', emailsVerified: true },
        { ...base, id: 'ssp-restricted', label: 'Restricted domains', allowedEmailDomains: ['un.example'] },
        // Configured by hand, during a key rollover: the retiring certificate and the current one.
        {
          id: 'ssp-rollover',
          label: 'Rollover',
          entityId: idp.entityId,
          ssoUrl: `${idp.url}/saml2/idp/SSOService.php`,
          certificates: [retiring.certPem, idp.keys.certPem],
          attributes: { key: 'staffIndex' },
        },
      ];
    },
  });

  const db = () => env.app.olive.connection.db!;
  const signedInSessions = () =>
    db()
      .collection('host_sessions')
      .countDocuments({ 'session.passport.user': { $exists: true } });
  const accountCount = () => db().collection('host_users').countDocuments({});
  /** Posts as the IdP's page does, from the tests' browser (its sign-in cookie) unless `cookie` says otherwise. */
  const post = (SAMLResponse: string, idp = 'ssp', RelayState = '/', agent = supertest.agent(env.app), cookie = env.browser) => {
    const request = agent.post(`/auth/saml/${idp}/acs`);
    if (cookie) request.set('Cookie', cookie);
    return request.type('form').send({ SAMLResponse, RelayState });
  };

  /** Runs the attempt and checks the refusal: status, page, log line, and nothing created. */
  async function expectRefused(attempt: () => Promise<Response>, status: number, reason: string) {
    const sessionsBefore = await signedInSessions();
    const accountsBefore = await accountCount();
    const logsBefore = env.logs.length;
    const res = await attempt();
    expect(res.status, `${reason}: ${res.text.slice(0, 300)}`).to.equal(status);
    expect(/<code>([A-Z_]+)<\/code>/.exec(res.text)?.[1], 'the reason on the page').to.equal(reason);
    expect(res.text).to.include('Sign-in refused');
    const logged = env.logs.slice(logsBefore).find((l) => l.reason === reason);
    expect(logged, `a log line with reason ${reason}`).to.include({ level: 40 });
    expect(String(logged!.detail)).to.have.length.above(5);
    expect(await signedInSessions(), 'no signed-in session').to.equal(sessionsBefore);
    expect(await accountCount(), 'no account').to.equal(accountsBefore);
    return res;
  }

  /** The InResponseTo of a response, allowed for another Olive-side IdP id as if it had sent the request from the tests' browser. */
  async function allowRequestFor(idp: string, xml: string) {
    const inResponseTo = /InResponseTo="([^"]+)"/.exec(xml)![1]!;
    const binding = bindingOf(env.browser!.split('=')[1]!);
    await db()
      .collection('sso-saml_request')
      .updateOne(
        { _id: `${idp}:${inResponseTo}` as never },
        { $set: { value: new Date().toISOString(), expiresAt: new Date(Date.now() + 600000), binding } },
        { upsert: true },
      );
  }

  /**
   * A response valid in every respect for the given Olive-side IdP (re-addressed, re-signed with
   * the IdP's own key), except for what `change` does.
   */
  async function forge(
    captured: { SAMLResponse: string },
    options: {
      idp?: string;
      change?: (doc: Document) => void;
      response?: boolean;
      algorithm?: 'sha1' | 'sha256';
      key?: { keyPem: string; certPem: string };
    } = {},
  ) {
    const idp = options.idp ?? 'ssp';
    const acs = `${env.baseUrl}/auth/saml/${idp}/acs`;
    let xml = edit(decode(captured.SAMLResponse), (doc) => {
      doc.documentElement!.setAttribute('Destination', acs);
      first(doc, SAML, 'SubjectConfirmationData').setAttribute('Recipient', acs);
      options.change?.(doc);
    });
    xml = resign(xml, options.key ?? env.idp.keys, { response: options.response ?? true, algorithm: options.algorithm ?? 'sha256' });
    if (idp !== 'ssp') await allowRequestFor(idp, xml);
    return encode(xml);
  }

  describe('what a valid response must be', () => {
    it('baseline: a response re-signed by the IdP key for another Olive-side IdP is accepted (the forging tools work)', async () => {
      const captured = await env.capture('pierre');
      const res = await post(await forge(captured, { idp: 'ssp-lenient', response: false }), 'ssp-lenient');
      expect(res.status, res.text.slice(0, 300)).to.equal(303);
    });

    it('a replayed response is refused, also when its request is still known (two instances racing)', async () => {
      const captured = await env.capture('amina');
      await post(captured.SAMLResponse).expect(303);
      await expectRefused(() => post(captured.SAMLResponse), 401, 'UNKNOWN_REQUEST');
      // The request id reappears (as if a second instance had not yet removed it): the consumed
      // assertion id still refuses it.
      await allowRequestFor('ssp', decode(captured.SAMLResponse));
      await expectRefused(() => post(captured.SAMLResponse), 401, 'REPLAYED');
    });

    it('the same response posted twice at once signs in exactly once', async () => {
      // A person Olive knows, then one new to it (the answer that gets through creates the account).
      await post((await env.capture('amina')).SAMLResponse).expect(303);
      for (const [captured, newAccounts] of [
        [(await env.capture('amina')).SAMLResponse, 0],
        [await forge(await env.capture('amina'), { change: newcomer('posted-twice') }), 1],
      ] as const) {
        const sessionsBefore = await signedInSessions();
        const accountsBefore = await accountCount();
        const results = await Promise.all([post(captured), post(captured)]);
        expect(results.map((r) => r.status).sort()).to.deep.equal([303, 401]);
        expect(await signedInSessions(), 'one signed-in session').to.equal(sessionsBefore + 1);
        expect(await accountCount(), `${newAccounts} new account`).to.equal(accountsBefore + newAccounts);
      }
      expect(await db().collection('host_users').countDocuments({ email: 'posted-twice@un.example' })).to.equal(1);
    });

    it('an answer to a request older than its lifetime is refused', async () => {
      const captured = await env.capture('amina');
      const inResponseTo = /InResponseTo="([^"]+)"/.exec(decode(captured.SAMLResponse))![1]!;
      // Expired, not yet cleaned up (FerretDB has no TTL index): the expiry is checked on read.
      await db()
        .collection('sso-saml_request')
        .updateOne({ _id: `ssp:${inResponseTo}` as never }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      await expectRefused(() => post(captured.SAMLResponse), 401, 'UNKNOWN_REQUEST');
    });

    it('an unsolicited response (no InResponseTo we sent) is refused', async () => {
      const captured = await env.capture('amina');
      const unsolicited = await forge(captured, {
        change: (doc) => {
          doc.documentElement!.removeAttribute('InResponseTo');
          first(doc, SAML, 'SubjectConfirmationData').removeAttribute('InResponseTo');
        },
      });
      await expectRefused(() => post(unsolicited), 401, 'UNKNOWN_REQUEST');
    });

    it('a tampered attribute is refused (the signature no longer matches)', async () => {
      const captured = await env.capture('amina');
      const tampered = encode(edit(decode(captured.SAMLResponse), (doc) => setAttributeValue(doc, 'groups', 'unitar-staff')));
      await expectRefused(() => post(tampered), 401, 'INVALID_SIGNATURE');
    });

    it("stripped signatures are refused: all, the response's (response signatures required), the assertion's", async () => {
      const captured = await env.capture('amina');
      const xml = decode(captured.SAMLResponse);
      // A refused answer also burns its request id (node-saml removes it): each attempt gets it back.
      for (const which of ['all', 'response', 'assertion'] as const) {
        await allowRequestFor('ssp', xml);
        await expectRefused(() => post(encode(stripSignatures(xml, which))), 401, 'INVALID_SIGNATURE');
      }
      // Even where response signatures are not required, the assertion's always is.
      await allowRequestFor('ssp-lenient', xml);
      const acs = `${env.baseUrl}/auth/saml/ssp-lenient/acs`;
      const unsigned = edit(stripSignatures(xml), (doc) => {
        doc.documentElement!.setAttribute('Destination', acs);
        first(doc, SAML, 'SubjectConfirmationData').setAttribute('Recipient', acs);
      });
      await expectRefused(() => post(encode(unsigned), 'ssp-lenient'), 401, 'INVALID_SIGNATURE');
    });

    it('a response signed by an untrusted key is refused', async () => {
      const attacker = generateKeyPair(env.dir, 'attacker', { commonName: 'Olive test IdP' });
      const captured = await env.capture('amina');
      await expectRefused(
        async () => post(await forge(captured, { key: attacker, change: (doc) => setAttributeValue(doc, 'groups', 'unitar-staff') })),
        401,
        'INVALID_SIGNATURE',
      );
    });

    it('SHA-1 signatures are refused', async () => {
      const captured = await env.capture('amina');
      await expectRefused(async () => post(await forge(captured, { algorithm: 'sha1' })), 401, 'WEAK_ALGORITHM');
    });

    it('a wrong Destination or Recipient is refused, even properly signed', async () => {
      const elsewhere = 'https://other-service.example/saml/acs';
      let captured = await env.capture('amina');
      await expectRefused(
        async () => post(await forge(captured, { change: (doc) => doc.documentElement!.setAttribute('Destination', elsewhere) })),
        401,
        'WRONG_DESTINATION',
      );
      captured = await env.capture('amina');
      await expectRefused(
        async () => post(await forge(captured, { change: (doc) => first(doc, SAML, 'SubjectConfirmationData').setAttribute('Recipient', elsewhere) })),
        401,
        'WRONG_DESTINATION',
      );
    });

    it('a wrong audience or issuer is refused, even properly signed', async () => {
      let captured = await env.capture('amina');
      await expectRefused(
        async () =>
          post(
            await forge(captured, {
              change: (doc) => {
                first(doc, SAML, 'Audience').textContent = 'https://other-service.example';
              },
            }),
          ),
        401,
        'WRONG_AUDIENCE',
      );
      captured = await env.capture('amina');
      await expectRefused(
        async () =>
          post(
            await forge(captured, {
              change: (doc) => {
                for (const issuer of Array.from(doc.getElementsByTagNameNS(SAML, 'Issuer'))) issuer.textContent = 'https://another-idp.example';
              },
            }),
          ),
        401,
        'WRONG_ISSUER',
      );
    });

    it('expired and not-yet-valid assertions are refused (5 s of clock skew allowed)', async () => {
      let captured = await env.capture('amina');
      await expectRefused(async () => post(await forge(captured, { change: (doc) => setValidity(doc, -600_000, -10_000) })), 401, 'OUTSIDE_VALIDITY');
      captured = await env.capture('amina');
      await expectRefused(async () => post(await forge(captured, { change: (doc) => setValidity(doc, 10_000, 600_000) })), 401, 'OUTSIDE_VALIDITY');
      // Within the skew, a response is fine.
      captured = await env.capture('amina');
      await post(await forge(captured, { change: (doc) => setValidity(doc, 2_000, 600_000) })).expect(303);
    });
  });

  describe('what the Response says of itself', () => {
    /** The Response's own Issuer, not the assertion's. */
    const responseIssuer = (doc: Document) =>
      Array.from(doc.documentElement!.childNodes).find((n): n is Element => n.nodeType === 1 && (n as Element).localName === 'Issuer')!;

    it("the Response's own Issuer, when present, must name the IdP (not only the assertion's)", async () => {
      let captured = await env.capture('amina');
      await expectRefused(
        async () =>
          post(
            await forge(captured, {
              change: (doc) => {
                responseIssuer(doc).textContent = 'https://another-idp.example';
              },
            }),
          ),
        401,
        'WRONG_ISSUER',
      );
      expect(
        first(parseXml(decode(captured.SAMLResponse)), SAML, 'Assertion').getElementsByTagNameNS(SAML, 'Issuer')[0]!.textContent,
        "the assertion's issuer was right",
      ).to.equal(env.idp.entityId);
      // SAML makes it optional: a Response without one is judged by its assertion's.
      captured = await env.capture('pierre');
      const withoutIssuer = await forge(captured, {
        idp: 'ssp-lenient',
        response: false,
        change: (doc) => {
          doc.documentElement!.removeChild(responseIssuer(doc));
          newcomer('no-response-issuer')(doc);
        },
      });
      await post(withoutIssuer, 'ssp-lenient').expect(303);
    });

    it('a signed Response without a Destination is refused; an unsigned one (its assertion signed) may omit it', async () => {
      let captured = await env.capture('amina');
      await expectRefused(
        async () => post(await forge(captured, { change: (doc) => doc.documentElement!.removeAttribute('Destination') })),
        401,
        'WRONG_DESTINATION',
      );
      captured = await env.capture('amina');
      const unsigned = await forge(captured, {
        idp: 'ssp-lenient',
        response: false,
        change: (doc) => {
          doc.documentElement!.removeAttribute('Destination');
          newcomer('no-destination')(doc);
        },
      });
      expect(decode(unsigned)).to.not.match(/<samlp:Response[^>]*Destination=/);
      await post(unsigned, 'ssp-lenient').expect(303);
    });
  });

  describe('an answer is accepted only in the browser that started the sign-in (login CSRF)', () => {
    it('an answer obtained in one browser signs in no other, whatever sign-in cookie that one has', async () => {
      const victims = await env.capture('amina');
      // The attacker starts a sign-in in their own browser, signs in at the IdP as themself and
      // keeps the answer, to have it posted from the victim's browser (a form on any site does it).
      const attackers = await env.capture('mallory', { fromAnotherBrowser: true });
      expect(attackers.cookie).to.not.equal(victims.cookie);
      await expectRefused(() => post(attackers.SAMLResponse, 'ssp', '/', supertest.agent(env.app), ''), 401, 'OTHER_BROWSER');
      await expectRefused(() => post(attackers.SAMLResponse, 'ssp', '/', supertest.agent(env.app), victims.cookie), 401, 'OTHER_BROWSER');
      await expectRefused(() => post(attackers.SAMLResponse, 'ssp', '/', supertest.agent(env.app), `olive.saml=${'A'.repeat(43)}`), 401, 'OTHER_BROWSER');
      // Nothing else was wrong with either answer: each signs in its own browser.
      await post(attackers.SAMLResponse, 'ssp', '/', supertest.agent(env.app), attackers.cookie).expect(303);
      await post(victims.SAMLResponse, 'ssp', '/', supertest.agent(env.app), victims.cookie).expect(303);
    });

    it("the refusal says so in the reader's language", async () => {
      const captured = await env.capture('amina');
      const res = await post(captured.SAMLResponse, 'ssp', '/', supertest.agent(env.app), 'olive.lang=fr').expect(401);
      expect(res.text).to.include('Connexion refusée').and.include('<code>OTHER_BROWSER</code>').and.include('commencée dans un autre navigateur');
      const en = await post(captured.SAMLResponse, 'ssp', '/', supertest.agent(env.app), '').expect(401);
      expect(en.text).to.include('started in another browser');
    });

    it('the signed assertion must answer the request whose browser was checked, even where the Response is unsigned', async () => {
      const captured = await env.capture('amina');
      const detached = await forge(captured, {
        idp: 'ssp-lenient',
        response: false,
        change: (doc) => first(doc, SAML, 'SubjectConfirmationData').removeAttribute('InResponseTo'),
      });
      await expectRefused(() => post(detached, 'ssp-lenient'), 401, 'UNKNOWN_REQUEST');
    });

    it('the sign-in cookie: random, httpOnly, as long-lived as the request, its hash stored with the request; behind TLS __Host-, Secure, SameSite=None', async () => {
      const start = () => supertest(env.app).get('/auth/saml/ssp/login');
      const firstStart = await start().expect(303);
      const cookieLine = ([] as string[]).concat(firstStart.headers['set-cookie'] ?? []).find((c) => c.startsWith('olive.saml='))!;
      // Over plain http no SameSite attribute: an explicit Lax would never come with the IdP's cross-site POST (docs/sso.md).
      expect(cookieLine).to.match(/^olive\.saml=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Expires=[^;]+; HttpOnly$/);
      const cookie = bindingCookieOf(firstStart)!;
      expect(bindingCookieOf(await start().expect(303)), 'another browser, another cookie').to.not.equal(cookie);
      const again = await start().set('Cookie', cookie).expect(303);
      expect(bindingCookieOf(again), 'a second sign-in in the same browser keeps it (two tabs)').to.equal(cookie);
      const authnRequest = zlib.inflateRawSync(Buffer.from(new URL(again.headers.location!).searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
      const requestId = /ID="([^"]+)"/.exec(authnRequest)![1]!;
      const stored = await db()
        .collection('sso-saml_request')
        .findOne({ _id: `ssp:${requestId}` as never });
      expect(stored!.binding).to.equal(bindingOf(cookie.split('=')[1]!));
      expect(JSON.stringify(stored)).to.not.include(cookie.split('=')[1]!);

      const behindTls = await env.secondInstance({ BASE_URL: 'https://olive.example' });
      try {
        const res = await supertest(behindTls).get('/auth/saml/ssp/login').expect(303);
        const line = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.includes('olive.saml='))!;
        expect(line).to.match(/^__Host-olive\.saml=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=None$/);
      } finally {
        await behindTls.olive.stop();
      }
    });
  });

  describe('XML signature wrapping', () => {
    /** The captured response, re-addressed to the lenient IdP (assertion signature only). */
    async function lenientXml() {
      const captured = await env.capture('mallory');
      const acs = `${env.baseUrl}/auth/saml/ssp-lenient/acs`;
      const xml = resign(
        edit(decode(captured.SAMLResponse), (doc) => {
          doc.documentElement!.setAttribute('Destination', acs);
          first(doc, SAML, 'SubjectConfirmationData').setAttribute('Recipient', acs);
        }),
        env.idp.keys,
        { response: false },
      );
      await allowRequestFor('ssp-lenient', xml);
      return xml;
    }
    /** An unsigned copy of the assertion saying the attacker is Amina (staff). */
    function evilCopy(doc: Document, id: string): Element {
      const evil = first(doc, SAML, 'Assertion').cloneNode(true) as Element;
      evil.setAttribute('ID', id);
      const signature = evil.getElementsByTagNameNS(DS, 'Signature')[0];
      if (signature) evil.removeChild(signature);
      for (const attr of Array.from(evil.getElementsByTagNameNS(SAML, 'Attribute'))) {
        if (attr.getAttribute('Name') === 'staffIndex') first(attr, SAML, 'AttributeValue').textContent = 'S1023456';
        if (attr.getAttribute('Name') === 'email') first(attr, SAML, 'AttributeValue').textContent = 'amina.diallo@un.example';
      }
      return evil;
    }

    it('a second, unsigned assertion before or after the signed one is refused', async () => {
      for (const where of ['before', 'after'] as const) {
        const xml = edit(await lenientXml(), (doc) => {
          const signed = first(doc, SAML, 'Assertion');
          const evil = evilCopy(doc, '_evil');
          doc.documentElement!.insertBefore(evil, where === 'before' ? signed : signed.nextSibling);
        });
        await expectRefused(() => post(encode(xml), 'ssp-lenient'), 401, 'INVALID_SIGNATURE');
      }
    });

    it("the signed assertion moved into Extensions (or a Signature's Object), an unsigned one in its place, is refused", async () => {
      for (const hideIn of ['Extensions', 'Object'] as const) {
        for (const sameId of [false, true]) {
          const xml = edit(await lenientXml(), (doc) => {
            const signed = first(doc, SAML, 'Assertion');
            const evil = evilCopy(doc, sameId ? signed.getAttribute('ID')! : '_evil');
            doc.documentElement!.replaceChild(evil, signed);
            if (hideIn === 'Extensions') {
              const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
              extensions.appendChild(signed);
              doc.documentElement!.insertBefore(extensions, first(doc, SAMLP, 'Status'));
            } else {
              // The evil assertion carries the original signature, the original inside its Object.
              const signature = signed.getElementsByTagNameNS(DS, 'Signature')[0]!.cloneNode(true) as Element;
              const object = doc.createElementNS(DS, 'ds:Object');
              object.appendChild(signed);
              signature.appendChild(object);
              evil.insertBefore(signature, evil.firstChild!.nextSibling);
            }
          });
          await expectRefused(() => post(encode(xml), 'ssp-lenient'), 401, 'INVALID_SIGNATURE');
        }
      }
    });

    it('a comment inside the identifier does not truncate it: the signature still holds, and the person is who the IdP said', async () => {
      // Mallory's staff index is "S1023456.evil"; with a comment after "S1023456", a parser reading
      // only the first text node would take her for Amina (S1023456).
      const captured = await env.capture('mallory');
      const xml = decode(captured.SAMLResponse)
        .replace('>S1023456.evil<', '>S1023456<!---->.evil<')
        .replace('>amina.diallo.evil<', '>amina.diallo<!---->.evil<');
      expect(xml).to.include('S1023456<!---->.evil');
      const agent = supertest.agent(env.app);
      const res = await post(encode(xml), 'ssp', '/', agent);
      expect(res.status, res.text.slice(0, 300)).to.equal(303);
      const home = await agent.get('/').expect(200);
      expect(home.text).to.include('Mallory Example').and.not.include('Amina Diallo');
      const identity = await db()
        .collection('sso-saml_identity')
        .findOne({ _id: 'ssp:S1023456.evil' as never });
      expect(identity).to.include({ nameID: 'amina.diallo.evil' });
    });
  });

  /** Makes the captured person someone Olive has not seen yet. */
  const newcomer =
    (tag: string, domain = 'un.example') =>
    (doc: Document) => {
      setAttributeValue(doc, 'staffIndex', `N-${tag}`);
      setAttributeValue(doc, 'email', `${tag}@${domain}`);
    };

  describe('accounts', () => {
    it('never links on an e-mail address the IdP does not vouch for, and never makes a duplicate', async () => {
      const captured = await env.capture('learner');
      await expectRefused(() => post(captured.SAMLResponse), 403, 'EMAIL_TAKEN');
      expect(await db().collection('host_users').countDocuments({ email: 'learner@olive.example' })).to.equal(1);
    });

    it("links to the existing account when the IdP's e-mails are verified", async () => {
      const local = await db().collection('host_users').findOne({ email: 'learner@olive.example' });
      const captured = await env.capture('learner');
      const agent = supertest.agent(env.app);
      await post(await forge(captured, { idp: 'ssp-verified' }), 'ssp-verified', '/', agent).expect(303);
      const identity = await db()
        .collection('sso-saml_identity')
        .findOne({ _id: 'ssp-verified:P0000001' as never });
      expect(identity).to.include({ userId: String(local!._id), linkedBy: 'email' });
      expect(await db().collection('host_users').countDocuments({ email: 'learner@olive.example' })).to.equal(1);
    });

    it('creates accounts only for allowed e-mail domains where the IdP is so configured', async () => {
      let captured = await env.capture('mallory');
      await expectRefused(
        async () => post(await forge(captured, { idp: 'ssp-restricted', change: newcomer('outsider', 'partner.example') }), 'ssp-restricted'),
        403,
        'DOMAIN_NOT_ALLOWED',
      );
      captured = await env.capture('mallory');
      await post(await forge(captured, { idp: 'ssp-restricted', change: newcomer('insider') }), 'ssp-restricted').expect(303);
      expect(await db().collection('host_users').countDocuments({ email: 'insider@un.example' })).to.equal(1);
    });

    it('a disabled account cannot sign in', async () => {
      const captured = await env.capture('pierre');
      await post(await forge(captured, { change: newcomer('soon-disabled') })).expect(303);
      await db()
        .collection('host_users')
        .updateOne({ email: 'soon-disabled@un.example' }, { $set: { disabled: true } });
      try {
        const again = await env.capture('pierre');
        await expectRefused(async () => post(await forge(again, { change: newcomer('soon-disabled') })), 403, 'ACCOUNT_UNAVAILABLE');
      } finally {
        await db()
          .collection('host_users')
          .updateOne({ email: 'soon-disabled@un.example' }, { $set: { disabled: false } });
      }
    });

    it('during a certificate rollover both certificates are trusted, and the admin page warns of the expiring one', async () => {
      const signedWith = async (key: KeyPair, tag: string) => {
        const agent = supertest.agent(env.app);
        const res = await post(await forge(await env.capture('pierre'), { idp: 'ssp-rollover', key, change: newcomer(tag) }), 'ssp-rollover', '/', agent);
        expect(res.status, `signed with the ${tag} key: ${res.text.slice(0, 300)}`).to.equal(303);
        expect((await agent.get('/account').expect(200)).text).to.contain(`${tag}@un.example`);
      };
      await signedWith(env.idp.keys, 'rollover-current');
      await signedWith(retiring, 'rollover-retiring');
      // Trust stops at the two: the plain IdP (its metadata names the current key only) refuses the retiring one.
      await expectRefused(
        async () => post(await forge(await env.capture('pierre'), { key: retiring, change: newcomer('retiring-elsewhere') })),
        401,
        'INVALID_SIGNATURE',
      );
      expect(env.logs.some((l) => l.idp === 'ssp-rollover' && /expires in \d+ days/.test(String(l.msg)))).to.equal(true);
      const admin = await signIn(env.app, 'admin@olive.example');
      const page = await admin.get('/auth/saml/admin').expect(200);
      expect(page.text).to.match(/Retiring IdP key[\s\S]*?Expires in (9|10) days/);
    });
  });

  describe('RelayState', () => {
    for (const target of ['//evil.example/phish', 'https://evil.example/', '/\\evil.example']) {
      it(`never redirects off-site (${target})`, async () => {
        const captured = await env.capture('amina');
        const res = await post(captured.SAMLResponse, 'ssp', target).expect(303);
        expect(res.headers.location).to.equal('/');
      });
    }
    it('an off-site returnTo is not even sent to the IdP', async () => {
      const start = await supertest(env.app).get('/auth/saml/ssp/login?returnTo=%2F%2Fevil.example').expect(303);
      expect(new URL(start.headers.location!).searchParams.get('RelayState')).to.equal('/');
    });
  });

  describe('single logout started by the IdP', () => {
    async function signedInAmina(app = env.app) {
      const agent = supertest.agent(app);
      const captured = await env.capture('amina');
      const signedIn = await post(captured.SAMLResponse, 'ssp', '/', agent).expect(303);
      /** Her session cookie, to carry to the other instance as a load balancer would. */
      const cookie = ([] as string[])
        .concat(signedIn.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('olive.sid='))!
        .split(';')[0]!;
      await agent.get('/account').expect(200);
      const session = await db()
        .collection('host_sessions')
        .findOne({ 'session.saml.nameID': 'amina.diallo' }, { sort: { expires: -1 } });
      return { agent, cookie, sessionIndex: String((session!.session as { saml: { sessionIndex: string } }).saml.sessionIndex) };
    }
    const slo = () => `${env.baseUrl}/auth/saml/ssp/slo`;

    it('unsigned logout requests (redirect and POST bindings), or signed by an untrusted key, are refused and end nothing', async () => {
      const { agent } = await signedInAmina();
      const attacker = generateKeyPair(env.dir, 'attacker-slo');
      await expectRefused(
        () => supertest(env.app).get(`/auth/saml/ssp/slo?${logoutRequestQuery({ issuer: env.idp.entityId, destination: slo(), nameID: 'amina.diallo' })}`),
        401,
        'UNSIGNED_LOGOUT',
      );
      await expectRefused(
        () =>
          supertest(env.app).get(
            `/auth/saml/ssp/slo?${logoutRequestQuery({ issuer: env.idp.entityId, destination: slo(), nameID: 'amina.diallo', key: env.idp.keys, sigAlg: RSA_SHA1 })}`,
          ),
        401,
        'UNSIGNED_LOGOUT',
      );
      await expectRefused(
        () =>
          supertest(env.app).get(
            `/auth/saml/ssp/slo?${logoutRequestQuery({ issuer: env.idp.entityId, destination: slo(), nameID: 'amina.diallo', key: attacker })}`,
          ),
        401,
        'INVALID_SIGNATURE',
      );
      await expectRefused(
        () =>
          supertest(env.app)
            .post('/auth/saml/ssp/slo')
            .type('form')
            .send({ SAMLRequest: logoutRequestPost({ issuer: env.idp.entityId, destination: slo(), nameID: 'amina.diallo' }) }),
        401,
        'INVALID_SIGNATURE',
      );
      await agent.get('/account').expect(200);
    });

    it("a signed logout request ends the person's sessions on every instance and answers the IdP", async () => {
      const second = await env.secondInstance();
      try {
        // Two browsers of the same person, one signed in through each instance (both live on both); someone else's session too.
        const first = await signedInAmina();
        const other = await signedInAmina(second);
        const bystander = supertest.agent(env.app);
        await post(await forge(await env.capture('pierre'), { change: newcomer('slo-bystander') }), 'ssp', '/', bystander).expect(303);
        const amina = () =>
          db()
            .collection('host_sessions')
            .countDocuments({ 'session.saml.idp': 'ssp', 'session.saml.nameID': 'amina.diallo', 'session.passport.user': { $exists: true } });
        for (const app of [env.app, second]) {
          for (const { cookie } of [first, other]) await supertest(app).get('/account').set('Cookie', cookie).expect(200);
        }
        // No SessionIndex: the IdP ends every session of this person.
        const res = await supertest(env.app)
          .get(`/auth/saml/ssp/slo?${logoutRequestQuery({ issuer: env.idp.entityId, destination: slo(), nameID: 'amina.diallo', key: env.idp.keys })}`)
          .expect(303);
        const answer = new URL(res.headers.location!);
        expect(answer.origin + answer.pathname).to.equal(`${env.idp.url}/saml2/idp/SingleLogoutService.php`);
        expect(answer.searchParams.get('SAMLResponse')).to.be.a('string');
        expect(answer.searchParams.get('Signature')).to.be.a('string');
        expect(await amina(), 'none of her sessions through this IdP is left (those of earlier tests included)').to.equal(0);
        for (const app of [env.app, second]) {
          for (const { cookie } of [first, other]) {
            const after = await supertest(app).get('/account').set('Cookie', cookie);
            expect(after.status, 'signed out on this instance').to.equal(303);
            expect(after.headers.location).to.match(/^\/login/);
          }
        }
        await bystander.get('/account').expect(200);
      } finally {
        await second.olive.stop();
      }
    });
  });
});
