import { expect } from 'chai';
import supertest from 'supertest';
import { definePlugin, UserCreated, UserSignedIn } from '../../../src/index.ts';
import { signIn } from '../../../test/helpers/app.ts';
import { useSamlEnvironment } from './setup.ts';

describe('sso-saml: sign-in through a real identity provider (SimpleSAMLphp)', function () {
  this.timeout(30000);
  // Stands for the enrolment plugin, which matches pre-enrolled people on these two host events.
  const hostEvents: { event: string; via?: string; method?: string; email?: string }[] = [];
  const probe = definePlugin({
    name: 'probe',
    version: '1.0.0',
    register(ctx) {
      ctx.on(UserCreated, (e) => {
        hostEvents.push({ event: 'created', via: e.via, email: e.email });
      });
      ctx.on(UserSignedIn, (e) => {
        hostEvents.push({ event: 'signedIn', method: e.method });
      });
    },
  });
  const env = useSamlEnvironment({ label: 'sso', plugins: [probe] });

  const db = () => env.app.olive.connection.db!;
  const sessionCookie = (res: { headers: Record<string, unknown> }) =>
    ([] as string[])
      .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
      .find((c) => c.startsWith('olive.sid='))
      ?.split(';')[0];

  it('publishes valid SP metadata: entity id, assertion consumer, logout service and signing certificate', async () => {
    const res = await supertest(env.app)
      .get('/auth/saml/ssp/metadata')
      .expect(200)
      .expect('content-type', /samlmetadata\+xml/);
    expect(res.text).to.include(`entityID="${env.baseUrl}/auth/saml"`);
    expect(res.text).to.include(
      `<AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${env.baseUrl}/auth/saml/ssp/acs"/>`,
    );
    expect(res.text).to.include(
      `<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${env.baseUrl}/auth/saml/ssp/slo"/>`,
    );
    const certBody = env.sp.certPem.replace(/-----[A-Z ]+-----|\s/g, '');
    expect(res.text.replace(/\s/g, '')).to.include(`<KeyDescriptoruse="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBody}</ds:X509Certificate>`);
    expect(res.text).to.include('WantAssertionsSigned="true"').and.include('AuthnRequestsSigned="true"');
  });

  it('a first sign-in creates the account from the attributes, with a new session id, and returns to the page asked for', async () => {
    const agent = supertest.agent(env.app);
    const before = sessionCookie(await agent.get('/login').expect(200));
    expect(before).to.be.a('string');
    const captured = await env.capture('amina', { returnTo: '/account' });
    expect(captured.action).to.equal(`${env.baseUrl}/auth/saml/ssp/acs`);
    expect(captured.RelayState).to.equal('/account');
    const res = await agent
      .post('/auth/saml/ssp/acs')
      .set('Cookie', captured.cookie)
      .type('form')
      .send({ SAMLResponse: captured.SAMLResponse, RelayState: captured.RelayState });
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.location).to.equal('/account');
    const after = sessionCookie(res);
    expect(after).to.be.a('string').and.not.equal(before);
    const home = await agent.get('/').expect(200);
    expect(home.text).to.include('Amina Diallo');
    const user = await db().collection('host_users').findOne({ email: 'amina.diallo@un.example' });
    expect(user).to.include({ name: 'Amina Diallo', organisation: 'UN Department of Political and Peacebuilding Affairs' });
    expect(user!.roles).to.deep.equal(['learner']);
    expect(user!.lastSignInAt).to.be.instanceOf(Date);
    const identity = await db()
      .collection('sso-saml_identity')
      .findOne({ _id: 'ssp:S1023456' as never });
    expect(identity).to.include({ userId: String(user!._id), nameID: 'amina.diallo', linkedBy: 'created' });
    // The account was made through the host, so pre-enrolments (matched on these events) apply.
    expect(hostEvents.filter((e) => e.email === 'amina.diallo@un.example' || e.method === 'saml:ssp')).to.deep.equal([
      { event: 'created', via: 'saml:ssp', email: 'amina.diallo@un.example' },
      { event: 'signedIn', method: 'saml:ssp' },
    ]);
  });

  it('groups map to Olive roles (a trainer), and a second sign-in reuses the account', async () => {
    for (let i = 0; i < 2; i++) {
      const captured = await env.capture('pierre');
      await supertest(env.app)
        .post('/auth/saml/ssp/acs')
        .set('Cookie', captured.cookie)
        .type('form')
        .send({ SAMLResponse: captured.SAMLResponse, RelayState: captured.RelayState })
        .expect(303);
    }
    const users = await db().collection('host_users').find({ email: 'pierre.martin@un.example' }).toArray();
    expect(users).to.have.length(1);
    expect(users[0]!.roles).to.have.members(['trainer', 'staff']);
  });

  it('a sign-in started on one app instance completes on another (the request cache is in MongoDB)', async () => {
    const other = await env.secondInstance();
    try {
      const captured = await env.capture('pierre');
      const res = await supertest(other)
        .post('/auth/saml/ssp/acs')
        .set('Cookie', captured.cookie)
        .type('form')
        .send({ SAMLResponse: captured.SAMLResponse, RelayState: captured.RelayState })
        .expect(303);
      // The session is shared too: the first instance knows the person.
      const page = await supertest(env.app).get('/account').set('Cookie', sessionCookie(res)!).expect(200);
      expect(page.text).to.include('Pierre Martin');
    } finally {
      await other.olive.stop();
    }
  });

  it("admins see the attributes the IdP sent at a person's last sign-in; others may not", async () => {
    const admin = await signIn(env.app, 'admin@olive.example');
    const home = await admin.get('/').expect(200);
    expect(home.text).to.include('href="/auth/saml/admin"');
    const page = await admin.get('/auth/saml/admin?email=amina.diallo%40un.example').expect(200);
    expect(page.text).to.include('<code>staffIndex</code>').and.include('S1023456').and.include('<code>groups</code>').and.include('ppcp-learners');
    expect(page.text).to.include('<code>amina.diallo</code>').and.include('account created at first sign-in');
    expect(page.text).to.include(env.idp.entityId);
    const learner = await signIn(env.app, 'learner@olive.example');
    await learner.get('/auth/saml/admin?email=amina.diallo%40un.example').expect(403);
  });
});
