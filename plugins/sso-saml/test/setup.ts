/**
 * One SAML environment per test file: SimpleSAMLphp as the IdP (started once), Olive's SP key
 * pair, and an Olive app whose `sso-saml` plugin trusts that IdP under several configurations.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { captureLogger, createTestApp, type TestApp } from '../../../test/helpers/app.ts';
import {
  freePort,
  generateKeyPair,
  signInAtIdp,
  startSimpleSamlPhp,
  type CapturedResponse,
  type IdpUser,
  type KeyPair,
  type SimpleSamlPhp,
} from '../../../test/helpers/saml-idp.ts';
import type { PluginDefinition } from '../../../src/index.ts';
import sso from '../index.ts';

export const IDP_USERS: IdpUser[] = JSON.parse(fs.readFileSync(new URL('../../../fixtures/sso-saml/idp-users.json', import.meta.url), 'utf8'));
export const passwordOf = (username: string) => IDP_USERS.find((u) => u.username === username)!.password;

export const ROLE_MAP = { 'ppcp-trainers': ['trainer'], 'unitar-staff': ['staff'] };

export interface SamlEnvironment {
  idp: SimpleSamlPhp;
  sp: KeyPair;
  testApp: TestApp;
  app: TestApp['app'];
  baseUrl: string;
  dir: string;
  logs: Record<string, unknown>[];
  /** Another app instance on the same database; `env` changes its host settings (e.g. BASE_URL). */
  secondInstance(env?: Record<string, string>): Promise<TestApp['app']>;
  /**
   * The sign-in cookie (`olive.saml=…`) of the tests' browser: every capture starts there unless
   * told otherwise, and the responses are posted with it.
   */
  browser: string | undefined;
  /**
   * Starts a sign-in at Olive (`/auth/saml/<idp>/login`) and completes it at the IdP's login form.
   * `fromAnotherBrowser` starts it without the tests' browser cookie: the response is bound to the
   * new cookie returned as `cookie`.
   */
  capture(username: string, options?: { idp?: string; returnTo?: string; fromAnotherBrowser?: boolean }): Promise<CapturedResponse & { cookie: string }>;
}

/** The `olive.saml=<value>` pair of a response's Set-Cookie. */
export function bindingCookieOf(res: { headers: Record<string, unknown> }): string | undefined {
  return ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    .find((c) => /^(__Host-)?olive\.saml=/.test(c))
    ?.split(';')[0];
}

/**
 * `idps` adds Olive-side IdP configurations (ids other than 'ssp') pointing at the same IdP; the
 * tests reach them by re-addressing and re-signing responses captured for 'ssp'.
 */
export function useSamlEnvironment(options: {
  label: string;
  idps?: (idp: SimpleSamlPhp, dir: string) => Record<string, unknown>[];
  listen?: boolean;
  plugins?: PluginDefinition[];
  host?: string;
}) {
  const env = {} as SamlEnvironment;
  let server: http.Server | undefined;
  before(async function () {
    this.timeout(60000);
    env.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-sso-'));
    env.sp = generateKeyPair(env.dir, 'sp', { commonName: 'Olive test SP' });
    env.idp = await startSimpleSamlPhp({ users: IDP_USERS });
    const port = await freePort();
    // `host: 'localhost'` puts Olive on another site than the IdP (127.0.0.1): its answer is a cross-site POST.
    env.baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;
    const { logger, lines } = captureLogger('info');
    env.logs = lines;
    const strict = {
      id: 'ssp',
      label: 'Partner organisation (test IdP)',
      metadataUrl: env.idp.metadataUrl,
      attributes: { key: 'staffIndex' },
      roles: ROLE_MAP,
      clockSkewSeconds: 5,
    };
    const appOptions = {
      plugins: [sso, ...(options.plugins ?? [])],
      pluginConfig: {
        'sso-saml': {
          serviceProvider: { privateKey: env.sp.keyPem, certificate: env.sp.certPem },
          idps: [strict, ...(options.idps?.(env.idp, env.dir) ?? [])],
        },
      },
      env: { BASE_URL: env.baseUrl },
      logger,
      label: options.label,
    };
    env.testApp = await createTestApp({ ...appOptions, seed: true });
    // Another app instance on the same database, as behind a load balancer (stop it with app.olive.stop()).
    env.secondInstance = async (hostEnv = {}) =>
      (await createTestApp({ ...appOptions, env: { ...appOptions.env, ...hostEnv }, dbName: env.testApp.dbName })).app;
    env.app = env.testApp.app;
    // The IdP learns about Olive from Olive's own metadata, as an administrator would set it up.
    const metadata = await supertest(env.app).get('/auth/saml/ssp/metadata').expect(200);
    env.idp.setServiceProviderMetadata(metadata.text);
    if (options.listen) {
      server = http.createServer(env.app);
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    }
    env.capture = async (username, { idp = 'ssp', returnTo = '/', fromAnotherBrowser = false } = {}) => {
      const request = supertest(env.app).get(`/auth/saml/${idp}/login?returnTo=${encodeURIComponent(returnTo)}`);
      if (env.browser && !fromAnotherBrowser) request.set('Cookie', env.browser);
      const start = await request.expect(303);
      const cookie = bindingCookieOf(start);
      if (!cookie) throw new Error('starting a sign-in set no sign-in cookie');
      if (!fromAnotherBrowser) env.browser = cookie;
      return { ...(await signInAtIdp(start.headers.location!, username, passwordOf(username))), cookie };
    };
  });
  after(async () => {
    if (server)
      await new Promise<void>((resolve) => {
        server!.closeAllConnections();
        server!.close(() => resolve());
      });
    await env.testApp?.stop();
    await env.idp?.stop();
    if (env.dir) fs.rmSync(env.dir, { recursive: true, force: true });
  });
  return env;
}
