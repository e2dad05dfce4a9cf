#!/usr/bin/env node
// Runs before `npm test`: makes sure what the suite needs beyond npm packages is on the machine,
// so that `npm test` alone works on a fresh Debian machine (as CI's is).
//  - Debian packages the tests drive (installed with apt-get when we are root): Chromium for the
//    browser tests, poppler-utils (pdftotext) to read generated PDFs back independently,
//    SimpleSAMLphp with PHP as the real SAML identity provider;
//  - the embedded database program, built with Go (see tools/ferretdb), unless MONGODB_URI is set;
//  - the mail server the tests deliver to (Mailpit, built with Go, see tools/mailpit).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** Each Debian package and a file that shows it is installed. */
const DEBIAN_PACKAGES = [
  { pkg: 'chromium', file: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  { pkg: 'poppler-utils', file: '/usr/bin/pdftotext' },
  { pkg: 'php-cli', file: '/usr/bin/php' },
  { pkg: 'php-xml', file: '/usr/share/doc/php-xml' },
  { pkg: 'php-mbstring', file: '/usr/share/doc/php-mbstring' },
  { pkg: 'simplesamlphp', file: '/usr/share/simplesamlphp' },
];

const missing = DEBIAN_PACKAGES.filter((p) => !fs.existsSync(p.file)).map((p) => p.pkg);
if (missing.length) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = fs.existsSync('/usr/bin/apt-get');
  if (isRoot && hasApt) {
    console.log(`Installing Debian packages the tests use (once): ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  } else {
    console.error(`The tests need these Debian packages: ${missing.join(' ')}\nInstall them with:  sudo apt-get install ${missing.join(' ')}`);
    process.exit(1);
  }
}

// Build the database program (unless MONGODB_URI names a server) and the mail server now, with
// their progress on screen, rather than inside a test hook.
for (const command of [...(process.env.MONGODB_URI ? [] : ['build-db']), 'build-mail']) {
  const result = spawnSync(process.execPath, ['bin/olive.js', command], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
