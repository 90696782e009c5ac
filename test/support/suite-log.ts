import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';

/**
 * Every log line of the test run, in one directory the global setup (log-scan-setup.ts) makes and
 * scans at the end of the run: the output of every `certmint` process the tests start and of every
 * logger built in a test process. Outside a run with that setup (the variable unset) nothing is
 * written.
 */
export const SUITE_LOG_DIR = 'CERTMINT_TEST_LOG_DIR';

let sequence = 0;

export interface SuiteLog {
  write(text: string): void;
  close(): void;
}

/** A file of the run's log directory for one source (a process, an app), named after it. */
export function suiteLog(source: string): SuiteLog {
  const dir = process.env[SUITE_LOG_DIR];
  if (!dir) return { write: () => undefined, close: () => undefined };
  const file = path.join(dir, `${process.pid}-${++sequence}-${source.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60)}.log`);
  let fd: number | undefined = openSync(file, 'a', 0o600);
  return {
    write: (text) => {
      if (fd !== undefined && text.length > 0) writeSync(fd, text);
    },
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** Secrets a test's server or app held, for the scan of the whole run's logs (in the log directory, 0600, removed with it). */
export function registerSecrets(secrets: readonly string[]): void {
  const dir = process.env[SUITE_LOG_DIR];
  if (!dir || secrets.length === 0) return;
  const secretsDir = path.join(dir, 'secrets');
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(secretsDir, `${process.pid}-${++sequence}.json`), JSON.stringify(secrets), { mode: 0o600 });
}

/** Everything `child` writes on stdout and stderr, into the run's log directory. */
export function captureChildLogs(child: ChildProcess, source: string): void {
  const log = suiteLog(source);
  child.stdout?.on('data', (chunk: Buffer) => log.write(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => log.write(chunk.toString('utf8')));
  child.once('exit', () => log.close());
}

/** A pino logger as `certmint serve` builds one, at debug level, writing to memory and to the run's log directory. */
export interface CapturedLogger {
  readonly log: Logger;
  /** Everything it wrote so far. */
  text(): string;
  close(): void;
}

export function capturedLogger(source: string): CapturedLogger {
  const file = suiteLog(source);
  const lines: string[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        lines.push(line);
        file.write(line);
      },
    },
  );
  return { log, text: () => lines.join(''), close: () => file.close() };
}
