#!/usr/bin/env node
// Runs before `npm test`: makes sure what the suite needs beyond npm packages is on the machine,
// so that `npm test` alone works on a fresh Debian machine (as CI's is).
//  - Debian's Chromium for the browser tests (installed with apt-get when we are root);
//  - the embedded database program, built with Go (see tools/ferretdb), unless MONGODB_URI is set.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!fs.existsSync(chromium)) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = fs.existsSync('/usr/bin/apt-get');
  if (isRoot && hasApt) {
    console.log('Installing Debian\'s Chromium for the browser tests (once)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  } else {
    console.error(`The browser tests need Chromium at ${chromium}.\nInstall it with:  sudo apt-get install chromium   (or set CHROMIUM_PATH to a Chromium binary)`);
    process.exit(1);
  }
}

if (!process.env.MONGODB_URI) {
  // Build the database program now, with its progress on screen, rather than inside a test hook.
  const result = spawnSync(process.execPath, ['bin/olive.js', 'build-db'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
