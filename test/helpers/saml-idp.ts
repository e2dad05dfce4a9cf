/**
 * A real SAML identity provider for tests and the SSO demo: Debian's SimpleSAMLphp
 * (`apt-get install simplesamlphp php-cli php-xml php-mbstring`), served by `php -S` on a free
 * local port, with its configuration, key pair and sessions in a temporary folder
 * (SIMPLESAMLPHP_CONFIG_DIR), test users from `exampleauth:UserPass`, and our SP's metadata as
 * an XML file it re-reads on every request.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/core/embedded-db.ts';

export const SIMPLESAMLPHP_WWW = process.env.SIMPLESAMLPHP_WWW ?? '/usr/share/simplesamlphp/www';

export interface KeyPair {
  keyPem: string;
  certPem: string;
  keyFile: string;
  certFile: string;
}

/** An RSA key and a self-signed certificate (openssl, on every Debian), written into `dir`. */
export function generateKeyPair(dir: string, name: string, options: { days?: number; commonName?: string } = {}): KeyPair {
  fs.mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-sha256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(options.days ?? 3650),
      '-subj',
      `/CN=${options.commonName ?? name}`,
    ],
    { stdio: 'ignore' },
  );
  return { keyFile, certFile, keyPem: fs.readFileSync(keyFile, 'utf8'), certPem: fs.readFileSync(certFile, 'utf8') };
}

export { freePort };

export interface IdpUser {
  username: string;
  password: string;
  /** Attribute name to values; `uid` becomes the NameID. */
  attributes: Record<string, string[]>;
}

export interface SimpleSamlPhp {
  url: string;
  entityId: string;
  metadataUrl: string;
  /** The IdP's signing key pair (tests re-sign tampered messages with it). */
  keys: KeyPair;
  dir: string;
  /** Installs our SP's metadata (XML), read by the IdP on its next request. */
  setServiceProviderMetadata(xml: string): void;
  stop(): Promise<void>;
}

