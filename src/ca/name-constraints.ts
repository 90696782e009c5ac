// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Identifier } from '../core/identifier.js';
import { formatIp, ipRangeContains, parseIpRange, type IpRange } from '../core/ip-range.js';
import { extensionValueOf, NAME_CONSTRAINTS_OID_DER, readTlv } from './issuer-fields.js';

/*
 * RFC 5280 §4.2.1.10 name constraints of a CA certificate: what certmint writes into its own
 * intermediates (ca.nameConstraints) and into the subordinates its root signs, and how it reads
 * them back from a certificate to refuse an order the intermediate could not sign for.
 *
 * The text form an operator writes (config, --permit/--exclude):
 * - a DNS name, `example.internal` or `.example.internal` (the same: that name and every name
 *   under it, which is how RFC 5280 reads a dNSName constraint), optionally `dns:`-prefixed;
 * - an IP range in CIDR notation, `10.0.0.0/8`, `fd00::/8`, optionally `ip:`-prefixed;
 * - a URI host, `uri:cluster.local` (URIs whose host is exactly that) or `uri:.cluster.local`
 *   (hosts under it), or a URI such as `spiffe://cluster.local` standing for its host.
 */

export const NAME_CONSTRAINTS_OID = '2.5.29.30';

export type NameConstraint =
  | { readonly kind: 'dns'; readonly name: string }
  | { readonly kind: 'ip'; readonly range: IpRange }
  | { readonly kind: 'uri'; readonly host: string }
  /** A constraint of a kind certmint does not write (email, directoryName, …), as read from a certificate. */
  | { readonly kind: 'other'; readonly description: string };

export interface NameConstraints {
  readonly permitted: readonly NameConstraint[];
  readonly excluded: readonly NameConstraint[];
}

export const NO_NAME_CONSTRAINTS: NameConstraints = { permitted: [], excluded: [] };

/** A constraint an operator wrote that is not one: the message is one line naming it and the fix. */
export class NameConstraintError extends Error {
  override name = 'NameConstraintError';
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function dnsConstraint(input: string, text: string): NameConstraint {
  const name = (input.startsWith('.') ? input.slice(1) : input).toLowerCase();
  if (name.startsWith('*')) {
    throw new NameConstraintError(`name constraint "${text}": a DNS constraint already covers every name under it; write "${name.replace(/^\*\.?/, '')}" without "*."`);
  }
  if (name.endsWith('.')) throw new NameConstraintError(`name constraint "${text}": write the DNS name without the trailing dot`);
  // RFC 3696 §2: a top-level label is never all digits, so "10.0.0.0-10.0.0.255" is a botched range, not a name.
  if (/^[0-9.-]+$/.test(name)) {
    throw new NameConstraintError(`name constraint "${text}" is not an IP range in CIDR notation (e.g. 10.0.0.0/24 for 10.0.0.0 to 10.0.0.255)`);
  }
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => DNS_LABEL.test(l)) || /^[0-9]+$/.test(name.split('.').at(-1)!)) {
    throw new NameConstraintError(
      `name constraint "${text}" is not a DNS name, a CIDR range (10.0.0.0/8) or a URI host (uri:cluster.local); DNS names are letters, digits and hyphens (IDNs in their xn-- form)`,
    );
  }
  return { kind: 'dns', name };
}

function ipConstraint(input: string, text: string): NameConstraint {
  if (!input.includes('/')) {
    throw new NameConstraintError(`name constraint "${text}": an IP range must be in CIDR notation, e.g. "${input}/32" for one address or "10.0.0.0/8" for a network`);
  }
  const range = parseIpRange(input);
  if (!range || input.trim() !== input) throw new NameConstraintError(`name constraint "${text}" is not an IP range in CIDR notation (e.g. 10.0.0.0/8, fd00::/8)`);
  if (range.text !== `${formatIp(range.bytes)}/${range.prefix}` || !sameNetwork(input, range)) {
    throw new NameConstraintError(`name constraint "${text}": the address has bits set past the /${range.prefix} prefix; the network is ${range.text}`);
  }
  return { kind: 'ip', range };
}

