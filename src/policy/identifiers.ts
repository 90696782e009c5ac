import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import type { Identifier } from '../core/identifier.js';
import { canonicalIpAddress } from '../core/ip-address.js';
import { ipRangeContains, parseIpRange, type IpRange } from '../core/ip-range.js';
import { AcmeProblem, type SubProblem } from '../core/problem.js';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Why a dns identifier is unacceptable, or undefined when it is fine (RFC 1035 / RFC 5890 shape). */
export function dnsNameProblem(name: string): { type: 'malformed' | 'rejectedIdentifier'; detail: string } | undefined {
  if (name.length === 0) return { type: 'malformed', detail: 'empty DNS name' };
  // RFC 5890: names travel as A-labels. Say what to send instead of only refusing.
  if (/[^\x21-\x7e]/.test(name)) {
    const ascii = /^[\x21-\x7e\u0080-\uffff]+$/.test(name) ? domainToASCII(name) : '';
    // Suggest the punycode only when it is a name we accept ("\u00ad.example" maps to ".example").
    const asciiProblem = ascii === '' ? undefined : dnsNameProblem(ascii);
    return {
      type: 'rejectedIdentifier',
      detail:
        ascii === ''
          ? `DNS name ${JSON.stringify(name)} has characters no DNS name may have`
          : asciiProblem === undefined
            ? `DNS name "${name}" is not ASCII; send internationalized names in punycode: "${ascii}"`
            : `DNS name "${name}" is not ASCII, and its punycode "${ascii}" is refused too: ${asciiProblem.detail}`,
    };
  }
  if (name.endsWith('.')) return { type: 'rejectedIdentifier', detail: `DNS name "${name}" must not end with a dot` };
  if (name.length > 253) return { type: 'rejectedIdentifier', detail: `DNS name is longer than 253 characters` };
  if (isIP(name) !== 0) return { type: 'rejectedIdentifier', detail: `"${name}" is an IP address; use an identifier of type "ip"` };
  // RFC 8555 §7.1.3: a wildcard is "*." as the whole first label, over a name of two labels or more.
  const base = name.startsWith('*.') ? name.slice(2) : name;
  if (base.includes('*')) {
    return { type: 'rejectedIdentifier', detail: `"${name}": "*" is only allowed as the whole first label ("*.example.internal")` };
  }
  if (base !== name && !base.includes('.')) {
    return { type: 'rejectedIdentifier', detail: `"${name}": a wildcard needs at least two labels after "*."` };
  }
  const labels = base.split('.');
  for (const label of labels) {
    if (label.length === 0) return { type: 'rejectedIdentifier', detail: `DNS name "${name}" has an empty label` };
    if (label.length > 63) return { type: 'rejectedIdentifier', detail: `DNS name "${name}" has a label longer than 63 characters` };
    if (!LABEL.test(label)) {
      return {
        type: 'rejectedIdentifier',
        detail: `DNS name "${name}" has an invalid label "${label}" (letters, digits and inner hyphens only; IDNs in punycode)`,
      };
    }
    const idn = labelIdnaProblem(label);
    if (idn) return { type: 'rejectedIdentifier', detail: `DNS name "${name}": ${idn}` };
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) {
    return { type: 'rejectedIdentifier', detail: `DNS name "${name}" has an all-numeric top-level label` };
  }
  return undefined;
}

/**
 * RFC 5891 §4.2.3.1 / RFC 5890 §2.3.1: "xn--" labels must be valid A-labels (they decode, and
 * encode back to the same text); other labels with "--" in the third and fourth positions are
 * reserved.
 */
function labelIdnaProblem(label: string): string | undefined {
  const lower = label.toLowerCase();
  if (lower.startsWith('xn--')) {
    const unicode = domainToUnicode(lower);
    if (unicode === '' || unicode === lower || domainToASCII(unicode) !== lower) {
      return `label "${label}" is not a valid punycode A-label (IDNA2008)`;
    }
    return undefined;
  }
  if (lower.slice(2, 4) === '--') return `label "${label}" has "--" in the third and fourth positions, which is reserved for IDNA (RFC 5891 §4.2.3.1)`;
  return undefined;
}

