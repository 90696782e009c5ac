import type { ConsolePages } from './console-app.js';
import { certificatePages } from './certificate-page.js';
import { certificatesPages } from './certificates-page.js';
import { overviewPages } from './overview-page.js';

/** Every group of console pages, registered in the signed-in scope (console-app.ts). */
export const CONSOLE_PAGES: readonly ConsolePages[] = [overviewPages, certificatesPages, certificatePages];
