import { ipBytes, ipRangeContainsBytes, parseIpRange, type IpRange } from '../core/ip-range.js';

/**
 * Why validation must not connect to `address` (words that follow the address in a problem
 * detail), or undefined when it may. Checked on each resolved address right before connecting to
 * that very address, so neither a name with several addresses nor DNS rebinding gets past it.
 */
export type AddressGuard = (address: string) => string | undefined;

function range(text: string): IpRange {
  const parsed = parseIpRange(text);
  if (!parsed) throw new Error(`not a CIDR: ${text}`);
  return parsed;
}

/**
 * Refused whatever the config says. Link-local is where cloud metadata services answer
 * (169.254.169.254 holds instance credentials on AWS, GCP and Azure) and never an applicant's
 * host; the unspecified address is sent to this host's loopback by connect(), around a
 * deniedNetworks entry for 127.0.0.0/8.
 */
const ALWAYS_REFUSED: readonly { readonly range: IpRange; readonly why: string }[] = [
  { range: range('169.254.0.0/16'), why: 'is link-local (169.254.0.0/16, where cloud metadata services answer); validation never connects there' },
  { range: range('fe80::/10'), why: 'is link-local (fe80::/10); validation never connects there' },
  { range: range('0.0.0.0/8'), why: "is the unspecified address, which reaches this CA's own host; validation never connects there" },
  { range: range('::/128'), why: "is the unspecified address, which reaches this CA's own host; validation never connects there" },
];

// The operator's ranges are not named to the applicant: a client could map them by probing.
const DENIED = 'is in a network this CA does not validate (validation.deniedNetworks)';

/** The link-local and unspecified ranges, and `deniedNetworks` (parsed CIDRs from the config). */
export function addressGuard(deniedNetworks: readonly IpRange[] = []): AddressGuard {
  return (address) => {
    // Parsed once: each validation checks every address it connects to against every range.
    const bytes = ipBytes(address);
    if (!bytes) return 'is not an IP address; validation connects only to addresses';
    const forms = [bytes, ...otherForms(bytes)];
    for (const form of forms) {
      const always = ALWAYS_REFUSED.find((r) => ipRangeContainsBytes(r.range, form));
      if (always) return always.why;
    }
    return forms.some((form) => deniedNetworks.some((r) => ipRangeContainsBytes(r, form))) ? DENIED : undefined;
  };
}

/**
 * The other forms of an address (its bytes). For IPv6, the IPv4 address it stands for, where connecting to it reaches that IPv4 host:
 * IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2; a dual-stack socket connects over IPv4),
 * the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1) and IPv4-compatible ::/96
 * (deprecated, RFC 4291 §2.5.5.1; ::1 and :: excluded, they are IPv6's own).
 */
function otherForms(b: Uint8Array): Uint8Array[] {
  if (b.length === 4) {
    // And the other way: an IPv4 address is also its mapped form, for IPv6 ranges (as BlockList reads them).
    const mapped = new Uint8Array(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set(b, 12);
    return [mapped];
  }
  if (b.length !== 16) return [];
  const zeros = (from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);
  const mapped = zeros(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12);
  const compatible = zeros(0, 12) && b[12] !== 0;
  return mapped || nat64 || compatible ? [b.slice(12)] : [];
}
