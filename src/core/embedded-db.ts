import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OliveError } from './errors.ts';

/**
 * The embedded default database: FerretDB 1.24 with its SQLite backend, built from the small Go
 * wrapper in tools/ferretdb on first use (with the fixes in tools/ferretdb/patches.json applied to
 * FerretDB's source) and run as a child process on a free local port.
 */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRAPPER_DIR = path.join(REPO_ROOT, 'tools', 'ferretdb');
const WRAPPER_FILES = ['go.mod', 'go.sum', 'main.go', 'patches.json'];
const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';

/** Where the built program lives; its name carries a hash of the wrapper so an edit forces a rebuild. */
export function ferretdbBinaryPath(): string {
  const hash = crypto.createHash('sha256');
  for (const f of WRAPPER_FILES) hash.update(fs.readFileSync(path.join(WRAPPER_DIR, f)));
  return path.join(REPO_ROOT, '.olive', 'bin', `ferretdb-${hash.digest('hex').slice(0, 12)}`);
}

/**
 * Builds the FerretDB program unless it is already there. Built into a temporary name and renamed,
 * so that two processes building at once (a test run and a server) never run a half-written file.
 */
export async function ensureFerretdbBinary(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const binary = ferretdbBinaryPath();
  if (fs.existsSync(binary)) return binary;
  const goVersion = await run('go', ['version']).catch(() => null);
  if (goVersion === null) {
    throw new OliveError(
      'OLIVE_GO_MISSING',
      'Go is needed once to build the local database (FerretDB), but `go` is not on the PATH. Install Go 1.22 or newer, or set MONGODB_URI to use a MongoDB server.',
    );
  }
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  log('Building the local database (FerretDB): about two minutes, once…');
  const started = Date.now();
  const ticker = setInterval(() => log(`  …still building (${Math.round((Date.now() - started) / 1000)} s)`), 15000);
  // Per process, so that two builds at once never share a half-written source tree.
  const buildDir = path.join(REPO_ROOT, '.olive', 'build', String(process.pid));
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' };
  try {
    const modfile = await patchedFerretdbSource(buildDir, env);
    await run('go', ['build', `-modfile=${modfile}`, '-trimpath', '-o', tmp, '.'], { cwd: WRAPPER_DIR, env });
    fs.renameSync(tmp, binary);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new OliveError('OLIVE_DB_BUILD_FAILED', `Building the local database failed: ${(err as Error).message}`, { cause: err });
  } finally {
    clearInterval(ticker);
    try {
      makeWritable(buildDir);
      fs.rmSync(buildDir, { recursive: true, force: true });
    } catch (err) {
      log(`(could not remove the build folder ${buildDir}: ${(err as Error).message})`);
    }
  }
  log(`Local database built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return binary;
}

/** Owner write permission on a tree (Go's module cache hands out read-only files and folders). */
function makeWritable(dir: string): void {
  if (!fs.existsSync(dir)) return;
  fs.chmodSync(dir, fs.statSync(dir).mode | 0o700);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) makeWritable(p);
    else if (entry.isFile()) fs.chmodSync(p, fs.statSync(p).mode | 0o600);
  }
}

interface SourcePatch {
  file: string;
  find: string;
  replace: string;
  why: string;
}

/**
 * A copy of FerretDB's module source (from Go's module cache, fetched through the module proxy)
 * with tools/ferretdb/patches.json applied, and a go.mod for the wrapper that builds against it.
 * Each patch must find its text exactly once: a FerretDB upgrade that changes the code fails the
 * build with the patch named, instead of building without the fix. Returns the go.mod's path.
 */
async function patchedFerretdbSource(buildDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const info = JSON.parse(await run('go', ['mod', 'download', '-json', FERRETDB_MODULE], { cwd: WRAPPER_DIR, env, stdout: true })) as {
    Dir?: string;
    Error?: string;
  };
  if (!info.Dir) throw new Error(`go mod download ${FERRETDB_MODULE}: ${info.Error ?? 'no source directory'}`);
  const source = path.join(buildDir, 'FerretDB');
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.cpSync(info.Dir, source, { recursive: true });
  // The module cache is read-only; the copy must be writable to be patched and removed afterwards.
  makeWritable(source);
  const patches = JSON.parse(fs.readFileSync(path.join(WRAPPER_DIR, 'patches.json'), 'utf8')) as SourcePatch[];
  for (const patch of patches) {
    const file = path.join(source, patch.file);
    const text = fs.readFileSync(file, 'utf8');
    if (text.split(patch.find).length !== 2)
      throw new Error(`tools/ferretdb/patches.json: ${patch.file} does not contain ${JSON.stringify(patch.find)} exactly once (was FerretDB upgraded?)`);
    fs.writeFileSync(
      file,
      text.replace(patch.find, () => patch.replace),
    );
  }
  const modfile = path.join(buildDir, 'go.mod');
  fs.writeFileSync(modfile, `${fs.readFileSync(path.join(WRAPPER_DIR, 'go.mod'), 'utf8')}\nreplace ${FERRETDB_MODULE} => ${source}\n`);
  fs.copyFileSync(path.join(WRAPPER_DIR, 'go.sum'), path.join(buildDir, 'go.sum'));
  return modfile;
}

/** Runs a command; resolves with its output (stdout and stderr, or with `stdout` only stdout). */
export function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      if (options.stdout) err += d;
      else out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${(out + err).slice(-4000)}`))));
  });
}

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface EmbeddedDatabase {
  uri: string;
  port: number;
  dataDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<void>;
  readonly process: ChildProcess;
  /** The last lines the server wrote on stderr (its log): for the message of a failure. */
  recentLog(): string;
}

export interface StartOptions {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
  startTimeoutMs?: number;
  /** SQLite pragmas for the database files (measuring their effect: bench/README.md). */
  pragmas?: readonly string[];
}

/** Starts FerretDB on a local port and resolves when it accepts connections. */
export async function startEmbeddedDatabase(options: StartOptions): Promise<EmbeddedDatabase> {
  const binary = await ensureFerretdbBinary(options.log);
  const port = options.port ?? (await freePort());
  fs.mkdirSync(options.dataDir, { recursive: true });
  const pragmas = (options.pragmas ?? []).flatMap((p) => ['-pragma', p]);
  const child = spawn(binary, ['-listen', `127.0.0.1:${port}`, '-data', options.dataDir, '-parent-pid', String(process.pid), ...pragmas], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const lines = readline.createInterface({ input: child.stdout! });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new OliveError('OLIVE_DB_START_FAILED', `The local database did not start within ${options.startTimeoutMs ?? 30000} ms.\n${stderr}`));
    }, options.startTimeoutMs ?? 30000);
    lines.on('line', (line) => {
      if (line.startsWith('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new OliveError('OLIVE_DB_START_FAILED', `The local database exited before it was ready (${signal ?? `code ${code}`}):\n${stderr.trim()}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    port,
    dataDir: options.dataDir,
    process: child,
    stop: stopper(child),
    recentLog: () => stderr,
  };
}

/** Stops a local server we started: SIGTERM, then SIGKILL after a 5 s grace period. */
export function stopper(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
}
