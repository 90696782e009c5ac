/**
 * DER as PEM the way openssl writes it: 64 base64 characters a line, and no empty line before END
 * when the base64 fills the last line exactly (openssl refuses that, so a helper that adds one
 * fails only for some keys and serials).
 */
export function pemOf(der: Uint8Array, label = 'CERTIFICATE'): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`, ''].join('\n');
}
