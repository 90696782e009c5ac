import type { OutboxEvent } from '../ledger/ledger.js';

/**
 * An address certmint puts into an SMTP command or a header: "local@domain", the local part of
 * RFC 5322 atext and dots, the domain of LDH labels. Narrower than RFC 5321 on purpose (no quoted
 * local parts, no address literals): whatever passes cannot carry a CR, LF, space, "<" or ">",
 * so no contact can add a header or an SMTP command.
 */
export function isMailboxAddress(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at < 1) return false;
  const local = address.slice(0, at);
  const labels = address.slice(at + 1).split('.');
  if (local.length > 64 || !/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)) return false;
  return labels.length >= 2 && labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** The addresses of an account's contacts: mailto: ones that are one plain address each; the others are left out. */
export function mailtoAddresses(contacts: readonly string[]): { readonly addresses: string[]; readonly skipped: string[] } {
  const addresses: string[] = [];
  const skipped: string[] = [];
  for (const c of contacts) {
    const address = c.startsWith('mailto:') ? c.slice('mailto:'.length) : undefined;
    if (address !== undefined && isMailboxAddress(address)) {
      if (!addresses.some((a) => a.toLowerCase() === address.toLowerCase())) addresses.push(address);
    } else {
      skipped.push(c);
    }
  }
  return { addresses, skipped };
}

/** What the message tells: the event's payload as the renewal-risk check writes it (ledger/renewal-risk-events.ts). */
interface RiskPayload {
  readonly serial: string;
  readonly identifiers: readonly string[];
  readonly notAfter: string;
  readonly renewalDueAt: string;
  readonly accountId: string | undefined;
}

export interface EmailMessageInput {
  readonly event: OutboxEvent;
  readonly from: string;
  readonly to: readonly string[];
  readonly now: Date;
  /** The ACME directory's URL, for the client's renewal command. */
  readonly directoryUrl: string;
}

/**
 * The message (RFC 5322, CRLF line ends, plain text): a subject naming the event and the first
 * identifier, Message-ID from the delivery id (a retry of the same delivery is the same message
 * to the receiving side) and a body that names the certificate, its identifiers, when it expires
 * and what to run.
 */
export function emailMessage(m: EmailMessageInput): string {
  const p = riskPayload(m.event);
  const first = p.identifiers[0] ?? p.serial;
  const overdue = m.event.type === 'certificate.renewal-overdue';
  const subject = overdue ? `[certmint] renewal overdue: ${first}` : `[certmint] expiring, not renewed: ${first}`;
  const domain = m.from.slice(m.from.lastIndexOf('@') + 1);
  const left = Date.parse(p.notAfter) - m.now.getTime();
  const headers = [
    `From: certmint <${m.from}>`,
    `To: ${m.to.map((a) => `<${a}>`).join(', ')}`,
    `Subject: ${headerText(subject)}`,
    `Date: ${rfc5322Date(m.now)}`,
    `Message-ID: <${headerText(m.event.deliveryId)}@${domain}>`,
    `Certmint-Delivery: ${headerText(m.event.deliveryId)}`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const names = p.identifiers.length > 0 ? p.identifiers.join(', ') : '(none)';
  const body = [
    overdue
      ? `The certificate for ${first} should have been renewed by ${p.renewalDueAt}, and no replacement has been issued.`
      : `The certificate for ${first} expires ${p.notAfter} (${inWords(left)}), and no replacement has been issued.`,
    'Whatever renews it has stopped working, or has been removed.',
    '',
    `Event:        ${m.event.type}`,
    `Certificate:  ${p.serial}`,
    `Identifiers:  ${names}`,
    `Expires:      ${p.notAfter} (${inWords(left)})`,
    `Renewal due:  ${p.renewalDueAt}`,
    `Account:      ${p.accountId ?? '(none)'}`,
    '',
    'What to run, on the host that holds this certificate: its ACME client\'s renewal, and read',
    'its output. For example:',
    `  certbot renew --cert-name ${first}`,
    `  lego --server ${m.directoryUrl} --domains ${first} renew`,
    `  cmctl renew <certificate>     (cert-manager)`,
    '',
    'The CA\'s operator sees the certificate, its lineage and its account with:',
    `  certmint certs show ${p.serial}`,
    '',
    'You get this because the ACME account that ordered the certificate names this address as',
    'its contact. Mails like it are sent once per certificate.',
  ];
  return [...headers, '', ...body.map(bodyText)].join('\r\n');
}

/** `certmint notifications test --email`: a message that says what it is, with the headers real ones carry. */
export function testEmailMessage(m: { readonly from: string; readonly to: string; readonly now: Date; readonly deliveryId: string; readonly baseUrl: string }): string {
  const domain = m.from.slice(m.from.lastIndexOf('@') + 1);
  return [
    `From: certmint <${m.from}>`,
    `To: <${m.to}>`,
    'Subject: [certmint] test message',
    `Date: ${rfc5322Date(m.now)}`,
    `Message-ID: <${m.deliveryId}@${domain}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    bodyText(`A test of certmint's email notifications (certmint notifications test --email), from the CA at ${m.baseUrl}.`),
    'Renewal-overdue and expiring-unrenewed certificates are mailed to their ACME accounts\' contacts this way.',
  ].join('\r\n');
}

function riskPayload(e: OutboxEvent): RiskPayload {
  const p = e.payload;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    serial: text(p.serial) || e.subject,
    identifiers: Array.isArray(p.identifiers) ? p.identifiers.filter((i): i is string => typeof i === 'string') : [],
    notAfter: text(p.notAfter),
    renewalDueAt: text(p.renewalDueAt),
    accountId: typeof p.accountId === 'string' ? p.accountId : undefined,
  };
}

/** RFC 5322 §3.3 with a numeric zone: "Sun, 06 Dec 2026 10:37:19 +0000". */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** Header values come from the ledger (identifiers, ids): printable ASCII only, at most one line's worth. */
function headerText(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** No control characters (a lone CR or LF would end a line the relay reads), and no line past RFC 5322's 998. */
function bodyText(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  const clean = s.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length > 900 ? `${clean.slice(0, 900)}…` : clean;
}

function inWords(ms: number): string {
  if (ms <= 0) return 'expired';
  const hours = Math.floor(ms / 3_600_000);
  if (hours < 1) return 'within the hour';
  if (hours < 48) return `in ${hours} hour${hours === 1 ? '' : 's'}`;
  return `in ${Math.floor(hours / 24)} days`;
}
