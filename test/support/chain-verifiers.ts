import { execFile } from 'node:child_process';
import { buildX509Verify } from '../interop/go-client.js';
import { requireOrSkipFound } from './clients.js';

const x509verify = await buildX509Verify();
/** Whether Go's x509.Verify takes part; false only without `go`, and then CERTMINT_REQUIRE_CLIENTS=1 fails the file. */
export const goVerifyAvailable = requireOrSkipFound(x509verify !== null, '`go` is not on PATH', 'go (test/interop/x509verify)', 'apt-get install golang-go');

/** What a verifier said: whether it accepted the chain, and its output (its error when it did not). */
export interface Verdict {
  readonly ok: boolean;
  readonly output: string;
}

function run(command: string, args: readonly string[]): Promise<Verdict> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}`.trim() }));
  });
}

/** `openssl verify -x509_strict` of a leaf (PEM file) to a root through an intermediate, as the issue asks. */
export function opensslVerifyStrict(rootFile: string, intermediateFile: string, leafFile: string): Promise<Verdict> {
  return run('openssl', ['verify', '-x509_strict', '-CAfile', rootFile, '-untrusted', intermediateFile, leafFile]);
}

/** Go's x509.Verify (test/interop/x509verify), with the name checked when `dnsName` is given. */
export function goVerify(rootFile: string, intermediateFile: string, leafFile: string, dnsName?: string): Promise<Verdict> {
  if (x509verify === null) throw new Error('test/interop/x509verify is not built (gate the test on goVerifyAvailable)');
  return run(x509verify, ['-roots', rootFile, '-intermediates', intermediateFile, ...(dnsName ? ['-dns', dnsName] : []), leafFile]);
}
