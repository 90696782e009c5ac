import path from 'node:path';
import { envName } from './env.js';
import type { ConfigInput } from './schema.js';

/** The token and keys of ca.keyProvider: pkcs11; paths absolute. */
export interface Pkcs11Config {
  readonly module: string;
  /** A label, or serial:<n>. */
  readonly token: string;
  readonly pinFile: string;
  readonly intermediateKey: string;
  /** Undefined: the root key is a file (root.key.pem; absent with ca.offlineRoot). */
  readonly rootKey: string | undefined;
}

/**
 * ca.pkcs11.* resolved (only when ca.keyProvider is pkcs11); `fail` throws the caller's
 * ConfigError with the message, which names the key.
 */
export function resolvePkcs11(p: ConfigInput['ca']['pkcs11'], cwd: string, fail: (message: string) => never): Pkcs11Config {
  const required = (key: keyof ConfigInput['ca']['pkcs11']): string => {
    const value = p[key].trim();
    if (value === '') {
      fail(`ca.pkcs11.${key} is required when ca.keyProvider is pkcs11 (or set ${envName(['ca', 'pkcs11', key])})`);
    }
    if (value.includes('\0')) fail(`ca.pkcs11.${key} ${JSON.stringify(value)} contains a NUL byte, which no file path may have`);
    return value;
  };
  const keyUri = (key: 'intermediateKey' | 'rootKey', value: string): string => {
    if (!value.startsWith('pkcs11:')) {
      fail(`ca.pkcs11.${key} ${JSON.stringify(value.split('?', 1)[0])} must be an RFC 7512 URI: pkcs11:object=<label> and/or id=<%-encoded bytes>`);
    }
    return value;
  };
  const token = required('token');
  if (/^slot(-id)?[:=]\d+$/i.test(token)) {
    fail(`ca.pkcs11.token ${JSON.stringify(token)} looks like a slot number; name the token by its label or serial:<n> (slot numbers change)`);
  }
  const rootKey = p.rootKey.trim();
  return {
    module: path.resolve(cwd, required('module')),
    token,
    pinFile: path.resolve(cwd, required('pinFile')),
    intermediateKey: keyUri('intermediateKey', required('intermediateKey')),
    rootKey: rootKey === '' ? undefined : keyUri('rootKey', rootKey),
  };
}
