// Preloaded into certmint by bench/call-counts.mjs (node --import): counts calls of the operations
// issue 27 asks about (JSON, base64url, key imports, X.509 parses by node:crypto, signatures, hashes,
// random bytes, date formatting). SIGUSR2 zeroes the counts (after the warm-up); at exit they are
// written to the file CALL_COUNTS_FILE names. Wrapping costs CPU itself: read counts, never timings.
// @peculiar/x509's parses are not counted here (bench/profile-functions.mjs shows its time instead).
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

let counts = new Map();
/** CALL_COUNTS_STACKS: an operation's name (e.g. JSON.stringify) whose calls are also counted by caller. */
const stacksOf = process.env.CALL_COUNTS_STACKS;
const callerOf = () => {
  const frames = (new Error().stack ?? '').split('\n').slice(3).filter((l) => !l.includes('call-count-preload'));
  return frames.slice(0, 2).map((l) => l.trim().replace(/^at /, '').replace(/\(?file:\/\/.*\/(dist|node_modules)\//, '($1/')).join(' < ');
};
const count = (name) => {
  counts.set(name, (counts.get(name) ?? 0) + 1);
  if (name === stacksOf) {
    const key = `  ${name} from ${callerOf()}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
};
const wrap = (object, key, name, when) => {
  const original = object[key];
  object[key] = function (...args) {
    if (!when || when(args)) count(name);
    return original.apply(this, args);
  };
};
wrap(JSON, 'parse', 'JSON.parse');
wrap(JSON, 'stringify', 'JSON.stringify');
wrap(Buffer, 'from', 'Buffer.from(…, base64url)', (a) => a[1] === 'base64url');
wrap(Buffer.prototype, 'toString', 'buffer.toString(base64url)', (a) => a[0] === 'base64url');
wrap(Date.prototype, 'toISOString', 'Date#toISOString');
for (const key of ['createPublicKey', 'createPrivateKey', 'verify', 'sign', 'createHmac', 'createHash', 'randomBytes', 'randomFillSync', 'randomUUID', 'hash']) {
  if (typeof crypto[key] === 'function') wrap(crypto, key, `crypto.${key}`);
}
const X509 = crypto.X509Certificate;
crypto.X509Certificate = class extends X509 {
  constructor(...args) {
    super(...args);
    count('new crypto.X509Certificate');
  }
};
// The named exports (`import { verify } from 'node:crypto'`) follow the patched object from here on.
syncBuiltinESMExports();
process.on('SIGUSR2', () => (counts = new Map()));
process.on('exit', () => {
  if (process.env.CALL_COUNTS_FILE) writeFileSync(process.env.CALL_COUNTS_FILE, JSON.stringify(Object.fromEntries(counts)));
});
