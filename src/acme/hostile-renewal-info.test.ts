import 'reflect-metadata';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { certIdOf } from '../../test/support/cert-id.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

// Property-based tests (fast-check) of GET renewalInfo/<certID> (RFC 9773 §4.1), which anyone may
// poll without a JWS. The expected answer comes from a model of the certID grammar written here
// from the RFC (base64url(AKI keyIdentifier) "." base64url(serial DER content octets)), by
// arithmetic rather than by the round trip the server uses, so the two can disagree.
const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);
const URN = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

let t: TestAcmeApp;
/** Every key identifier this CA signs leaves with, as base64url. */
let knownAkis: Set<string>;
/** serial hex (DER content octets) → the suggestedWindow the server answers for it. */
const windows = new Map<string, unknown>();
const knownSerials: Buffer[] = [];

beforeAll(async () => {
  t = await startTestAcmeApp();
  knownAkis = new Set(t.ca.generations.map((g) => b64(Buffer.from(g.keyIdHex, 'hex'))));
  const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
  const ders = [
    (await issueCertificate(t, client, ['one.ari-prop.test'])).der,
    (await issueCertificate(t, client, ['two.ari-prop.test'], { notAfter: new Date(t.clock.now().getTime() + 3 * DAY + 1234) })).der,
  ];
  // A serial whose first octet has the high bit set keeps the 0x00 sign octet in DER and in the certID.
  for (const serialHex of ['00ff' + randomBytes(15).toString('hex'), '0080' + randomBytes(3).toString('hex'), '7f']) {
    const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    const now = t.clock.now();
    const identifiers = [{ type: 'dns', value: `s${serialHex}.ari-prop.test` }] as const;
    const leaf = await t.ca.issueLeaf({ spki, identifiers: [...identifiers], notBefore: now, notAfter: new Date(now.getTime() + 30 * DAY), serialHex });
    await t.ledger.insertCertificate({
      serial: leaf.serialHex, accountId: undefined, orderId: undefined, der: leaf.der, chainPem: t.ca.chainPem,
      identifiers: [...identifiers], commonName: undefined, keyHash: serialHex, notBefore: leaf.notBefore, notAfter: leaf.notAfter, createdAt: now,
    });
    ders.push(Buffer.from(leaf.der));
  }
  for (const der of ders) {
    const id = certIdOf(der);
    const res = await ari(id);
    expect(res.statusCode, id).toBe(200);
    const { start, end } = res.json().suggestedWindow as { start: string; end: string };
    // Cross-check against the RFC 9773 §4.2 suggestion certmint documents: the middle of the last
    // third of the lifetime, L/10 wide, widened to whole seconds.
    const { notBefore, notAfter } = (await t.ledger.getCertificate(Buffer.from(id.split('.')[1]!, 'base64url').toString('hex')))!;
    const life = notAfter.getTime() - notBefore.getTime();
    expect(Date.parse(start)).toBeLessThanOrEqual(notBefore.getTime() + (2 * life) / 3 - life / 20);
    expect(Date.parse(start)).toBeGreaterThan(notBefore.getTime() + (2 * life) / 3 - life / 20 - 1000);
    expect(Date.parse(end)).toBeGreaterThanOrEqual(notBefore.getTime() + (2 * life) / 3 + life / 20);
    const serial = Buffer.from(id.split('.')[1]!, 'base64url');
    knownSerials.push(serial);
    windows.set(serial.toString('hex'), res.json());
  }
  expect(knownAkis.has(certIdOf(ders[0]!).split('.')[0]!)).toBe(true);
});
afterAll(async () => t?.close());

function ari(certId: string, raw = false) {
  return t.app.inject({ method: 'GET', url: `/acme/renewal-info/${raw ? certId : encodeURIComponent(certId)}` });
}

