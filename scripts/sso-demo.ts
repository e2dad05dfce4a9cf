/**
 * `npm run sso-demo`: tries SSO sign-in locally. Starts SimpleSAMLphp (Debian's package) as a demo
 * identity provider with the people of fixtures/sso-saml/idp-users.json, writes an SSO settings file
 * pointing Olive at it, starts Olive (`olive serve`) with OLIVE_SAML_CONFIG set to that file, and
 * installs Olive's SP metadata into the IdP. Ctrl-C stops both.
 *
 * Needs: apt-get install simplesamlphp php-cli php-xml php-mbstring (and openssl), and the
 * `sso-saml` plugin enabled in olive.config.ts with `configFile: process.env.OLIVE_SAML_CONFIG`.
 * Keys and the IdP's files live in data/sso-demo/ (kept, so the SP key stays the same).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, generateKeyPair, startSimpleSamlPhp, type IdpUser } from '../test/helpers/saml-idp.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIR = path.resolve(process.env.OLIVE_DATA_DIR ?? path.join(ROOT, 'data'), 'sso-demo');
const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';
const BASE_URL = process.env.BASE_URL ?? `http://${HOST === '0.0.0.0' ? '127.0.0.1' : HOST}:${PORT}`;
const IDP_PORT = Number(process.env.SSO_DEMO_IDP_PORT ?? 0) || (await freePort());
const IDP_ID = 'demo';

fs.mkdirSync(DIR, { recursive: true });
const sp = fs.existsSync(path.join(DIR, 'sp.key'))
  ? { keyFile: path.join(DIR, 'sp.key'), certFile: path.join(DIR, 'sp.crt') }
  : generateKeyPair(DIR, 'sp', { commonName: 'Olive demo SP' });
const idpDir = path.join(DIR, 'idp');
fs.rmSync(idpDir, { recursive: true, force: true });
const users: IdpUser[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'sso-saml', 'idp-users.json'), 'utf8'));
const idp = await startSimpleSamlPhp({ users, port: IDP_PORT, dir: idpDir });

const settingsFile = path.join(DIR, 'saml.json');
fs.writeFileSync(
  settingsFile,
  JSON.stringify(
    {
      serviceProvider: { privateKey: sp.keyFile, certificate: sp.certFile },
      idps: [
        {
          id: IDP_ID,
          label: 'Demo organisation (SimpleSAMLphp)',
          metadataUrl: idp.metadataUrl,
          attributes: { key: 'staffIndex' },
          roles: { 'ppcp-trainers': ['trainer'], 'unitar-staff': ['staff'] },
          defaultOrganisation: 'Demo organisation',
        },
      ],
    },
    null,
    2,
  ),
);

const olive = spawn(process.execPath, [path.join(ROOT, 'bin', 'olive.js'), 'serve'], {
  cwd: ROOT,
  env: { ...process.env, OLIVE_SAML_CONFIG: settingsFile, PORT: String(PORT), BASE_URL },
  stdio: 'inherit',
});

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  if (olive.exitCode === null) {
    olive.kill('SIGINT');
    await new Promise((resolve) => olive.once('exit', resolve));
  }
  await idp.stop();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
olive.on('exit', (code) => void stop(code ?? 1));

// Once Olive answers, the IdP gets Olive's metadata, as an IdP administrator would install it.
const deadline = Date.now() + 10 * 60 * 1000; // the first start may build the database program
for (;;) {
  try {
    const res = await fetch(`${BASE_URL}/auth/saml/${IDP_ID}/metadata`);
    if (res.ok) {
      idp.setServiceProviderMetadata(await res.text());
      break;
    }
    if (res.status === 404) {
      console.error('\nThe sso-saml plugin is not enabled: add it to olive.config.ts with configFile: process.env.OLIVE_SAML_CONFIG (see docs/sso.md).');
      await stop(1);
    }
  } catch {
    /* not listening yet */
  }
  if (Date.now() > deadline) {
    console.error('Olive did not start in time.');
    await stop(1);
  }
  await new Promise((r) => setTimeout(r, 500));
}

console.log(`
SSO demo ready.
  Olive:             ${BASE_URL}/login  → "Demo organisation (SimpleSAMLphp)"
  Identity provider: ${idp.url}  (SimpleSAMLphp, files in ${idpDir})
  People at the IdP (username / password):
${users.map((u) => `    ${u.username.padEnd(8)} / ${u.password.padEnd(13)} ${u.attributes.displayName?.[0] ?? ''} <${u.attributes.email?.[0] ?? ''}>`).join('\n')}
  Admins (admin@olive.example / olive-demo) see the attributes sent at each sign-in under "Sign-in (SAML)".
Ctrl-C stops Olive and the identity provider.
`);
