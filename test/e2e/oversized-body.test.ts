import { execFile, spawnSync } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireOrSkipFound } from '../support/clients.js';
import { OVERSIZED_BODY_DRAIN } from '../../src/acme/oversized-body.js';

// Issue 21, a rough edge: an oversized body got its 413 problem, but the server closed the
// connection before the client had sent it all, and a client that writes the whole body before
// reading (Python's requests) saw a reset instead. Now the rest of the body is read and thrown
// away up to a bound (OVERSIZED_BODY_DRAIN: bytes and time) before the answer; beyond it the
// connection is closed as before. Through a running `certmint serve` over TLS, bodyLimit 64 kB.

// Debian's python3 first: .ci/run installs python3-requests for it, while a python3 earlier on
// PATH (pyenv, a virtualenv) may lack requests.
const python = ['/usr/bin/python3', 'python3'].find((bin) => spawnSync(bin, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0);
const withPython = requireOrSkipFound(python !== undefined, 'no python3 can import requests', 'python3-requests', 'apt-get install python3-requests');

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

let certmint: CertmintProcess;
beforeAll(async () => {
  certmint = await startCertmint();
});
afterAll(async () => certmint?.stop());

const port = () => Number(new URL(certmint.baseUrl).port);

/** A requests.post of 2 MB (Content-Length, or chunked from a generator), as a user's script would send it. */
const PYTHON_POST = `
import json, sys, requests
url, roots, framing = sys.argv[1:4]
body = b'{"protected":"' + b'a' * (2 * 1024 * 1024) + b'"}'
data = body if framing == 'length' else (body[i:i + 65536] for i in range(0, len(body), 65536))
try:
    r = requests.post(url, data=data, headers={'Content-Type': 'application/jose+json'}, verify=roots, timeout=30)
    print(json.dumps({'status': r.status_code, 'nonce': r.headers.get('Replay-Nonce'), 'contentType': r.headers.get('Content-Type'), 'body': r.text}))
except Exception as e:
    print(json.dumps({'error': type(e).__name__ + ': ' + str(e)}))
`;

interface RawAnswer {
  /** Everything the server wrote before it closed the connection. */
  readonly text: string;
  /** Set when a write failed: the server closed (or reset) before the body was sent. */
  readonly writeError?: string;
  /** How many body bytes the client had handed to the socket when it stopped. */
  readonly sent: number;
  /** ms from the first byte of the request to the connection's close. */
  readonly ms: number;
}

/**
 * POSTs `total` bytes to newAccount over TLS in `piece`-sized writes, one every `everyMs`, and
 * reads nothing until it has written it all (or a write failed): a client that writes first.
 * `chunked`: Transfer-Encoding: chunked instead of Content-Length.
 */
async function postRaw(o: { total: number; piece: number; everyMs: number; chunked: boolean; burst?: number; readWhileSending?: boolean }): Promise<RawAnswer> {
  const socket = await new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: port(), ca: certmint.rootPem, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
  let writeError: string | undefined;
  socket.on('error', (e) => (writeError ??= e.message));
  let text = '';
  const read = () => socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  if (o.readWhileSending) read();
  const started = performance.now();
  const framing = o.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${o.total}`;
  socket.write(`POST /acme/new-account HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/jose+json\r\n${framing}\r\n\r\n`);
  let sent = 0;
  while (sent < o.total && !socket.destroyed && writeError === undefined) {
    const n = Math.min(sent === 0 && o.burst ? o.burst : o.piece, o.total - sent);
    const data = Buffer.alloc(n, 0x61);
    socket.write(o.chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data);
    sent += n;
    if (o.everyMs > 0) await new Promise((r) => setTimeout(r, o.everyMs));
    else await new Promise<void>((r) => (socket.writableNeedDrain ? socket.once('drain', r).once('close', r) : setImmediate(r)));
  }
  if (o.chunked && !socket.destroyed) socket.write('0\r\n\r\n');
  if (!o.readWhileSending) read();
  await closed;
  return { text, ...(writeError !== undefined ? { writeError } : {}), sent, ms: performance.now() - started };
}

/** The status, headers and body of one HTTP/1.1 answer, checking that the body is whole. */
function parseAnswer(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  expect(end, `no complete response head in ${JSON.stringify(text.slice(0, 200))}`).toBeGreaterThan(0);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const body = text.slice(end + 4);
  expect(Buffer.byteLength(body, 'latin1')).toBe(Number(headers['content-length']));
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

function expectTooLargeProblem(a: RawAnswer) {
  const answer = parseAnswer(a.text);
  expect(answer.status).toBe(413);
  expect(answer.headers['content-type']).toBe('application/problem+json');
  expect(answer.headers['replay-nonce']).toMatch(/^[\w-]+$/);
  expect(JSON.parse(answer.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 413 });
}

/** The server still serves ACME: a new account gets created. */
async function expectHealthy() {
  const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
  expect((await wire.get('/health')).status).toBe(200);
  const { res } = await wire.newAccount();
  expect(res.status, res.body).toBe(201);
}

describe.skipIf(!withPython)('an oversized body through Python requests (issue 21)', () => {
  it.each(['length', 'chunked'])('requests.post of 2 MB (%s) gets the 413 problem with a nonce, not a reset', async (framing) => {
    const { stdout } = await promisify(execFile)(python!, ['-c', PYTHON_POST, `${certmint.baseUrl}/acme/new-account`, certmint.rootFile, framing]);
    const result = JSON.parse(stdout) as { error?: string; status?: number; nonce?: string; contentType?: string; body?: string };
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(413);
    expect(result.contentType).toBe('application/problem+json');
    expect(result.nonce).toMatch(/^[\w-]+$/);
    expect(JSON.parse(result.body!)).toMatchObject({ type: 'urn:ietf:params:acme:error:malformed', status: 413 });
  });
});

describe('an oversized body from a client that writes it all before reading (issue 21)', () => {
  it('3 MB in 64 kB writes every 20 ms (Content-Length): a complete 413 problem', async () => {
    const a = await postRaw({ total: 3 * MB, piece: CHUNK, everyMs: 20, chunked: false });
    expect(a.writeError).toBeUndefined();
    expect(a.sent).toBe(3 * MB);
    expectTooLargeProblem(a);
  });

  it('3 MB in 64 kB chunks every 20 ms (Transfer-Encoding: chunked, no Content-Length): a complete 413 problem', async () => {
    const a = await postRaw({ total: 3 * MB, piece: CHUNK, everyMs: 20, chunked: true });
    expect(a.writeError).toBeUndefined();
    expect(a.sent).toBe(3 * MB);
    expectTooLargeProblem(a);
  });

  it.each([false, true])(`beyond the byte bound (${OVERSIZED_BODY_DRAIN.bytes / MB} MB drained): 20 MB at full speed is cut off; the server serves on (chunked: %s)`, async (chunked) => {
    const a = await postRaw({ total: 20 * MB, piece: CHUNK, everyMs: 0, chunked });
    // Closed before the client had sent it all; it may or may not have read the 413 first.
    expect(a.sent).toBeLessThan(20 * MB);
    expect(a.sent).toBeGreaterThan(OVERSIZED_BODY_DRAIN.bytes);
    await expectHealthy();
  });

  it.each([false, true])(`beyond the time bound (${OVERSIZED_BODY_DRAIN.ms} ms): a trickle is answered 413 and closed at the bound; the server serves on (chunked: %s)`, async (chunked) => {
    // 128 kB at once (past bodyLimit), then 4 kB every 100 ms: 1 MB would take 22 s. This
    // client reads as it sends, so it may see the 413 before the close.
    const a = await postRaw({ total: MB, burst: 128 * 1024, piece: 4096, everyMs: 100, chunked, readWhileSending: true });
    expect(a.sent).toBeLessThan(MB);
    expect(a.ms).toBeGreaterThanOrEqual(OVERSIZED_BODY_DRAIN.ms - 100);
    if (a.text !== '') expect(a.text).toMatch(/^HTTP\/1\.1 413 /);
    await expectHealthy();
  });
});
