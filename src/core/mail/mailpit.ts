/**
 * The development and test mail server: Mailpit, a real SMTP server with an HTTP API, built from
 * the Go module proxy (tools/mailpit) on first use and run as a child process on local ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OliveError } from '../errors.ts';
import { freePort, run, stopper } from '../embedded-db.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOOL_DIR = path.join(REPO_ROOT, 'tools', 'mailpit');
const MODULE = 'github.com/axllent/mailpit';

export function mailpitBinaryPath(): string {
  const hash = crypto.createHash('sha256');
  for (const f of ['go.mod', 'go.sum']) hash.update(fs.readFileSync(path.join(TOOL_DIR, f)));
  return path.join(REPO_ROOT, '.olive', 'bin', `mailpit-${hash.digest('hex').slice(0, 12)}`);
}

/** Builds Mailpit unless it is there (into a temporary name, renamed: two builds at once never run a half-written file). */
export async function ensureMailpitBinary(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const binary = mailpitBinaryPath();
  if (fs.existsSync(binary)) return binary;
  if ((await run('go', ['version']).catch(() => null)) === null) {
    throw new OliveError(
      'OLIVE_GO_MISSING',
      'Go is needed once to build the development mail server (Mailpit), but `go` is not on the PATH. Install Go 1.26 or newer, or set SMTP_URL to use a mail server of your own.',
    );
  }
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  log('Building the development mail server (Mailpit): about two minutes, once…');
  const started = Date.now();
  const ticker = setInterval(() => log(`  …still building (${Math.round((Date.now() - started) / 1000)} s)`), 15000);
  try {
    await run('go', ['build', '-trimpath', '-o', tmp, MODULE], { cwd: TOOL_DIR, env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' } });
    fs.renameSync(tmp, binary);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new OliveError('OLIVE_MAIL_BUILD_FAILED', `Building the development mail server failed: ${(err as Error).message}`, { cause: err });
  } finally {
    clearInterval(ticker);
  }
  log(`Mail server built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return binary;
}

export interface LocalMailServer {
  /** For SMTP_URL. */
  smtpUrl: string;
  /** Mailpit's HTTP address (API under /api/v1). */
  httpUrl: string;
  smtpPort: number;
  httpPort: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface MailpitOptions {
  /** Where its database lives; omitted: a temporary one Mailpit removes itself. */
  dataDir?: string;
  smtpPort?: number;
  httpPort?: number;
  /** Messages kept before the oldest are removed (0: no limit). Default 5000. */
  max?: number;
  startTimeoutMs?: number;
}

/** Starts Mailpit on local ports and resolves once its API answers. */
export async function startMailpit(options: MailpitOptions = {}): Promise<LocalMailServer> {
  const binary = await ensureMailpitBinary();
  const smtpPort = options.smtpPort ?? (await freePort());
  const httpPort = options.httpPort ?? (await freePort());
  const args = [
    '--smtp',
    `127.0.0.1:${smtpPort}`,
    '--listen',
    `127.0.0.1:${httpPort}`,
    '--max',
    String(options.max ?? 5000),
    '--disable-version-check',
    '--smtp-disable-rdns',
    '--quiet',
    '--smtp-auth-accept-any',
    '--smtp-auth-allow-insecure',
  ];
  if (options.dataDir) {
    fs.mkdirSync(options.dataDir, { recursive: true });
    args.push('--database', path.join(options.dataDir, 'mailpit.db'));
  }
  // Through a small shell watchdog: Mailpit has no way to notice that the process that started it
  // is gone (FerretDB's wrapper has -parent-pid), and a test run or server killed with SIGKILL
  // would leave it holding its ports. The shell ends it when we are gone, or when told to stop.
  const watchdog = [
    '"$0" "$@" & child=$!',
    `trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT`,
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done`,
    'kill $child 2>/dev/null; wait $child',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', watchdog, binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const stop = stopper(child);
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new OliveError('OLIVE_MAIL_START_FAILED', `The mail server exited before it was ready:\n${stderr.trim()}`);
    const ok = await fetch(`${httpUrl}/api/v1/info`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new OliveError('OLIVE_MAIL_START_FAILED', `The mail server did not start within ${options.startTimeoutMs ?? 20_000} ms.\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    httpUrl,
    smtpPort,
    httpPort,
    process: child,
    stop,
  };
}
