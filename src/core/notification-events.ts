/**
 * Every event a webhook can subscribe to (notifications.webhooks[].events). The ledger raises
 * certificate.issued, certificate.revoked, account.created and eab.bound itself, in the transaction
 * of the change; the serve process's renewal-risk check (notify/renewal-risk-check.ts) raises
 * certificate.renewal-overdue and certificate.expiring-unrenewed once per certificate, and on the
 * same timer (notify/ca-crl-check.ts) ca.expiring once per CA certificate and crl.stale once per stale CRL.
 */
export const NOTIFICATION_EVENTS = [
  'certificate.issued',
  'certificate.revoked',
  'certificate.renewal-overdue',
  'certificate.expiring-unrenewed',
  'ca.expiring',
  'crl.stale',
  'account.created',
  'eab.bound',
] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENTS)[number];
