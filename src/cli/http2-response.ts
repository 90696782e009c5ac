import { Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';

/**
 * The compat API's method that sends a response's HEADERS (`stream.respond`), found by its symbol's
 * description: Node exports the class but not the symbol.
 */
const BEGIN_SEND = Object.getOwnPropertySymbols(Http2ServerResponse.prototype).find((symbol) => symbol.description === 'begin-send');

/**
 * A response whose last DATA frame carries END_STREAM. Node's compat API (which fastify serves
 * HTTP/2 through) always responds with `waitForTrailers`, so a body goes out in one DATA frame and
 * END_STREAM in an empty one of its own, after the body's write completed. x/crypto/acme has decoded
 * the JSON by then and closes the body, and Go's transport resets a stream whose END_STREAM it has
 * not seen (RST_STREAM CANCEL): measured on ~70 % of the Go client's streams. Those resets are work
 * for both ends and count against nghttp2's rapid-reset allowance (see HTTP2_MAX_STREAMS_PER_SESSION).
 *
 * Responding without waitForTrailers lets Node end the stream with its last write (Http2Stream's
 * write path shuts the writable side down before the DATA frame is built). The price: trailers
 * (`res.addTrailers`) would be dropped; certmint sends none.
 */
export class WholeHttp2Response extends Http2ServerResponse {}

if (BEGIN_SEND !== undefined) {
  const beginSend = (Http2ServerResponse.prototype as unknown as Record<symbol, () => void>)[BEGIN_SEND]!;
  Object.defineProperty(WholeHttp2Response.prototype, BEGIN_SEND, {
    value(this: WholeHttp2Response) {
      const stream = this.stream as ServerHttp2Stream & { respond: ServerHttp2Stream['respond'] };
      const respond = stream.respond;
      // An own property for this one call, over the prototype's method.
      stream.respond = function (this: ServerHttp2Stream, headers, options) {
        respond.call(this, headers, { ...options, waitForTrailers: false });
      };
      try {
        beginSend.call(this);
      } finally {
        delete (stream as Partial<typeof stream>).respond;
      }
    },
  });
}

/** Whether this Node's compat API could be adjusted (else responses end as Node's own do). */
export const HTTP2_END_STREAM_WITH_DATA = BEGIN_SEND !== undefined;
