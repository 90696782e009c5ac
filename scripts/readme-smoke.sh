#!/usr/bin/env bash
# The README's promise, run as written: `npm start`, then the certbot and lego commands from the
# README against it, then `openssl verify` against the root downloaded from /roots.pem.
# Needs root (http-01 on port 80, certbot's /etc/letsencrypt) and free ports 80 and 8443.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
log="$work/server.log"
cleanup() {
  # npm start runs node as a child: end the whole process group it leads.
  [ -n "${server_pid:-}" ] && kill -- "-$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cd "$repo"
CERTMINT_DATA_DIR="$work/data" setsid npm start >"$log" 2>&1 &
server_pid=$!
# npm start compiles first (tsc: about 7 s on an idle 2-core machine, over 20 s on a loaded one).
for _ in $(seq 1 300); do
  grep -q "ACME directory at" "$log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "readme-smoke: npm start exited"; exit 1; }
  sleep 0.2
done
grep -q "ACME directory at" "$log" || { cat "$log"; echo "readme-smoke: server not up after 60 s"; exit 1; }

cd "$work"
# README: Trusting the root
curl -sS --cacert data/ca/root.pem -o roots.pem https://localhost:8443/roots.pem
openssl x509 -in roots.pem -noout -fingerprint -sha256

# README: certbot. Each run starts a new CA and ledger, so certbot's lineage and account from an
# earlier run would be stale (it would skip issuance, or present an account this ledger never had).
[ -d /etc/letsencrypt/live/localhost ] && certbot delete --cert-name localhost --non-interactive >/dev/null
rm -rf /etc/letsencrypt/accounts/localhost:8443
REQUESTS_CA_BUNDLE=$PWD/roots.pem certbot certonly --standalone \
  --server https://localhost:8443/directory \
  --agree-tos --register-unsafely-without-email -d localhost --non-interactive
openssl verify -CAfile roots.pem -untrusted /etc/letsencrypt/live/localhost/chain.pem \
  /etc/letsencrypt/live/localhost/cert.pem

# README: lego
LEGO_CA_CERTIFICATES=$PWD/roots.pem lego --server https://localhost:8443/directory \
  --email ops@example.internal --accept-tos --domains localhost --http run
csplit -s -z -f lego- .lego/certificates/localhost.crt '/-----BEGIN CERTIFICATE-----/' '{*}'
openssl verify -CAfile roots.pem -untrusted lego-01 lego-00
echo "readme-smoke: certbot and lego certificates verify against /roots.pem"
