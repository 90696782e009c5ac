import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, type Html } from './html.js';
import { page, type PageParts, type ConsoleSite } from './layout.js';

// What the accounts, EAB keys, CA, audit and notifications pages share: the notice an action
// leaves for the page it redirects to, instants, the pager link, query cleaning, a row's action.

export type NoticeKind = 'ok' | 'error' | 'info';

/**
 * The notice an action's 303 leaves for the next page (post/redirect/get), kept beside the session
 * rather than in the URL, so no link can make the console claim something happened. In this
 * process's memory, keyed by the session's CSRF token (one per session): behind a load balancer
 * the page after the redirect may be served by another instance, which then shows no notice (the
 * page itself shows the new state). One board per page group; at most 10,000 notices wait.
 */
export class NoticeBoard {
  private static readonly MAX = 10_000;
  private readonly notices = new Map<string, { kind: NoticeKind; text: string }>();

  set(request: FastifyRequest, kind: NoticeKind, text: string): void {
    const key = request.consoleSession?.csrf;
    if (key === undefined) return;
    this.notices.delete(key);
    if (this.notices.size >= NoticeBoard.MAX) this.notices.delete(this.notices.keys().next().value!);
    this.notices.set(key, { kind, text });
  }

  /** The pending notice, shown once, as a status region (an alert for an error). */
  take(request: FastifyRequest): Html | false {
    const key = request.consoleSession?.csrf;
    const notice = key !== undefined ? this.notices.get(key) : undefined;
    if (key === undefined || !notice) return false;
    this.notices.delete(key);
    return html`<p class="${notice.kind === 'info' ? 'notice' : `notice ${notice.kind}`}" role="${notice.kind === 'error' ? 'alert' : 'status'}">${notice.text}</p>`;
  }
}

export function sendPage(site: ConsoleSite, request: FastifyRequest, reply: FastifyReply, parts: PageParts, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page(site, request, parts));
}

/** An instant as the CLI prints it (UTC, to the second), machine-readable in datetime. */
export function when(at: Date | string | null | undefined): Html | string {
  if (at === null || at === undefined) return '—';
  const iso = typeof at === 'string' ? at : at.toISOString();
  return html`<time datetime="${iso}">${iso.replace(/\.\d{3}Z$/, 'Z').replace('T', ' ')}</time>`;
}

/** A query's non-empty fields: an empty filter field of a GET form means "no filter", as if left out. */
export function filledIn(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (v === '') continue;
    // A repeated parameter stays an array: the API's own check refuses it with its message.
    out[k] = v as string;
  }
  return out;
}

/** The "Next page" link of a keyset list: this query with the next cursor. */
export function nextPageLink(path: string, query: Record<string, string>, next: string | null): Html | false {
  if (next === null) return false;
  const params = new URLSearchParams({ ...query, cursor: next });
  return html`<nav class="pager" aria-label="Pages"><span></span><a rel="next" href="${path}?${params.toString()}">Next page</a></nav>`;
}

/**
 * A small POST form with one button (and the CSRF field), for an action on one row; `describedBy`
 * names the cell that says which row, so a screen reader hears "Revoke, <key id>".
 */
export function actionButton(action: string, csrf: Html, label: string, opts: { danger?: boolean; describedBy?: string } = {}): Html {
  return html`<form method="post" action="${action}" class="inline">${csrf}<button type="submit"${opts.danger ? html` class="danger"` : ''}${
    opts.describedBy !== undefined ? html` aria-describedby="${opts.describedBy}"` : ''
  }>${label}</button></form>`;
}