/** RFC 4648 §5 without padding, canonical: only alphabet characters, no impossible length, zero trailing bits. */
function canonicalBase64url(part: string): Buffer | undefined {
  if (part.length === 0 || part.length % 4 === 1) return undefined;
  const values = [...part].map((c) => ALPHABET.indexOf(c));
  if (values.some((v) => v < 0)) return undefined;
  const last = values[values.length - 1]!;
  // 2 characters carry 1 octet (4 spare bits), 3 carry 2 octets (2 spare bits).
  if (part.length % 4 === 2 && (last & 0x0f) !== 0) return undefined;
  if (part.length % 4 === 3 && (last & 0x03) !== 0) return undefined;
  let bits = 0;
  let acc = 0;
  const out: number[] = [];
  for (const v of values) {
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

type Expected = { status: 200; serialHex: string } | { status: 400 | 404 };

/** What RFC 9773 §4.1 and RFC 5280 §4.1.2.2 make of a certID, for this CA's ledger. */
function expectedAnswer(certId: string): Expected {
  // RFC 3986 §5.2.4: "." and ".." are dot segments URL parsers remove: the route sees "", or nothing.
  if (certId === '.') return { status: 400 };
  if (certId === '..') return { status: 404 };
  if (certId.length > 128) return { status: 400 }; // certmint's documented bound on the work per request
  const parts = certId.split('.');
  if (parts.length !== 2) return { status: 400 };
  const keyId = canonicalBase64url(parts[0]!);
  const serial = canonicalBase64url(parts[1]!);
  if (!keyId || !serial) return { status: 400 };
  // A positive INTEGER in at most 20 content octets, minimally encoded.
  if (serial.length > 20 || serial[0]! >= 0x80) return { status: 400 };
  if (serial[0] === 0 && (serial.length === 1 || serial[1]! < 0x80)) return { status: 400 };
  const serialHex = serial.toString('hex');
  if (!knownAkis.has(b64(keyId)) || !windows.has(serialHex)) return { status: 404 };
  return { status: 200, serialHex };
}

/** The DER INTEGER content octets of an integer: two's complement, minimal. */
function derInteger(n: bigint): Buffer {
  let octets = 1;
  while (n < -(1n << BigInt(8 * octets - 1)) || n >= 1n << BigInt(8 * octets - 1)) octets++;
  const hex = (n < 0n ? (1n << BigInt(8 * octets)) + n : n).toString(16).padStart(2 * octets, '0');
  return Buffer.from(hex, 'hex');
}

const anyBytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

/** Serial octets: this CA's, and the ways a client (or an attacker) may get them wrong. */
const serialOctets = fc.oneof(
  fc.nat(4).map((i) => knownSerials[i]!),
  fc.bigInt({ min: 1n, max: (1n << 159n) - 1n }).map(derInteger),
  fc.bigInt({ min: -(1n << 159n), max: -1n }).map(derInteger),
  fc.bigInt({ min: 1n << 159n, max: 1n << 180n }).map(derInteger), // 21+ octets
  fc.constant(Buffer.from([0])),
  // A known serial with a redundant leading 0x00, or without the sign octet it needs.
  fc.nat(4).map((i) => Buffer.concat([Buffer.from([0]), knownSerials[i]!])),
  fc.nat(4).map((i) => (knownSerials[i]![0] === 0 ? knownSerials[i]!.subarray(1) : knownSerials[i]!)),
  anyBytes(0, 24),
);

const keyIdOctets = fc.oneof(
  fc.constant(0).map(() => Buffer.from([...knownAkis][0]!, 'base64url')),
  fc.tuple(fc.nat(19), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
    const copy = Buffer.from([...knownAkis][0]!, 'base64url');
    copy[i % copy.length]! ^= x;
    return copy;
  }),
  anyBytes(0, 70),
);

/** base64url text of some octets, spelled right or in one of the ways RFC 9773 §4.1 excludes. */
const spelled = (octets: fc.Arbitrary<Buffer>) =>
  fc.tuple(octets, fc.nat(9), fc.nat(1000), fc.constantFrom('=', '+', '/', '%', ' ', '\u00e9', '.', '\u0000', '~', '*')).map(([bytes, how, at, ch]) => {
    const text = b64(bytes);
    const i = text.length === 0 ? 0 : at % text.length;
    switch (how) {
      case 0:
        return text + '='.repeat((4 - (text.length % 4)) % 4 || 1); // padded
      case 1:
        return bytes.toString('base64'); // standard alphabet, padded
      case 2: {
        // The same length with non-zero spare bits in the last character.
        if (text.length % 4 < 2) return text;
        const last = ALPHABET.indexOf(text[text.length - 1]!);
        return text.slice(0, -1) + ALPHABET[last | (text.length % 4 === 2 ? 1 : 2)];
      }
      case 3:
        return text.slice(0, i) + ch + text.slice(i); // a character from outside the alphabet
      case 4:
        return text.repeat(1 + (at % 12)); // long
      case 5:
        return text.slice(0, i); // cut
      default:
        return text;
    }
  });

const rightShaped = fc.tuple(spelled(keyIdOctets), spelled(serialOctets), fc.constantFrom('.', '.', '.', '..', '', '/', '.x.')).map(([k, s, sep]) => `${k}${sep}${s}`);
const arbitraryText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.tuple(fc.string({ unit: fc.constantFrom(...ALPHABET, '=', '.'), maxLength: 60 }), fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 60 })).map(([a, b]) => `${a}.${b}`),
  fc.nat({ max: 100_000 }).map((n) => `${[...knownAkis][0]}.${'A'.repeat(n)}`),
);

