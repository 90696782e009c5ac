#!/usr/bin/env bash
# The benchmark's peer: smallstep step-ca, built from Debian's packaged sources
# (golang-github-smallstep-certificates-dev) and run as an ACME server on loopback, so
# `npm run bench` compares certmint with it on the same machine, in the same run.
#
#   bench/step-ca.sh start [PORT]   prints: DIR=<directory URL> CA=<root PEM file> PID=<pid>
#                                   READY_MS=<ms from step-ca's spawn to its directory answering>
#   bench/step-ca.sh stop           stops it and its DNS answerer, and waits until they are gone
#
# PORT defaults to 9000. step-ca validates http-01 on port 80 of the identifier; every name
# resolves to 127.0.0.1 through pebble-challtestsrv, started here on 127.0.0.1:$STEPCA_DNS_PORT
# (8053). Everything (binary, PKI, database, logs) lives under $STEPCA_HOME
# (default: $TMPDIR/certmint-bench/step-ca); the binary and the PKI are kept between runs, the
# caller removes db/ for a fresh database. Works offline once the Debian packages are installed
# (they are installed here with apt-get when missing and this runs as root).
set -euo pipefail

cmd=${1:-start}
home=${STEPCA_HOME:-${TMPDIR:-/tmp}/certmint-bench/step-ca}
port=${2:-9000}
dns_port=${STEPCA_DNS_PORT:-8053}
management_port=${STEPCA_DNS_MANAGEMENT_PORT:-8055}
packages=(golang-go golang-github-smallstep-certificates-dev pebble openssl curl)

usage() {
  echo "usage: $0 start [PORT] | stop" >&2
  exit 2
}

# Stops what a pid file names and waits for it to exit: a step-ca still closing its database
# would otherwise race the caller's removal of db/.
stop_pid_file() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop() {
  stop_pid_file "$home/step-ca.pid"
  stop_pid_file "$home/dns.pid"
}

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "step-ca.sh needs these Debian packages: ${missing[*]} (apt-get install them, or run as root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# step-ca's own command, compiled against the packaged sources in GOPATH mode (no module download).
build_step_ca() {
  [ -x "$home/bin/step-ca" ] && return 0
  local src="$home/gopath/src/stepca"
  mkdir -p "$src" "$home/bin"
  cat >"$src/main.go" <<'GO'
package main

import (
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
)

func main() {
	app := cli.NewApp()
	app.Name = "step-ca"
	app.Flags = commands.AppCommand.Flags
	app.Action = commands.AppCommand.Action
	if err := app.Run(os.Args); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
GO
  (cd "$src" && GO111MODULE=off GOPATH="$home/gopath:/usr/share/gocode" GOFLAGS=-mod=mod go build -o "$home/bin/step-ca" .)
}

# A root and an intermediate (ECDSA P-256) made with openssl, as an operator would bring them.
make_pki() {
  local pki=$1
  [ -f "$pki/intermediate.crt" ] && return 0
  mkdir -p "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/root.key"
  openssl req -x509 -new -key "$pki/root.key" -subj "/CN=step-ca peer root" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$pki/root.crt"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/intermediate.key"
  openssl req -new -key "$pki/intermediate.key" -subj "/CN=step-ca peer intermediate" -out "$pki/intermediate.csr"
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$pki/intermediate.ext"
  openssl x509 -req -in "$pki/intermediate.csr" -CA "$pki/root.crt" -CAkey "$pki/root.key" -CAcreateserial \
    -days 1825 -extfile "$pki/intermediate.ext" -out "$pki/intermediate.crt" 2>/dev/null
}

write_config() {
  local pki=$1
  cat >"$home/ca.json" <<JSON
{
  "root": "$pki/root.crt",
  "crt": "$pki/intermediate.crt",
  "key": "$pki/intermediate.key",
  "address": "127.0.0.1:$port",
  "dnsNames": ["127.0.0.1", "localhost"],
  "logger": {"format": "text"},
  "db": {"type": "badgerv2", "dataSource": "$home/db"},
  "authority": {
    "provisioners": [{"type": "ACME", "name": "acme"}],
    "claims": {"defaultTLSCertDuration": "24h", "maxTLSCertDuration": "2160h"}
  },
  "tls": {"minVersion": 1.2, "maxVersion": 1.3}
}
JSON
}

start() {
  local pki="$home/pki" directory
  directory="https://127.0.0.1:$port/acme/acme/directory"
  mkdir -p "$home"
  install_packages
  build_step_ca
  make_pki "$pki"
  write_config "$pki"
  stop
  pebble-challtestsrv -dns01 "127.0.0.1:$dns_port" -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$management_port" -defaultIPv6 "" >"$home/dns.log" 2>&1 &
  echo $! >"$home/dns.pid"
  local t0 ready_ms
  t0=$(date +%s%N)
  "$home/bin/step-ca" --resolver "127.0.0.1:$dns_port" "$home/ca.json" >"$home/step-ca.log" 2>&1 &
  echo $! >"$home/step-ca.pid"
  # Ready when the directory answers; a step-ca that exits (a port taken, a bad config) fails at
  # once. Polled every 20 ms: the benchmark compares this start with certmint's (issue 27).
  for _ in $(seq 1 1000); do
    curl -skf "$directory" >/dev/null 2>&1 && break
    kill -0 "$(cat "$home/step-ca.pid")" 2>/dev/null || break
    sleep 0.02
  done
  ready_ms=$((($(date +%s%N) - t0) / 1000000))
  if ! curl -skf "$directory" >/dev/null 2>&1; then
    echo "step-ca did not start; the end of $home/step-ca.log:" >&2
    tail -20 "$home/step-ca.log" >&2
    stop
    exit 1
  fi
  echo "DIR=$directory CA=$pki/root.crt PID=$(cat "$home/step-ca.pid") READY_MS=$ready_ms"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
