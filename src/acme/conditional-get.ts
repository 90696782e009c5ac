import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A public document (a CRL, a CA certificate) prepared once for every request that asks for it:
 * the body as a Buffer over the same bytes (never copied, read or encoded per request), its
 * entity tag and its Last-Modified date, already formatted.
 */
export interface PreparedDocument {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
  /** Last-Modified in whole seconds since the epoch (HTTP dates have no finer grain). */
  readonly lastModifiedSeconds: number;
}

export function prepareDocument(der: Uint8Array, etag: string, lastModified: Date): PreparedDocument {
  return {
    body: Buffer.from(der.buffer, der.byteOffset, der.byteLength),
    etag,
    lastModified: lastModified.toUTCString(),
    lastModifiedSeconds: Math.floor(lastModified.getTime() / 1000),
  };
}

/** A strong entity tag from the bytes: the same document has the same tag on every instance. */
export function contentTag(der: Uint8Array): string {
  return `"${createHash('sha256').update(der).digest('base64url').slice(0, 22)}"`;
}

/** The entity tags of an If-None-Match header (RFC 9110 §13.1.2), weak ones as their strong twin; '*' for any. */
function matchesAny(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  // An entity tag is a quoted string without commas or quotes inside (RFC 9110 §8.8.3).
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return (t.startsWith('W/') ? t.slice(2) : t) === etag;
  });
}

/**
 * RFC 9110 §13.2.2: If-None-Match decides when present (weak comparison); otherwise
 * If-Modified-Since, when it is an HTTP date not before Last-Modified (one that does not parse is
 * ignored, §13.1.3).
 */
function notModified(request: FastifyRequest, doc: PreparedDocument): boolean {
  const inm = request.headers['if-none-match'];
  if (inm !== undefined) return matchesAny(inm, doc.etag);
  const ims = request.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  if (Number.isNaN(since)) return false;
  return doc.lastModifiedSeconds <= Math.floor(since / 1000);
}

/**
 * Sends a prepared document, or 304 Not Modified without a body when the client holds it already.
 * Caches and relying parties that revalidate (ETag, Last-Modified) cost a header exchange, not
 * the body: a CRL of 100,000 entries is about 5 MB.
 */
export function sendPrepared(
  request: FastifyRequest,
  reply: FastifyReply,
  doc: PreparedDocument,
  o: { readonly contentType: string; readonly cacheControl: string; readonly expires?: string },
) {
  reply.header('ETag', doc.etag).header('Last-Modified', doc.lastModified).header('Cache-Control', o.cacheControl);
  if (o.expires !== undefined) reply.header('Expires', o.expires);
  if (notModified(request, doc)) return reply.code(304).send();
  return reply.type(o.contentType).send(doc.body);
}
