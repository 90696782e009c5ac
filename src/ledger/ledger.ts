import type { AccountsLedger, AccountsReader } from './interfaces/accounts.js';
import type { AdminCertificatesLedger, AdminCertificatesReader } from './interfaces/admin-certificates.js';
import type { AdminTokensLedger, AdminTokensReader } from './interfaces/admin-tokens.js';
import type { AuditLedger, AuditReader } from './interfaces/audit.js';
import type { AuthorizationsLedger, AuthorizationsReader } from './interfaces/authorizations.js';
import type { CertificatesLedger, CertificatesReader } from './interfaces/certificates.js';
import type { CrlLedger, CrlReader } from './interfaces/crl.js';
import type { EabKeysLedger, EabKeysReader } from './interfaces/eab.js';
import type { InventoryLedger } from './interfaces/inventory.js';
import type { MaintenanceLedger } from './interfaces/maintenance.js';
import type { MetricsLedger } from './interfaces/metrics.js';
import type { OrdersLedger, OrdersReader } from './interfaces/orders.js';
import type { OutboxLedger, OutboxReader } from './interfaces/outbox.js';
import type { RenewalLedger, RenewalReader } from './interfaces/renewal.js';
import type { SharedStateLedger, SharedStateReader } from './interfaces/shared-state.js';
import type { SubordinatesLedger, SubordinatesReader } from './interfaces/subordinates.js';

// Each aggregate's interface and record types live in interfaces/<aggregate>.ts; this module
// re-exports them so that the rest of the code names one place.
export * from './interfaces/accounts.js';
export * from './interfaces/admin-certificates.js';
export * from './interfaces/admin-tokens.js';
export * from './interfaces/audit.js';
export * from './interfaces/authorizations.js';
export * from './interfaces/certificates.js';
export * from './interfaces/crl.js';
export * from './interfaces/eab.js';
export * from './interfaces/inventory.js';
export * from './interfaces/maintenance.js';
export * from './interfaces/metrics.js';
export * from './interfaces/orders.js';
export * from './interfaces/outbox.js';
export * from './interfaces/renewal.js';
export * from './interfaces/shared-state.js';
export * from './interfaces/subordinates.js';

/**
 * The certificate ledger: the only code with SQL sits behind this interface, one aggregate per
 * interface (interfaces/), each implemented by one file per backend (sqlite/, postgres/) and held
 * to the same contract tests (contract/). Every method is one transaction. Promises throughout so
 * a networked backend fits the same seam.
 */
export interface CertificateLedger
  extends AccountsLedger,
    EabKeysLedger,
    OrdersLedger,
    AuthorizationsLedger,
    CertificatesLedger,
    RenewalLedger,
    CrlLedger,
    AuditLedger,
    SharedStateLedger,
    InventoryLedger,
    MetricsLedger,
    MaintenanceLedger {
  /** The notification outbox (interfaces/outbox.ts): events written by the other aggregates' transactions. */
  readonly outbox: OutboxLedger;
  /** The admin API's bearer tokens (interfaces/admin-tokens.ts). */
  readonly adminTokens: AdminTokensLedger;
  /** The admin listener's mTLS client certificates (interfaces/admin-certificates.ts). */
  readonly adminCertificates: AdminCertificatesLedger;
  /** Subordinate CAs (interfaces/subordinates.ts): the CA certificates certmint's roots signed for other systems. */
  readonly subordinates: SubordinatesLedger;
}

/**
 * Every read of every aggregate and no write: what a layer that must not change the ledger holds
 * (acme/ reads; its writes go through ra/). A CertificateLedger is one.
 */
export interface LedgerReader
  extends AccountsReader,
    EabKeysReader,
    OrdersReader,
    AuthorizationsReader,
    CertificatesReader,
    RenewalReader,
    CrlReader,
    AuditReader,
    SharedStateReader,
    InventoryLedger,
    MetricsLedger {
  readonly outbox: OutboxReader;
  readonly adminTokens: AdminTokensReader;
  readonly adminCertificates: AdminCertificatesReader;
  readonly subordinates: SubordinatesReader;
}
