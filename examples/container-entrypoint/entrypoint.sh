#!/usr/bin/env bash
# A container entrypoint that gets its TLS certificate from certmint at boot and keeps it fresh:
#
#   1. wait until certmint answers /ready (backoff; certmint may start after this container)
#   2. establish trust in certmint's root (ROOT_FILE, else a pinned ROOT_SHA256, else ROOT_TOFU=1)
#   3. obtain a certificate with lego (http-01 or tls-alpn-01 answered by lego itself), retrying
#      with backoff; on a restart with a certificate already in LEGO_PATH, renew it instead
#   4. install it in CERT_DIR (tls.crt = leaf + chain, tls.key, ca.crt = certmint's roots) and
#      start the service: the arguments of this script, else CERT_EXEC (default: nginx)
#   5. every RENEW_INTERVAL seconds: `lego renew --days RENEW_DAYS`; after a renewal install the
#      new files and run CERT_RELOAD (default: SIGHUP to the service, which nginx reads as reload)
#
# SIGTERM/SIGINT stop the service and any lego run, then exit. If the service exits, so does this
# script, with its status (the container's restart policy takes over).
#
# Every setting is an environment variable; the defaults fit docker-compose.yml.
set -euo pipefail

CERTMINT_URL=${CERTMINT_URL:-https://certmint:8443}
CERTMINT_URL=${CERTMINT_URL%/}
CERTMINT_DIRECTORY=${CERTMINT_DIRECTORY:-$CERTMINT_URL/directory}
DOMAINS=${DOMAINS:-}                 # comma- or space-separated; the first names the files
EMAIL=${EMAIL:-}                     # lego needs one; default: certmint-client@<first name>
EAB_KID=${EAB_KID:-}                 # from `certmint eab create --json` when eab.required
EAB_HMAC=${EAB_HMAC:-}
KEY_TYPE=${KEY_TYPE:-ec256}
CHALLENGE=${CHALLENGE:-http-01}      # http-01 | tls-alpn-01
HTTP01_LISTEN=${HTTP01_LISTEN:-:80}  # where lego answers http-01 (certmint connects to port 80)
TLS_ALPN01_LISTEN=${TLS_ALPN01_LISTEN:-:443}
STATE_DIR=${STATE_DIR:-/var/lib/certmint-client}
ROOT_FILE=${ROOT_FILE:-$STATE_DIR/roots.pem}
ROOT_SHA256=${ROOT_SHA256:-}         # SHA-256 fingerprint of certmint's root (hex, colons optional)
ROOT_TOFU=${ROOT_TOFU:-0}            # 1: trust whatever root certmint serves the first time
export LEGO_PATH=${LEGO_PATH:-$STATE_DIR/lego}
LEGO_ARGS=${LEGO_ARGS:-}             # extra global lego flags, split on spaces
CERT_DIR=${CERT_DIR:-/certs}
RENEW_DAYS=${RENEW_DAYS:-15}         # renew when fewer days remain (a third of certmint's 45 days)
RENEW_INTERVAL=${RENEW_INTERVAL:-43200}  # seconds between renewal checks
READY_ATTEMPTS=${READY_ATTEMPTS:-60}
OBTAIN_ATTEMPTS=${OBTAIN_ATTEMPTS:-10}
BACKOFF_MAX=${BACKOFF_MAX:-30}       # seconds; the backoff doubles from 1 up to this
CERT_EXEC=${CERT_EXEC:-nginx -g 'daemon off;'}
CERT_RELOAD=${CERT_RELOAD:-}

log() { printf '%s certmint-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

service_pid=''
child_pid=''
stop() {
  trap - TERM INT
  log "stopping"
  if [ -n "$child_pid" ]; then kill -TERM "$child_pid" 2>/dev/null || true; fi
  if [ -n "$service_pid" ] && kill -TERM "$service_pid" 2>/dev/null; then
    wait "$service_pid" 2>/dev/null || true
  fi
  exit 143
}
trap stop TERM INT

# Runs a command in the background and waits for it, so a signal is handled at once instead of
# after the command (bash runs traps only between foreground commands).
run() {
  "$@" &
  child_pid=$!
  local status=0
  wait "$child_pid" || status=$?
  child_pid=''
  return "$status"
}

pause() { run sleep "$1"; }

next_backoff() { local b=$(( $1 * 2 )); [ "$b" -gt "$BACKOFF_MAX" ] && b=$BACKOFF_MAX; echo "$b"; }

[ -n "$DOMAINS" ] || die "DOMAINS is empty: set the names to certify, e.g. DOMAINS=web.example.internal"
read -r -a domain_list <<<"${DOMAINS//,/ }"
first_domain=${domain_list[0]}
EMAIL=${EMAIL:-certmint-client@${first_domain#\*.}}
# lego files a certificate under its first name, a wildcard's "*" as "_".
lego_cert=$LEGO_PATH/certificates/${first_domain/\*/_}.crt
lego_key=$LEGO_PATH/certificates/${first_domain/\*/_}.key

# --- 1. wait for certmint ---------------------------------------------------------------------
# Only "is it up": nothing is trusted from this answer, so verification is not needed yet.
wait_ready() {
  local attempt=1 backoff=1
  until run curl -fsS -k -o /dev/null --max-time 5 "$CERTMINT_URL/ready"; do
    [ "$attempt" -ge "$READY_ATTEMPTS" ] && die "$CERTMINT_URL/ready did not answer 200 after $attempt attempts"
    log "waiting for $CERTMINT_URL/ready (attempt $attempt, next in ${backoff}s)"
    pause "$backoff"
    attempt=$(( attempt + 1 ))
    backoff=$(next_backoff "$backoff")
  done
}

# --- 2. trust ---------------------------------------------------------------------------------
# The SHA-256 fingerprints (lower-case hex, no colons) of every certificate in a PEM file.
fingerprints() {
  local dir block
  dir=$(mktemp -d)
  awk -v dir="$dir" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (dir "/" n ".pem") }' "$1"
  for block in "$dir"/*.pem; do
    [ -e "$block" ] || continue
    openssl x509 -in "$block" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
  done
  rm -rf "$dir"
}

install_root() {
  mkdir -p "$(dirname "$ROOT_FILE")"
  mv -f "$1" "$ROOT_FILE"
}

bootstrap_root() {
  local fetched
  fetched=$(mktemp)
  if [ -s "$ROOT_FILE" ]; then
    # Trusted already (mounted, or saved by an earlier boot): refresh over a verified connection,
    # so roots added by `certmint ca rotate-root` arrive; keep the old file if that fails.
    if run curl -fsS --max-time 10 --cacert "$ROOT_FILE" -o "$fetched" "$CERTMINT_URL/roots.pem" && [ -s "$fetched" ]; then
      if [ -w "$(dirname "$ROOT_FILE")" ]; then install_root "$fetched"; else rm -f "$fetched"; fi
    else
      rm -f "$fetched"
      log "could not refresh $ROOT_FILE from $CERTMINT_URL/roots.pem; using it as it is"
    fi
    return 0
  fi
  [ -n "$ROOT_SHA256" ] || [ "$ROOT_TOFU" = 1 ] ||
    die "no root to trust: mount certmint's roots.pem at ROOT_FILE ($ROOT_FILE), set ROOT_SHA256 to its fingerprint, or set ROOT_TOFU=1 to trust the first one served"
  # Not verified: the fingerprint check below (or the operator's ROOT_TOFU=1) is what decides.
  run curl -fsS -k --max-time 10 -o "$fetched" "$CERTMINT_URL/roots.pem" || { rm -f "$fetched"; die "GET $CERTMINT_URL/roots.pem failed"; }
  local served
  served=$(fingerprints "$fetched")
  [ -n "$served" ] || { rm -f "$fetched"; die "$CERTMINT_URL/roots.pem holds no certificate"; }
  if [ -n "$ROOT_SHA256" ]; then
    local pin
    pin=$(printf '%s' "$ROOT_SHA256" | tr -d ': ' | tr 'A-F' 'a-f')
    grep -qx "$pin" <<<"$served" || { rm -f "$fetched"; die "$CERTMINT_URL/roots.pem does not hold the pinned root $pin (served: $(echo "$served" | tr '\n' ' '))"; }
    log "root matches the pinned fingerprint $pin"
  else
    log "ROOT_TOFU=1: trusting the root(s) served now, SHA-256 $(echo "$served" | tr '\n' ' ')- pin with ROOT_SHA256"
  fi
  install_root "$fetched"
}

# --- 3. obtain / renew --------------------------------------------------------------------------
lego_cmd() {
  local args=(--server "$CERTMINT_DIRECTORY" --accept-tos --key-type "$KEY_TYPE" --path "$LEGO_PATH" --email "$EMAIL")
  local d
  for d in "${domain_list[@]}"; do args+=(--domains "$d"); done
  if [ -n "$EAB_KID" ]; then args+=(--eab --kid "$EAB_KID" --hmac "$EAB_HMAC"); fi
  case "$CHALLENGE" in
    http-01) args+=(--http --http.port "$HTTP01_LISTEN") ;;
    tls-alpn-01) args+=(--tls --tls.port "$TLS_ALPN01_LISTEN") ;;
    *) die "CHALLENGE=$CHALLENGE: use http-01 or tls-alpn-01" ;;
  esac
  # shellcheck disable=SC2206 # LEGO_ARGS is a list of flags, split on purpose
  args+=($LEGO_ARGS)
  run lego "${args[@]}" "$@"
}

checksum() { if [ -e "$1" ]; then cksum <"$1"; fi; }

obtain() {
  local attempt=1 backoff=1
  while true; do
    if [ -s "$lego_cert" ]; then
      # A restart: the certificate survives in LEGO_PATH; renew it only when due.
      lego_cmd renew --days "$RENEW_DAYS" --no-random-sleep && return 0
    else
      lego_cmd run && return 0
    fi
    [ "$attempt" -ge "$OBTAIN_ATTEMPTS" ] && die "no certificate for ${DOMAINS} after $attempt attempts"
    log "lego failed (attempt $attempt); retrying in ${backoff}s"
    pause "$backoff"
    attempt=$(( attempt + 1 ))
    backoff=$(next_backoff "$backoff")
  done
}

# Copies lego's files to the service's stable paths; each file is replaced atomically.
install_certificate() {
  mkdir -p "$CERT_DIR"
  cp "$lego_cert" "$CERT_DIR/.tls.crt.new" && mv -f "$CERT_DIR/.tls.crt.new" "$CERT_DIR/tls.crt"
  (umask 077 && cp "$lego_key" "$CERT_DIR/.tls.key.new") && mv -f "$CERT_DIR/.tls.key.new" "$CERT_DIR/tls.key"
  cp "$ROOT_FILE" "$CERT_DIR/.ca.crt.new" && mv -f "$CERT_DIR/.ca.crt.new" "$CERT_DIR/ca.crt"
  log "installed the certificate for ${DOMAINS} in $CERT_DIR"
}

# --- 4. the service -----------------------------------------------------------------------------
export CERT_FILE=$CERT_DIR/tls.crt KEY_FILE=$CERT_DIR/tls.key CA_FILE=$CERT_DIR/ca.crt

start_service() {
  if [ "$#" -gt 0 ]; then
    "$@" &
  else
    # exec: the service itself gets the PID (and the reload signal), not a shell around it.
    sh -c "exec $CERT_EXEC" &
  fi
  service_pid=$!
  export SERVICE_PID=$service_pid
  log "started the service (pid $service_pid)"
}

reload_service() {
  if [ -n "$CERT_RELOAD" ]; then
    run sh -c "$CERT_RELOAD" || log "CERT_RELOAD failed (status $?)"
  else
    kill -HUP "$service_pid" || log "could not signal the service (pid $service_pid)"
  fi
  log "reloaded the service"
}

# --- 5. renew loop ------------------------------------------------------------------------------
renew_loop() {
  local before finished status
  while true; do
    sleep "$RENEW_INTERVAL" &
    child_pid=$!
    finished='' status=0
    wait -n -p finished "$service_pid" "$child_pid" || status=$?
    if [ "$finished" = "$service_pid" ]; then
      kill "$child_pid" 2>/dev/null || true
      log "the service exited (status $status)"
      exit "$status"
    fi
    child_pid=''
    before=$(checksum "$lego_cert")
    if ! lego_cmd renew --days "$RENEW_DAYS" --no-random-sleep; then
      log "renewal check failed; next check in ${RENEW_INTERVAL}s"
      continue
    fi
    if [ "$(checksum "$lego_cert")" != "$before" ]; then
      install_certificate
      reload_service
    fi
  done
}

mkdir -p "$STATE_DIR" "$LEGO_PATH"
wait_ready
bootstrap_root
export LEGO_CA_CERTIFICATES=$ROOT_FILE
obtain
install_certificate
start_service "$@"
renew_loop
