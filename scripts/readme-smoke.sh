#!/usr/bin/env bash
# The documents' promise, run as written: `npm start` on a fresh data dir, then every
# `<!-- smoke -->` block of README.md and docs/*.md (README first, then the pages in the order of
# DOC_ORDER in scripts/doc-blocks.mjs), each as it stands in the document, so a changed command in
# a document is what runs here. Needs root (http-01 on port 80, certbot's /etc/letsencrypt) and
# free ports 80 and 8443.
#
# What a smoke block may rely on:
# - bash with -e -u -o pipefail; each block runs in its own subshell (no variables from earlier
#   blocks), in order, in one work directory that is the current directory and holds what earlier
#   blocks wrote (roots.pem after the README's trust block, .lego/ after its lego block);
# - the server of `npm start` at https://localhost:8443 with every default, validating http-01 on
#   port 80, its data dir at ./data (CERTMINT_DATA_DIR, exported, so admin commands find it);
# - `npx certmint ...` and `certmint ...` run this checkout's dist/cli/main.js (a wrapper on PATH:
#   npx would otherwise look for certmint outside the repository);
# - certbot's state for `localhost` from the README's certbot block in /etc/letsencrypt;
# - curl, openssl, certbot, lego and coreutils (csplit, basenc); nothing .ci/run does not install.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
log="$work/server.log"
cleanup() {
  # npm start runs node as a child: end the whole process group it leads.
  if [ -n "${server_pid:-}" ] && kill -- "-$server_pid" 2>/dev/null; then
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in curl openssl csplit basenc certbot lego; do
  command -v "$tool" >/dev/null || { echo "readme-smoke: $tool is missing (.ci/run installs what the smoke needs)"; exit 1; }
done

# The blocks first: a document that does not parse fails before the server starts.
node "$repo/scripts/doc-blocks.mjs" smoke "$repo" >"$work/doc-blocks.sh"

mkdir -p "$work/bin"
cat >"$work/bin/certmint" <<EOF
#!/bin/sh
exec node "$repo/dist/cli/main.js" "\$@"
EOF
real_npx=$(command -v npx)
cat >"$work/bin/npx" <<EOF
#!/bin/sh
if [ "\$1" = certmint ]; then shift; exec "$work/bin/certmint" "\$@"; fi
exec "$real_npx" "\$@"
EOF
chmod +x "$work/bin/certmint" "$work/bin/npx"

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

# Each run starts a new CA and ledger, so certbot's lineage and account from an earlier run would
# be stale (it would skip issuance, or present an account this ledger never had).
[ -d /etc/letsencrypt/live/localhost ] && certbot delete --cert-name localhost --non-interactive >/dev/null
rm -rf /etc/letsencrypt/accounts/localhost:8443

cd "$work"
if ! CERTMINT_DATA_DIR="$work/data" PATH="$work/bin:$PATH" bash -euo pipefail "$work/doc-blocks.sh"; then
  echo "readme-smoke: the block named last above failed; server log:"
  tail -n 20 "$log"
  exit 1
fi
echo "readme-smoke: every smoke block of README.md and docs/*.md ran against npm start"
