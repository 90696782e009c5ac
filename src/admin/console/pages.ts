import { accountsPages } from './accounts-pages.js';
import { auditPage } from './audit-page.js';
import { caPage } from './ca-page.js';
import type { ConsolePages } from './console-app.js';
import { certificatePages } from './certificate-page.js';
import { certificatesPages } from './certificates-page.js';
import { eabPages } from './eab-pages.js';
import { notificationsPage } from './notifications-page.js';
import { overviewPages } from './overview-page.js';

/** Every group of console pages, registered in the signed-in scope (console-app.ts). */
export const CONSOLE_PAGES: readonly ConsolePages[] = [overviewPages, certificatesPages, certificatePages, accountsPages, eabPages, caPage, auditPage, notificationsPage];