describe('renewalInfo certIDs (RFC 9773 §4.1)', () => {
  it('answers exactly what the certID grammar and the ledger say: 200 with the window, 404 or 400 malformed, never a 5xx', async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(rightShaped, arbitraryText), async (certId) => {
        const res = await ari(certId);
        const expected = expectedAnswer(certId);
        seen.add(expected.status);
        const context = `${JSON.stringify(certId).slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, context).toBe(expected.status);
        if (expected.status === 200) {
          expect(res.json(), context).toEqual(windows.get(expected.serialHex));
          return;
        }
        expect(res.headers['content-type'], context).toBe('application/problem+json');
        expect(res.json(), context).toMatchObject({ type: `${URN}malformed`, status: expected.status, detail: expect.any(String) });
      }),
      { numRuns: RUNS * 2 },
    );
    // The generators reach every answer, so a wrong one in any of them would be seen.
    expect([...seen].sort()).toEqual([200, 400, 404]);
  });

  it('answers a known certificate in its one canonical spelling only', async () => {
    // Any other spelling of its key identifier is refused (400), or read as another issuer's (404): never as this certificate.
    const canonical = () => [...knownAkis][0]!;
    await fc.assert(
      fc.asyncProperty(fc.nat(4), spelled(fc.constant(0).map(() => Buffer.from(canonical(), 'base64url'))), async (i, aki) => {
        const serial = knownSerials[i]!;
        const res = await ari(`${aki}.${b64(serial)}`);
        if (aki === canonical()) expect(res.json()).toEqual(windows.get(serial.toString('hex')));
        else expect([400, 404], `${aki} → ${res.statusCode}`).toContain(res.statusCode);
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('never answers 5xx or anything but a problem document to any raw path, here or under any other resource', async () => {
    // Paths that do not percent-decode, or params longer than the router takes, are refused
    // before any route runs: they still get the RFC problem type.
    const raw = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: fc.constantFrom('%', '2', 'F', 'e', '0', '/', '.', '?', '#', 'A', ';', '&', '=', '\\'), maxLength: 80 }),
      rightShaped,
      fc.nat({ max: 5000 }).map((n) => 'A'.repeat(n)),
    );
    const prefix = fc.constantFrom('/acme/renewal-info/', '/acme/order/', '/acme/authz/', '/acme/acct/', '/acme/cert/', '/acme/chall/', '/acme/', '/');
    const seen = { runs: 0, answered: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'HEAD') as fc.Arbitrary<'GET' | 'POST' | 'HEAD'>, prefix, raw, async (method, base, path) => {
        seen.runs += 1;
        let res;
        try {
          res = await t.app.inject({ method, url: base + path, headers: { 'content-type': 'application/jose+json' }, payload: method === 'POST' ? '{}' : undefined });
        } catch (e) {
          // inject refuses some strings as URLs before any server code runs; nothing to ask the server.
          expect(String(e)).toMatch(/invalid|url|header|character/i);
          return;
        }
        seen.answered += 1;
        const context = `${method} ${JSON.stringify(base + path).slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
        expect(res.statusCode, context).toBeLessThan(500);
        if (res.statusCode >= 400) {
          expect(res.headers['content-type'], context).toBe('application/problem+json');
          if (method !== 'HEAD') expect(String(res.json().type), context).toMatch(new RegExp(`^${URN}`));
        }
      }),
      { numRuns: RUNS },
    );
    // Nearly every path reaches the server (measured: 999-1,000 of 1,000); inject's own refusals are the rest.
    expect(seen.answered, `${seen.answered} of ${seen.runs} requests reached the server`).toBeGreaterThanOrEqual(seen.runs / 2);
  });

  it('regression: a path that does not percent-decode, or a param over the router\'s length, gets a problem document', async () => {
    // Found by the raw-path property: fastify answered these with its own application/json body.
    for (const url of ['/acme/renewal-info/%h5OSHhTNLLlZs1rvwBzJHnXHTOQ.AebG', `/acme/chall/${'A'.repeat(101)}`, '/acme/order/%zz']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(res.headers['content-type'], url).toBe('application/problem+json');
      expect(res.json().type, url).toBe(`${URN}malformed`);
    }
  });
});
