/** The answer of a receiver to one attempt, or why there was none. */
export type PostOutcome =
  | { readonly ok: true; readonly status: number; readonly body: string }
  | { readonly ok: false; readonly status?: number; readonly body?: string; readonly error: string };

/** Of a receiver's answer, this much is read (an operator sees it in `notifications test`); the rest is dropped. */
export const ANSWER_CAP_BYTES = 4096;

/**
 * POSTs once: redirects are not followed (a 3xx is a failure), the answer's body is read up to
 * ANSWER_CAP_BYTES, and the whole attempt (connect, send, headers, body) ends after `timeoutMs`.
 */
export async function postWebhook(url: string, request: { body: string; headers: Readonly<Record<string, string>> }, timeoutMs: number): Promise<PostOutcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', body: request.body, headers: request.headers, redirect: 'manual', signal });
  } catch (e) {
    return { ok: false, error: describe(e, signal, timeoutMs) };
  }
  let body: string;
  try {
    body = await readCapped(response);
  } catch (e) {
    return { ok: false, status: response.status, error: describe(e, signal, timeoutMs) };
  }
  if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status, body };
  const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
  return { ok: false, status: response.status, body, error: `HTTP ${response.status}${redirect}` };
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= ANSWER_CAP_BYTES) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, ANSWER_CAP_BYTES).toString('utf8');
}

function describe(e: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `no answer within ${timeoutMs} ms`;
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message}: ${cause}` : err.message;
}
