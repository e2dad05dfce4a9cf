import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const OLIVE_BIN = path.join(REPO, 'bin', 'olive.js');

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves when the output contains the text. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Runs the real `olive` command, as a person or a process manager would. */
export function runOlive(args: string[], env: Record<string, string>, input?: string): RunningCli {
  const child = spawn(process.execPath, [OLIVE_BIN, ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  const waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];
  const onData = (d: Buffer) => {
    out += d;
    for (const w of [...waiters])
      if (w.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  if (input !== undefined) child.stdin.end(input);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor(text, timeoutMs = 60000) {
      const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
      if (test(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${text}; output:\n${out}`)), timeoutMs);
        waiters.push({
          test,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          if (!test(out)) reject(new Error(`olive exited (${code}) before printing ${text}:\n${out}`));
        });
      });
    },
  };
}
