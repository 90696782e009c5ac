import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { requireOrSkip, requireOrSkipFound } from './clients.js';
import { registerSecrets } from './suite-log.js';

/** Debian's SoftHSM2 module (package softhsm2). */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Whether the SoftHSM suites can run: the module, softhsm2-util and pkcs11-tool (package opensc). */
export function softHsmAvailable(): boolean {
  return (
    requireOrSkipFound(existsSync(SOFTHSM_MODULE), `${SOFTHSM_MODULE} is missing`, 'SoftHSM2', 'apt-get install softhsm2') &&
    requireOrSkip('softhsm2-util', 'apt-get install softhsm2') &&
    requireOrSkip('pkcs11-tool', 'apt-get install opensc')
  );
}

/** A SoftHSM token of its own in a temporary directory, with the environment that selects it. */
export interface SoftHsmToken {
  readonly dir: string;
  readonly tokenDir: string;
  readonly conf: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** SOFTHSM2_CONF for child processes (the CLI, softhsm2-util, pkcs11-tool). */
  readonly env: Readonly<Record<string, string>>;
  /** Runs softhsm2-util or pkcs11-tool against this token directory. */
  tool(binary: 'softhsm2-util' | 'pkcs11-tool', args: readonly string[]): string;
  /** `pkcs11-tool --module … --login --pin …` with `args`. */
  pkcs11Tool(args: readonly string[]): string;
  remove(): void;
}

/**
 * Creates a token labelled `label` in a fresh directory and points this process's
 * SOFTHSM2_CONF at it: SoftHSM reads the variable at C_Initialize, which certmint's module
 * does when its first token opens, so a test opens its token after this and closes it before
 * the next test makes another.
 */
export function makeSoftHsmToken(label = 'certmint'): SoftHsmToken {
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pin = `pin-${randomBytes(6).toString('hex')}`;
  const soPin = `so-${randomBytes(6).toString('hex')}`;
  registerSecrets([pin, soPin]);
  const env = { SOFTHSM2_CONF: conf };
  process.env.SOFTHSM2_CONF = conf;
  const tool = (binary: string, args: readonly string[]): string =>
    execFileSync(binary, args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tool('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin]);
  return {
    dir,
    tokenDir,
    conf,
    label,
    pin,
    soPin,
    env,
    tool,
    pkcs11Tool: (args) => tool('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--login', '--pin', pin, ...args]),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
