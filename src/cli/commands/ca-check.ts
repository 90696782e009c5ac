import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { CaSigningKey } from '../../ca/ca-key.js';
import { loadCa } from '../../ca/ca-files.js';
import type { Pkcs11Token } from '../../ca/pkcs11/index.js';
import type { Config, Pkcs11Config } from '../../config/config.js';
import { caOptionsOf, readConfig } from '../admin.js';
import { signatureVerifies } from '../../ca/ca-keys.js';

/** One line per step: `ok   <step>[: detail]` or `FAIL <step>: <why>`; the exit code says whether all passed. */
interface CheckOutput {
  ok(step: string, detail?: string): void;
  fail(step: string, e: unknown): void;
  readonly failed: boolean;
}

function checkOutput(write: (line: string) => void): CheckOutput {
  let failed = false;
  return {
    ok: (step, detail) => write(`ok   ${step}${detail ? `: ${detail}` : ''}\n`),
    fail: (step, e) => {
      failed = true;
      // The messages are the one-line Pkcs11Error/CaError/ConfigError ones: step, CKR name, meaning.
      write(`FAIL ${step}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}\n`);
    },
    get failed() {
      return failed;
    },
  };
}

/** `certmint ca check`: proves the CA keys can sign, with a line per step an operator can act on. */
export function registerCaCheck(ca: Command): void {
  ca.command('check')
    .description('check that the CA keys load and sign: with ca.keyProvider pkcs11, the module, the token, the login, each key, its mechanisms and a test signature')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { config?: string }) => {
      const config = readConfig(opts.config);
      const out = checkOutput((line) => process.stdout.write(line));
      if (config.ca.pkcs11 === undefined) await checkFileKeys(config, out);
      else await checkPkcs11(config.ca.pkcs11, out, config.ca.offlineRoot);
      if (out.failed) process.exitCode = 1;
    });
}

/** File keys: loading the CA already signs and verifies a test message with each key it imports. */
async function checkFileKeys(config: Config, out: CheckOutput): Promise<void> {
  const step = `ca.keyProvider file: load the CA keys in ${config.dataDir}/ca and test-sign with each`;
  try {
    await loadCa(caOptionsOf(config));
    out.ok(step);
  } catch (e) {
    out.fail(step, e);
  }
}

async function checkPkcs11(p: Pkcs11Config, out: CheckOutput, offlineRoot: boolean): Promise<void> {
  // The PKCS#11 binding (a native addon) is loaded by the commands that use a token, not by every start.
  const { listPkcs11Tokens, openPkcs11Token, readPkcs11PinFile } = await import('../../ca/pkcs11/index.js');
  const step = async <T>(name: string, run: () => Promise<T>, detail?: (value: T) => string): Promise<T | undefined> => {
    try {
      const value = await run();
      out.ok(name, detail?.(value));
      return value;
    } catch (e) {
      out.fail(name, e);
      return undefined;
    }
  };
  const tokens = await step(
    `load module ${p.module} and list its tokens`,
    () => listPkcs11Tokens(p.module),
    (list) => (list.length === 0 ? 'no token present' : list.map((t) => `${JSON.stringify(t.label)} (serial ${t.serial}, model ${t.model})`).join(', ')),
  );
  if (tokens === undefined) return;
  const pin = await step(`read the PIN file ${p.pinFile}`, async () => readPkcs11PinFile(p.pinFile));
  if (pin === undefined) return;
  const token = await step(`open token ${JSON.stringify(p.token)} and log in`, () => openPkcs11Token({ module: p.module, token: p.token, pin }));
  if (token === undefined) return;
  try {
    const keys: [string, string][] = [['intermediate', p.intermediateKey]];
    if (p.rootKey !== undefined) keys.push(['root', p.rootKey]);
    for (const [role, uri] of keys) {
      // Named without any query part, here and in checkKey: a pkcs11: URI may carry pin-value there.
      const shown = uri.split('?', 1)[0]!;
      // ca.offlineRoot: the root key is off this token on purpose; checked when it is brought back.
      // A lookup that fails (two keys match) is checkKey's to report.
      if (role === 'root' && offlineRoot && !(await token.findKey(uri).then((key) => key !== undefined, () => true))) {
        out.ok(`the root key ${shown} is not on the token`, 'kept offline (ca.offlineRoot); bring it back for crl generate --root and the rotations');
        continue;
      }
      await checkKey(token, role, uri, step);
    }
  } finally {
    await token.close();
  }
}

async function checkKey(
  token: Pkcs11Token,
  role: string,
  uri: string,
  step: <T>(name: string, run: () => Promise<T>, detail?: (value: T) => string) => Promise<T | undefined>,
): Promise<void> {
  const shown = uri.split('?', 1)[0]!;
  const key = await step(
    `find the ${role} key ${shown}`,
    async () => {
      const found = await token.findKey(uri);
      if (found === undefined) throw new Error(`no private key on the token matches ${shown} (certmint serve creates it at first start)`);
      return found;
    },
    (found) => found.spec.algorithm,
  );
  if (key === undefined) return;
  const mechanisms = await step(`mechanisms for the ${role} key (${key.spec.algorithm})`, () => token.requireMechanisms(key.spec.algorithm).then(() => true));
  if (mechanisms === undefined) return;
  await step(`sign a test digest with the ${role} key and verify it with its public key`, async () => {
    const data = randomBytes(32);
    if (!verifies(key, data, await key.sign(data))) throw new Error('the signature does not verify with the public key read from the token');
  });
}

function verifies(key: CaSigningKey, data: Uint8Array, signature: Uint8Array): boolean {
  return signatureVerifies(key.spec, key.spki, data, signature);
}
