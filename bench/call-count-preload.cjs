// Preloaded into certmint by bench/call-counts.mjs (node --require): counts calls of the operations
// issue 27 asks about (JSON, base64url, key imports, X.509 parses, signatures, hashes, random bytes,
// date formatting). SIGUSR2 zeroes the counts (after the warm-up); at exit they are written to the
// file named by CALL_COUNTS_FILE. Wrapping costs CPU itself: read counts from it, never timings.
'use strict';
const crypto = require('node:crypto');
const { writeFileSync } = require('node:fs');
let counts = new Map();
const count = (name) => counts.set(name, (counts.get(name) ?? 0) + 1);
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
// @peculiar/x509's parses, counted when the bundle loads it (its classes are not reachable from here otherwise).
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  const m = load.call(this, request, ...rest);
  if (request === '@peculiar/x509' && m && !m.__counted) {
    for (const cls of ['X509Certificate', 'Pkcs10CertificateRequest', 'X509Crl']) {
      const C = m[cls];
      if (typeof C !== 'function') continue;
      const Counted = class extends C {
        constructor(...args) {
          super(...args);
          count(`new @peculiar/x509 ${cls}`);
        }
      };
      try {
        Object.defineProperty(m, cls, { value: Counted });
      } catch {
        /* a getter-only export: left uncounted */
      }
    }
    try {
      m.__counted = true;
    } catch {
      /* frozen */
    }
  }
  return m;
};
process.on('SIGUSR2', () => (counts = new Map()));
process.on('exit', () => {
  if (process.env.CALL_COUNTS_FILE) writeFileSync(process.env.CALL_COUNTS_FILE, JSON.stringify(Object.fromEntries(counts)));
});
