import type { ProfileConfig } from '../config/config.js';
import type { PublicKeyInfo } from '../core/public-key.js';

/** The profile of every order that names none. */
export const DEFAULT_PROFILE = 'default';

const KEY_TYPE_OF: Readonly<Record<PublicKeyInfo['kind'], string>> = { rsa: 'rsa', ec: 'ecdsa', ed25519: 'ed25519', other: 'other' };

/** Why a profile refuses a CSR's key type, or undefined. */
export function profileKeyProblem(name: string, profile: ProfileConfig, key: PublicKeyInfo): string | undefined {
  const type = KEY_TYPE_OF[key.kind];
  if ((profile.keyTypes as readonly string[]).includes(type)) return undefined;
  return `profile "${name}" accepts ${profile.keyTypes.join(', ')} keys, not ${type}`;
}