/**
 * Addresses no host can prove it holds, refused at newOrder rather than after a challenge that
 * could only fail: validation never connects to link-local or unspecified addresses (see
 * validation/address-guard.ts), and multicast or broadcast addresses name no single host.
 */
const UNCERTIFIABLE: readonly { readonly range: IpRange; readonly what: string }[] = [
  ['169.254.0.0/16', 'link-local (169.254.0.0/16)'],
  ['fe80::/10', 'link-local (fe80::/10)'],
  ['0.0.0.0/8', 'the unspecified network (0.0.0.0/8)'],
  ['::/128', 'the unspecified address (::)'],
  ['224.0.0.0/4', 'multicast (224.0.0.0/4)'],
  ['ff00::/8', 'multicast (ff00::/8)'],
  ['255.255.255.255/32', 'the broadcast address'],
].map(([cidr, what]) => ({ range: parseIpRange(cidr!)!, what: what! }));

/** RFC 8738 §3: an "ip" identifier is the address in its canonical text (RFC 5952 for IPv6). */
export function ipAddressProblem(value: string): { type: 'malformed' | 'rejectedIdentifier'; detail: string } | undefined {
  const canonical = canonicalIpAddress(value);
  if (canonical === undefined) return { type: 'malformed', detail: `"${value}" is not an IPv4 or IPv6 address` };
  if (canonical !== value) {
    return { type: 'malformed', detail: `IP address "${value}" is not in canonical form; send "${canonical}" (RFC 8738, RFC 5952)` };
  }
  const uncertifiable = UNCERTIFIABLE.find((u) => ipRangeContains(u.range, value));
  if (uncertifiable) {
    return { type: 'rejectedIdentifier', detail: `IP address ${value} is ${uncertifiable.what}: no host can be validated for it, so this CA does not certify it` };
  }
  return undefined;
}

/**
 * Checks newOrder identifiers (RFC 8555 §7.4). Returns them de-duplicated (case-insensitively,
 * first spelling kept: clients match authorizations to names by the string they sent).
 * Several bad identifiers give one problem with a subproblem each (RFC 8555 §6.7.1).
 */
export function checkOrderIdentifiers(input: unknown, maxIdentifiers = 100): Identifier[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new AcmeProblem('malformed', 'newOrder needs a non-empty "identifiers" array');
  }
  if (input.length > maxIdentifiers) {
    throw new AcmeProblem('rejectedIdentifier', `an order may name at most ${maxIdentifiers} identifiers`);
  }
  const seen = new Set<string>();
  const out: Identifier[] = [];
  const problems: SubProblem[] = [];
  for (const item of input) {
    if (typeof item !== 'object' || item === null || typeof item.type !== 'string' || typeof item.value !== 'string') {
      throw new AcmeProblem('malformed', 'each identifier must be an object {"type": "dns", "value": "<name>"}');
    }
    const id = { type: item.type, value: item.value } as Identifier;
    if (item.type !== 'dns' && item.type !== 'ip') {
      problems.push({
        type: 'unsupportedIdentifier',
        detail: `identifier type "${item.type}" is not supported; use "dns" or "ip"`,
        identifier: id,
      });
      continue;
    }
    const bad = item.type === 'ip' ? ipAddressProblem(item.value) : dnsNameProblem(item.value);
    if (bad) {
      problems.push({ ...bad, identifier: id });
      continue;
    }
    const key = `${item.type}:${item.value.toLowerCase()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(id);
  }
  if (problems.length === 1) {
    const p = problems[0]!;
    throw new AcmeProblem(p.type, p.detail, { identifier: p.identifier });
  }
  if (problems.length > 1) {
    const types = new Set(problems.map((p) => p.type));
    const type = types.size === 1 ? problems[0]!.type : 'rejectedIdentifier';
    throw new AcmeProblem(type, `${problems.length} identifiers in the order were refused; see subproblems`, {
      subproblems: problems,
    });
  }
  return out;
}
