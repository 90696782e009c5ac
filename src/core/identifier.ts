/** An ACME identifier (RFC 8555 §7.1.4; `ip` from RFC 8738). */
export interface Identifier {
  readonly type: 'dns' | 'ip';
  readonly value: string;
}

export function identifierKey(id: Identifier): string {
  return `${id.type}:${id.value.toLowerCase()}`;
}

export function formatIdentifier(id: Identifier): string {
  return id.type === 'dns' ? id.value : `${id.value} (ip)`;
}
