/**
 * Mocha global fixtures: one real database for the whole run. A FerretDB of our own in a temporary
 * folder, or the MongoDB named by MONGODB_URI (so the same suite runs against real MongoDB).
 * Each test file then gets a fresh database of its own (see app.ts in this folder).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/core/embedded-db.ts';
import { startMailpit, type LocalMailServer } from '../../src/core/mail/mailpit.ts';

let database: EmbeddedDatabase | undefined;
let mailServer: LocalMailServer | undefined;
let tmpDir: string | undefined;

export async function mochaGlobalSetup() {
  // A real SMTP server for the whole run; tests read what arrived through its API (helpers/mail.ts).
  mailServer = await startMailpit({ max: 0 });
  process.env.OLIVE_TEST_SMTP_URL = mailServer.smtpUrl;
  process.env.OLIVE_TEST_MAIL_HTTP = mailServer.httpUrl;
  if (process.env.MONGODB_URI) {
    process.env.OLIVE_TEST_MONGODB_URI = process.env.MONGODB_URI;
    return;
  }
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-test-'));
  database = await startEmbeddedDatabase({ dataDir: tmpDir });
  process.env.OLIVE_TEST_MONGODB_URI = database.uri;
}

export async function mochaGlobalTeardown() {
  await mailServer?.stop();
  await database?.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}
