import fc from 'fast-check';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';

// The values src/config/hostile-config.test.ts throws at every config key: a config that sets every
// key (FULL), its key paths, and fast-check generators of hostile values by the kind of each key.

const DAY = 86_400_000;
/** Node's timers fire at once (with a TimeoutOverflowWarning) beyond this many milliseconds. */
export const NODE_MAX_TIMER_MS = 2 ** 31 - 1;

/** A config that sets every key, so each one can be mutated. */
export const FULL: Record<string, unknown> = {
  ...structuredClone(DEFAULT_CONFIG),
  profiles: {
    ...structuredClone(DEFAULT_CONFIG.profiles),
    ci: { description: 'CI runners', lifetime: '6h', usage: 'client', keyUsage: ['digitalSignature'], keyTypes: ['ecdsa'], commonName: false },
  },
  policies: {
    team: { allow: ['*.svc.cluster.local', '10.0.0.0/8', '2001:db8::1'], deny: ['db.internal'], challenges: ['http-01'], maxLifetime: '30d', profiles: ['default', 'ci'] },
  },
};
(FULL.validation as { caa: { identities: string[] } }).caa.identities = ['ca.example.internal'];

/** Every key path of FULL: objects, arrays and their elements, scalars. */
export function keyPaths(value: unknown, prefix: string[] = []): string[][] {
  const here = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) return [...here, ...value.map((_, i) => [...prefix, String(i)])];
  if (typeof value === 'object' && value !== null) return [...here, ...Object.entries(value).flatMap(([k, v]) => keyPaths(v, [...prefix, k]))];
  return here;
}
export const PATHS = keyPaths(FULL);
/** Maps whose keys are names (profiles.<name>, policies.<name>): a new key there is a new entry, not an unknown key. */
export const NAMED_MAPS = new Set(['profiles', 'policies']);
export const OBJECT_PATHS = [[], ...PATHS.filter((p) => isObject(getAt(FULL, p)) && !NAMED_MAPS.has(p.join('.')))];

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function getAt(root: unknown, p: readonly string[]): unknown {
  return p.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], root);
}
export function setAt(root: Record<string, unknown>, p: readonly string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(root);
  const parent = getAt(copy, p.slice(0, -1)) as Record<string, unknown>;
  // defineProperty: "__proto__" and friends become real keys of the document, as YAML makes them.
  Object.defineProperty(parent, p.at(-1)!, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

export const durations = fc.oneof(
  fc.constantFrom('0', '0s', '1ms', '1.5ms', '0.4', '1e3', '-1s', '10 d', '10D', '10y', '1h30m', '24d', '25d', '90d', '365d', '36500d', '36501d', '99999999d', `${'9'.repeat(400)}d`, ' 5s ', '5 s'),
  fc.constantFrom(0, 1, 1.5, 0.4, 999.9, NODE_MAX_TIMER_MS, NODE_MAX_TIMER_MS + 1, 36_500 * DAY, 1e15, 8.64e15, 1e300, -0, -1, Number.MAX_SAFE_INTEGER, Infinity, NaN),
  fc.tuple(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom('', 'ms', 's', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
  fc.nat().map((n) => n * 1000),
);
export const numbers = fc.oneof(fc.constantFrom(0, 1, 80, 1023, 1024, 65535, 65536, -1, 1.5, 1e21, 2 ** 53, NaN, Infinity, -Infinity, '80', '0x50', 0.5), fc.integer(), fc.double());
export const strings = fc.oneof(
  fc.constantFrom('', ' ', 'a\u0000b', '/', '..', '~', 'data dir', '\u00e9t\u00e9', 'x'.repeat(5000), 'http://', 'https://acme.example/', 'ftp://x', 'https://[::1', 'postgres://u:p@db/certmint'),
  fc.constantFrom('[::]:8443', '0.0.0.0:80', ':8443', '[zz]:1', '[127.0.0.1]:1', '::1:8443', 'localhost:99999', 'a b:80', '256.1.1.1:80', '[fe80::1%eth0]:8443', 'host:-1', 'host:'),
  fc.string({ maxLength: 30 }),
);
export const lists = fc.oneof(
  fc.constantFrom([], [''], ['a', 1], 'a,b', [null], [[]], [{}], ['*.'], ['fe80::1%eth0'], ['fe80::1%eth0/64'], ['10.0.0.0/33'], ['::/129'], ['-bad'], ['ok.example', 'ok.example']),
  fc.array(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 12 })), { maxLength: 4 }),
  fc.constant(0).map(() => Array.from({ length: 2000 }, (_, i) => `h${i}.example`)),
);
export const anything = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e300, NaN, Infinity, -0, '', '\u0000', [], {}, ['a'], { a: 1 }, 'null', '~', 'yes'),
  fc.jsonValue({ maxDepth: 2 }),
);
/** A value for the key at `p`, of the kinds that key's default suggests, or of any kind. */
export function valueFor(p: readonly string[]): fc.Arbitrary<unknown> {
  const current = getAt(FULL, p);
  const key = p.at(-1)!;
  const isDuration = /lifetime|timeout|validity|refresh|interval|answerwithin/i.test(key);
  const kinds: fc.Arbitrary<unknown>[] = [anything];
  if (isDuration) kinds.push(durations, durations);
  else if (typeof current === 'number') kinds.push(numbers, numbers);
  else if (typeof current === 'boolean') kinds.push(fc.constantFrom(true, false, 'true', 'yes', 'on', 1, 0, null));
  else if (typeof current === 'string') kinds.push(strings, strings);
  else if (Array.isArray(current)) kinds.push(lists, lists);
  return fc.oneof(...kinds);
}

/** Whether a ConfigError names the key (or the list it is an element of, or the map entry it belongs to). */
export function namesKey(message: string, p: readonly string[]): boolean {
  const candidates = [p.join('.')];
  if (/^\d+$/.test(p.at(-1) ?? '')) candidates.push(p.slice(0, -1).join('.'));
  return candidates.some((k) => message.includes(k));
}
