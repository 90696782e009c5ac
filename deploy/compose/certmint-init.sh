#!/bin/sh
# certmint-init: creates, once, the CA that every certmint instance of docker-compose.yml's
# "scale" profile shares (the volume certmint-ca at /data/ca). The instances mount it read-only,
# so none of them can create a CA of its own; this one-shot service runs before them on every
# `up` and leaves an existing CA alone. docs/scale-out.md explains the whole set-up.
#
# It creates what `certmint serve` would otherwise create on a first start of its own:
#   - the root and the intermediate (`certmint ca init --encrypt`: the keys are encrypted with
#     the passphrase in CERTMINT_CA_KEY_PASSPHRASE_FILE, and it refuses to run without one);
#   - secrets.key, the key that seals EAB HMAC keys in the ledger: both instances must open
#     what either one sealed, so it is made here and never by an instance.
#
# Started as root only because a new named volume belongs to root: the CA directory is handed to
# CERTMINT_INIT_USER (default node, uid 1000, the user certmint runs as in its image) and the
# script runs again as that user before it writes anything.
set -eu

ca_dir="${CERTMINT_DATA_DIR:-/data}/ca"
run_as="${CERTMINT_INIT_USER:-node}"

if [ "$(id -u)" = 0 ] && [ "$(id -u "$run_as")" != 0 ]; then
  mkdir -p "$ca_dir"
  chown "$run_as:" "$ca_dir"
  chmod 0700 "$ca_dir"
  exec setpriv --reuid="$run_as" --regid="$(id -g "$run_as")" --init-groups -- /bin/sh "$0" "$@"
fi

# A CA exists when either certificate does. Anything else about it (a missing key, a wrong
# passphrase) is for `certmint serve` to report when the instances load it: this script never
# creates a second CA over part of one.
if [ -e "$ca_dir/root.pem" ] || [ -e "$ca_dir/intermediate.pem" ]; then
  echo "certmint-init: a CA exists in $ca_dir; leaving it as it is"
else
  certmint ca init --encrypt
fi

if [ ! -e "$ca_dir/secrets.key" ]; then
  # 32 random bytes in base64, private to certmint's user (certmint refuses a group- or
  # world-readable secrets.key), renamed into place whole.
  umask 077
  tmp=$(mktemp "$ca_dir/.secrets.key.XXXXXX")
  head -c 32 /dev/urandom | base64 > "$tmp"
  mv "$tmp" "$ca_dir/secrets.key"
  echo "certmint-init: created $ca_dir/secrets.key (seals EAB HMAC keys)"
fi
