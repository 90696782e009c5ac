import type { EabKeyRecord, NewEabKey } from '../records.js';

export interface EabKeysReader {
  getEabKey(kid: string): Promise<EabKeyRecord | undefined>;
  listEabKeys(): Promise<EabKeyRecord[]>;
}

/** External account binding keys (RFC 8555 §7.3.4); createAccount claims their bindings. */
export interface EabKeysLedger extends EabKeysReader {
  /** Stores a new external account binding key and audits it as `actor`. */
  createEabKey(key: NewEabKey, actor: string): Promise<void>;
  /** False when there is no such key or it was revoked already. */
  revokeEabKey(kid: string, at: Date, actor: string): Promise<boolean>;
}
