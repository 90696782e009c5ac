export interface AuditEntry {
  /** Increases with every entry appended. */
  readonly id: number;
  readonly at: Date;
  readonly actor: string;
  /** 'revoke', 'eab-create', 'eab-revoke', 'eab-bind', … */
  readonly action: string;
  readonly subject: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** An event recorded outside the ledger's own transactions (CA files created or rotated). */
export interface NewAuditEntry {
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** `certmint audit`: entries in time order, optionally from or until a time, of one action or subject. */
export interface AuditFilter {
  readonly since?: Date;
  readonly until?: Date;
  readonly action?: string;
  readonly subject?: string;
  readonly limit: number;
  /** Only entries after this one in log order: the next page (keyset pagination, as `certmint audit --all` reads). */
  readonly after?: { readonly at: Date; readonly id: number };
}

export interface AuditReader {
  /** Every entry about one subject (a serial, "account:<id>", "eab:<kid>"), oldest first. */
  auditTrail(subject: string): Promise<AuditEntry[]>;
  listAudit(filter: AuditFilter): Promise<AuditEntry[]>;
  /** How many entries listAudit would give without its limit and `after` (one COUNT). */
  countAudit(filter: AuditFilter): Promise<number>;
}

/** The audit log. Every other aggregate audits its own changes inside their transactions. */
export interface AuditLedger extends AuditReader {
  /** Appends one entry (CA events; everything else is audited inside its own transaction). */
  appendAudit(entry: NewAuditEntry): Promise<void>;
}
