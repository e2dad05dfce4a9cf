/**
 * Mocha global fixtures: one real database for the whole run. A FerretDB of our own in a temporary
 * folder, or the MongoDB named by MONGODB_URI (so the same suite runs against real MongoDB).
 * Each test file then gets a fresh database of its own (see app.ts in this folder).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/core/embedded-db.ts';

let database: EmbeddedDatabase | undefined;
let tmpDir: string | undefined;

export async function mochaGlobalSetup() {
  if (process.env.MONGODB_URI) {
    process.env.OLIVE_TEST_MONGODB_URI = process.env.MONGODB_URI;
    return;
  }
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-test-'));
  database = await startEmbeddedDatabase({ dataDir: tmpDir });
  process.env.OLIVE_TEST_MONGODB_URI = database.uri;
}

export async function mochaGlobalTeardown() {
  await database?.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
}