/** `10.1.2.3/8` parses as 10.0.0.0/8: refused here, since the operator probably meant something else. */
function sameNetwork(input: string, range: IpRange): boolean {
  const bare = parseIpRange(input.slice(0, input.indexOf('/')));
  return bare !== undefined && bare.bytes.every((b, i) => b === range.bytes[i]);
}

function uriConstraint(input: string, text: string): NameConstraint {
  const leadingDot = input.startsWith('.');
  const host = (leadingDot ? input.slice(1) : input).toLowerCase();
  if (host.length === 0 || host.length > 253 || !host.split('.').every((l) => DNS_LABEL.test(l))) {
    throw new NameConstraintError(`name constraint "${text}": a URI constraint is a host name (uri:cluster.local, or uri:.example.internal for the hosts under it), with no scheme, port, path or wildcard`);
  }
  return { kind: 'uri', host: leadingDot ? `.${host}` : host };
}

/** One constraint from its text form (see the top of this file). @throws NameConstraintError */
export function parseNameConstraint(text: string): NameConstraint {
  if (typeof text !== 'string' || text.trim() === '') throw new NameConstraintError('a name constraint is empty; write a DNS name, a CIDR range or uri:<host>');
  const t = text.trim();
  const prefixed = /^(dns|ip|uri):(.*)$/i.exec(t);
  if (prefixed) {
    const kind = prefixed[1]!.toLowerCase();
    const rest = prefixed[2]!;
    if (kind === 'dns') return dnsConstraint(rest, t);
    if (kind === 'ip') return ipConstraint(rest, t);
    return uriConstraint(rest, t);
  }
  const url = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(t);
  if (url) {
    const rest = url[2]!;
    if (/[/:?#@*]/.test(rest.replace(/\/$/, ''))) {
      throw new NameConstraintError(`name constraint "${t}": a URI constraint names a host only (spiffe://cluster.local or uri:cluster.local), not a path, port or wildcard`);
    }
    return uriConstraint(rest.replace(/\/$/, ''), t);
  }
  if (t.includes('/') || t.includes(':') || /^[0-9.]+$/.test(t)) return ipConstraint(t, t);
  return dnsConstraint(t, t);
}

/** Both lists from their text forms. @throws NameConstraintError naming the first bad one. */
export function parseNameConstraints(input: { readonly permitted?: readonly string[]; readonly excluded?: readonly string[] }): NameConstraints {
  return { permitted: (input.permitted ?? []).map(parseNameConstraint), excluded: (input.excluded ?? []).map(parseNameConstraint) };
}

export function hasNameConstraints(nc: NameConstraints | undefined): nc is NameConstraints {
  return nc !== undefined && (nc.permitted.length > 0 || nc.excluded.length > 0);
}

/** The text form of one constraint, as `parseNameConstraint` reads it back. */
export function formatNameConstraint(c: NameConstraint): string {
  switch (c.kind) {
    case 'dns':
      return c.name;
    case 'ip':
      return c.range.text;
    case 'uri':
      return `uri:${c.host}`;
    case 'other':
      return c.description;
  }
}

/** True when both name the same constraints (in any order). */
export function sameNameConstraints(a: NameConstraints, b: NameConstraints): boolean {
  const key = (list: readonly NameConstraint[]) => list.map(formatNameConstraint).sort().join('\n');
  return key(a.permitted) === key(b.permitted) && key(a.excluded) === key(b.excluded);
}

// ---------- Checking a name ----------

function dnsWithin(name: string, constraint: string): boolean {
  return name === constraint || name.endsWith(`.${constraint}`);
}

/** Whether a wildcard `*.base` would cover some name the constraint names (an excluded one must not be). */
function wildcardReaches(base: string, constraint: string): boolean {
  // *.base covers exactly one label more than base: x.base, for any x.
  const dot = constraint.indexOf('.');
  return dot > 0 && constraint.slice(dot + 1) === base;
}

function matches(c: NameConstraint, id: Identifier, excluded: boolean): boolean {
  if (id.type === 'dns' && c.kind === 'dns') {
    const name = id.value.toLowerCase();
    if (dnsWithin(name, c.name)) return true;
    return excluded && name.startsWith('*.') && wildcardReaches(name.slice(2), c.name);
  }
  if (id.type === 'ip' && c.kind === 'ip') return ipRangeContains(c.range, id.value);
  return false;
}

function sameKind(c: NameConstraint, id: Identifier): boolean {
  return (id.type === 'dns' && c.kind === 'dns') || (id.type === 'ip' && c.kind === 'ip');
}

/**
 * Why a CA with constraints `nc` may not sign for `id`, naming the constraint; undefined when it
 * may. RFC 5280 §4.2.1.10: permitted subtrees of a name's kind must contain it (a kind with none is
 * not constrained), an excluded subtree containing it forbids it. A wildcard is refused when it
 * would cover an excluded name (`*.example.internal` with `secret.example.internal` excluded),
 * which verifiers do not catch because they read "*" as a literal label.
 */
export function nameConstraintRefusal(nc: NameConstraints, id: Identifier): string | undefined {
  const shown = id.type === 'dns' ? `"${id.value}"` : `IP address ${id.value}`;
  const excludedBy = nc.excluded.find((c) => matches(c, id, true));
  if (excludedBy) return `${shown} falls under the excluded name constraint ${formatNameConstraint(excludedBy)}`;
  const permitted = nc.permitted.filter((c) => sameKind(c, id));
  if (permitted.length > 0 && !permitted.some((c) => matches(c, id, false))) {
    return `${shown} is outside the permitted name constraints (${permitted.map(formatNameConstraint).join(', ')})`;
  }
  return undefined;
}

/** The same for a URI's host (a SPIFFE ID, say): RFC 5280 matches URI constraints on the host. */
export function uriConstraintRefusal(nc: NameConstraints, uri: string): string | undefined {
  let host: string;
  try {
    host = new URL(uri).hostname.toLowerCase();
  } catch {
    return `"${uri}" is not a URI`;
  }
  const within = (c: NameConstraint) => c.kind === 'uri' && (c.host.startsWith('.') ? host.endsWith(c.host) : host === c.host);
  const excludedBy = nc.excluded.find(within);
  if (excludedBy) return `"${uri}" falls under the excluded name constraint ${formatNameConstraint(excludedBy)}`;
  const permitted = nc.permitted.filter((c) => c.kind === 'uri');
  if (permitted.length > 0 && !permitted.some(within)) {
    return `"${uri}" is outside the permitted name constraints (${permitted.map(formatNameConstraint).join(', ')})`;
  }
  return undefined;
}

// ---------- DER ----------

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Uint8Array.from([tag, ...length, ...content]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** GeneralSubtree ::= SEQUENCE { base GeneralName } (minimum 0 and no maximum, as RFC 5280 requires). */
function subtreeDer(c: NameConstraint): Uint8Array {
  const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
  switch (c.kind) {
    case 'dns':
      return tlv(0x30, tlv(0x82, ascii(c.name))); // [2] IMPLICIT IA5String dNSName
    case 'uri':
      return tlv(0x30, tlv(0x86, ascii(c.host))); // [6] IMPLICIT IA5String uniformResourceIdentifier
    case 'ip': {
      // [7] IMPLICIT OCTET STRING: the network's address followed by its mask (§4.2.1.10).
      const mask = c.range.bytes.map((_, i) => (0xff << (8 - Math.min(8, Math.max(0, c.range.prefix - i * 8)))) & 0xff);
      return tlv(0x30, tlv(0x87, concat([c.range.bytes, mask])));
    }
    case 'other':
      throw new NameConstraintError(`cannot encode the name constraint ${c.description}`);
  }
}

/** The NameConstraints extension value: SEQUENCE { [0] permittedSubtrees, [1] excludedSubtrees }. */
export function nameConstraintsDer(nc: NameConstraints): Uint8Array {
  const parts: Uint8Array[] = [];
  if (nc.permitted.length > 0) parts.push(tlv(0xa0, concat(nc.permitted.map(subtreeDer))));
  if (nc.excluded.length > 0) parts.push(tlv(0xa1, concat(nc.excluded.map(subtreeDer))));
  return tlv(0x30, concat(parts));
}

/** The critical NameConstraints extension (RFC 5280 §4.2.1.10: conforming CAs MUST mark it critical). */
export function nameConstraintsExtension(nc: NameConstraints): x509.Extension {
  if (!hasNameConstraints(nc)) throw new NameConstraintError('a NameConstraints extension needs at least one permitted or excluded name');
  const der = nameConstraintsDer(nc);
  return new x509.Extension(NAME_CONSTRAINTS_OID, true, der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer);
}

const OTHER_KINDS: Record<number, string> = { 0: 'otherName', 1: 'rfc822Name', 3: 'x400Address', 4: 'directoryName', 5: 'ediPartyName', 8: 'registeredID' };

function subtreeOf(der: Uint8Array, start: number): { constraint: NameConstraint; end: number } {
  const subtree = readTlv(der, start, 'a NameConstraints extension');
  const name = readTlv(der, subtree.contentStart, 'a NameConstraints extension');
  const content = der.slice(name.contentStart, name.end);
  const text = Buffer.from(content).toString('latin1');
  const kind = name.tag & 0x1f;
  let constraint: NameConstraint;
  if (kind === 2) constraint = { kind: 'dns', name: text.replace(/^\./, '').toLowerCase() };
  else if (kind === 6) constraint = { kind: 'uri', host: text.toLowerCase() };
  else if (kind === 7 && (content.length === 8 || content.length === 32)) {
    const half = content.length / 2;
    const mask = content.slice(half);
    const prefix = [...mask].reduce((n, b) => n + b.toString(2).replace(/0/g, '').length, 0);
    const bytes = content.slice(0, half);
    constraint = { kind: 'ip', range: { family: half === 4 ? 'ipv4' : 'ipv6', bytes, prefix, text: `${formatIp(bytes)}/${prefix}` } };
  } else constraint = { kind: 'other', description: `${OTHER_KINDS[kind] ?? `GeneralName [${kind}]`} constraint` };
  return { constraint, end: subtree.end };
}

function subtreesOf(der: Uint8Array, field: { contentStart: number; end: number }): NameConstraint[] {
  const out: NameConstraint[] = [];
  for (let at = field.contentStart; at < field.end; ) {
    const { constraint, end } = subtreeOf(der, at);
    out.push(constraint);
    at = end;
  }
  return out;
}

/** The constraints a certificate carries; undefined when it has no NameConstraints extension. */
export function nameConstraintsOf(cert: x509.X509Certificate): NameConstraints | undefined {
  const der = extensionValueOf(cert, NAME_CONSTRAINTS_OID_DER);
  if (!der) return undefined;
  const outer = readTlv(der, 0, 'a NameConstraints extension');
  let permitted: NameConstraint[] = [];
  let excluded: NameConstraint[] = [];
  for (let at = outer.contentStart; at < outer.end; ) {
    const field = readTlv(der, at, 'a NameConstraints extension');
    if (field.tag === 0xa0) permitted = subtreesOf(der, field);
    else if (field.tag === 0xa1) excluded = subtreesOf(der, field);
    at = field.end;
  }
  return { permitted, excluded };
}

/** "permitted: example.internal, 10.0.0.0/8; excluded: secret.example.internal", or "none". */
export function describeNameConstraints(nc: NameConstraints | undefined): string {
  if (!hasNameConstraints(nc)) return 'none';
  const parts: string[] = [];
  if (nc.permitted.length > 0) parts.push(`permitted: ${nc.permitted.map(formatNameConstraint).join(', ')}`);
  if (nc.excluded.length > 0) parts.push(`excluded: ${nc.excluded.map(formatNameConstraint).join(', ')}`);
  return parts.join('; ');
}

/** As JSON shows them (ca status --json, the admin API): the text forms. */
export function nameConstraintsJson(nc: NameConstraints | undefined): { permitted: string[]; excluded: string[] } {
  return { permitted: (nc?.permitted ?? []).map(formatNameConstraint), excluded: (nc?.excluded ?? []).map(formatNameConstraint) };
}
