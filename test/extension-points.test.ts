import { expect } from 'chai';
import supertest from 'supertest';
import { allow, definePlugin, SignInMethods } from '../src/index.ts';
import { createTestApp } from './helpers/app.ts';

describe('extension points and production rules', () => {
  it('shows sign-in methods contributed by plugins next to the local form, keeping returnTo', async () => {
    const sso = definePlugin({
      name: 'fake-sso',
      version: '1.0.0',
      register(ctx) {
        ctx.contribute(SignInMethods, { id: 'unite', label: 'UN staff (Unite ID)', href: '/fake-sso/login' });
        ctx.router.get('/login', allow.public, (_req, res) => {
          res.send('redirecting to the identity provider');
        });
      },
    });
    const t = await createTestApp({ plugins: [sso] });
    try {
      const page = await supertest(t.app).get('/login?returnTo=%2Fcourses%2Fx').expect(200);
      expect(page.text).to.contain('With your organisation&#39;s account');
      expect(page.text).to.contain('<a class="button" href="/fake-sso/login?returnTo=%2Fcourses%2Fx">UN staff (Unite ID)</a>');
      expect(page.text).to.contain('With your Olive account');
      const plain = await supertest(t.app).get('/login').expect(200);
      expect(plain.text).to.contain('href="/fake-sso/login">UN staff (Unite ID)</a>');
      // The home page invites visitors to their organisation's account because a plugin offers one.
      const home = await supertest(t.app).get('/').expect(200);
      expect(home.text).to.contain('Sign in with your organisation&#39;s account or your Olive account.');
    } finally {
      await t.stop();
    }
  });

  it('invites visitors to sign in with their Olive account only when no plugin offers another way', async () => {
    const t = await createTestApp();
    try {
      const home = await supertest(t.app).get('/').expect(200);
      expect(home.text).to.contain('Sign in with your Olive account.');
      expect(home.text).not.to.contain('organisation&#39;s account');
    } finally {
      await t.stop();
    }
  });

  it('never loads demo data in production', async () => {
    const t = await createTestApp({
      env: { NODE_ENV: 'production', BASE_URL: 'https://learn.example.org', SESSION_SECRET: 'p'.repeat(40), TRUST_PROXY: '1' },
    });
    try {
      let refused: Error | undefined;
      await t.app.olive.seedDemo().catch((err: Error) => {
        refused = err;
      });
      expect(refused?.message).to.equal('Demo data is never loaded in production.');
      expect(await t.app.olive.isEmpty()).to.equal(true);
      // Behind the TLS proxy the session cookie is Secure; over plain HTTP it is never sent at all.
      const res = await supertest(t.app).get('/login').set('x-forwarded-proto', 'https').expect(200);
      expect(String(res.headers['set-cookie'])).to.match(/olive\.sid=.*; Secure/);
      const plain = await supertest(t.app).get('/login').expect(200);
      expect(plain.headers['set-cookie']).to.equal(undefined);
      expect(res.headers['strict-transport-security']).to.contain('max-age=31536000');
    } finally {
      await t.stop();
    }
  });
});