const php = (value: unknown): string => {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(php).join(', ')}]`;
  return `[${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${php(k)} => ${php(v)}`)
    .join(', ')}]`;
};

/** Starts SimpleSAMLphp as an IdP; resolves once it answers its metadata URL. */
export async function startSimpleSamlPhp(options: { users: IdpUser[]; port?: number; dir?: string; keys?: KeyPair }): Promise<SimpleSamlPhp> {
  if (!fs.existsSync(SIMPLESAMLPHP_WWW)) {
    throw new Error('SimpleSAMLphp is not installed: apt-get install simplesamlphp php-cli php-xml php-mbstring');
  }
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'olive-ssp-'));
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  for (const sub of ['config', 'metadata', 'cert', 'log', 'data', 'tmp', 'sessions']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const keys = options.keys ?? generateKeyPair(path.join(dir, 'cert'), 'idp', { commonName: 'Olive test IdP' });
  const spMetadataFile = path.join(dir, 'metadata', 'olive-sp.xml');
  fs.writeFileSync(spMetadataFile, '<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>');

  const config = {
    baseurlpath: `${url}/`,
    certdir: path.join(dir, 'cert') + '/',
    loggingdir: path.join(dir, 'log') + '/',
    datadir: path.join(dir, 'data') + '/',
    tempdir: path.join(dir, 'tmp'),
    metadatadir: path.join(dir, 'metadata') + '/',
    'metadata.sources': [{ type: 'flatfile' }, { type: 'xml', file: spMetadataFile }],
    secretsalt: crypto.randomBytes(16).toString('hex'),
    'auth.adminpassword': crypto.randomBytes(16).toString('hex'),
    technicalcontact_name: 'Olive tests',
    technicalcontact_email: 'na@example.org',
    timezone: 'UTC',
    'enable.saml20-idp': true,
    'module.enable': { exampleauth: true, core: true, saml: true, admin: false },
    'store.type': 'phpsession',
    'session.phpsession.savepath': path.join(dir, 'sessions'),
    'session.phpsession.cookiename': 'SimpleSAML',
    'session.cookie.secure': false,
    'session.cookie.samesite': null,
    'language.cookie.name': 'ssp_language',
    'language.cookie.secure': false,
    'language.cookie.samesite': null,
    // A local test IdP returns to Olive on another port: no allow-list (production IdPs keep theirs).
    'trusted.url.domains': null,
    'logging.handler': 'file',
    'logging.logfile': 'simplesamlphp.log',
    'logging.level': 4, // warning
    showerrors: true,
    'admin.protectmetadata': false,
    'assertion.allowed_clock_skew': 60,
  };
  fs.writeFileSync(path.join(dir, 'config', 'config.php'), `<?php\n$config = ${php(config)};\n`);
  const users: Record<string, unknown> = {};
  for (const user of options.users) users[`${user.username}:${user.password}`] = user.attributes;
  // exampleauth:UserPass takes its class name at index 0 and 'user:password' => attributes after it.
  fs.writeFileSync(path.join(dir, 'config', 'authsources.php'), `<?php\n$config = ['test-users' => array_merge(['exampleauth:UserPass'], ${php(users)})];\n`);
  fs.writeFileSync(
    path.join(dir, 'metadata', 'saml20-idp-hosted.php'),
    `<?php\n$metadata['__DYNAMIC:1__'] = ${php({
      host: '__DEFAULT__',
      privatekey: keys.keyFile,
      certificate: keys.certFile,
      auth: 'test-users',
      'simplesaml.nameidattribute': 'uid',
      NameIDFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      'attributes.NameFormat': 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
      'signature.algorithm': 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      'saml20.sign.response': true,
      'saml20.sign.assertion': true,
      // Olive signs its requests and logout messages; the IdP checks them, and signs its own.
      'validate.authnrequest': true,
      'validate.logout': true,
      'sign.logout': true,
      'redirect.sign': true,
    })};\n`,
  );
  fs.writeFileSync(path.join(dir, 'metadata', 'saml20-sp-remote.php'), '<?php\n');

  const child: ChildProcess = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', SIMPLESAMLPHP_WWW], {
    env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: path.join(dir, 'config') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr = (stderr + String(chunk)).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const metadataUrl = `${url}/saml2/idp/metadata.php`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`SimpleSAMLphp (php -S) exited: ${stderr}`);
    try {
      const res = await fetch(metadataUrl);
      if (res.ok && (await res.text()).includes('IDPSSODescriptor')) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`SimpleSAMLphp did not answer ${metadataUrl}: ${stderr}\n${readLog(dir)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    entityId: metadataUrl,
    metadataUrl,
    keys,
    dir,
    setServiceProviderMetadata(xml) {
      fs.writeFileSync(spMetadataFile, xml);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The IdP's own log (warnings and errors), for failing tests to show. */
export function readLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'log', 'simplesamlphp.log'), 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

/** A tiny cookie jar for driving the IdP with fetch (one host, no paths: enough for a test IdP). */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const hidden = (html: string, name: string) => {
  const match = new RegExp(`name="${name}"\\s+value="([^"]*)"`).exec(html) ?? new RegExp(`value="([^"]*)"\\s+name="${name}"`).exec(html);
  return match ? decodeEntities(match[1]!) : undefined;
};
const decodeEntities = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;/g, '/')
    .replace(/&amp;/g, '&');

export interface CapturedResponse {
  SAMLResponse: string;
  RelayState: string | undefined;
  /** Where the IdP's page would post it (our assertion consumer). */
  action: string;
}

/**
 * Signs in at the IdP through its own login form with an HTTP client, starting from the sign-in
 * URL Olive redirected to, and returns the signed response the IdP's page would post to Olive.
 */
export async function signInAtIdp(authnRequestUrl: string, username: string, password: string): Promise<CapturedResponse> {
  const jar = new CookieJar();
  let url = authnRequestUrl;
  let method: 'GET' | 'POST' = 'GET';
  let body: URLSearchParams | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, {
      method,
      body,
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    });
    jar.store(res);
    method = 'GET';
    body = undefined;
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).toString();
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`the IdP answered ${res.status} at ${url}: ${html.slice(0, 500)}`);
    const SAMLResponse = hidden(html, 'SAMLResponse');
    if (SAMLResponse) {
      const action = decodeEntities(/<form[^>]*action="([^"]+)"/.exec(html)![1]!);
      return { SAMLResponse, RelayState: hidden(html, 'RelayState'), action };
    }
    const authState = hidden(html, 'AuthState');
    if (!authState) throw new Error(`unexpected IdP page at ${url}: ${html.slice(0, 500)}`);
    method = 'POST';
    body = new URLSearchParams({ username, password, AuthState: authState });
  }
  throw new Error('too many redirects at the IdP');
}
