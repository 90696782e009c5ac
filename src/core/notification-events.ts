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

/**
 * Events mailed to the account's contacts (notifications.email.events): the two that ask its
 * owner to act. The others are the operator's business, told through webhooks.
 */
export const EMAIL_EVENTS = ['certificate.renewal-overdue', 'certificate.expiring-unrenewed'] as const satisfies readonly NotificationEventType[];
export type EmailEventType = (typeof EMAIL_EVENTS)[number];

/** The delivery target of email in the outbox: a webhook name notifications.webhooks may not use. */
export const EMAIL_TARGET = 'email';
