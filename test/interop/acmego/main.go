// Command acmego is certmint's interop client on golang.org/x/crypto/acme, the library behind
// cert-manager's ACME issuer, and it follows cert-manager's flow: RSA-2048 account key, register,
// look the account up again with onlyReturnExisting, AuthorizeOrder, answer http-01, wait,
// finalize with CreateOrderCert, fetch the bundle again with FetchCert.
//
// -challenge tls-alpn-01 answers tls-alpn-01 (RFC 8737) instead, the way x/crypto's autocert does
// (cert-manager itself offers only http-01 and dns-01): a TLS listener on -tls-alpn01-listen
// negotiating "acme-tls/1" presents TLSALPN01ChallengeCert for the SNI the server sends. For an
// IP identifier (SNI = its reverse-DNS name, RFC 8738 §6) x/crypto v0.4.0 writes the address as a
// dNSName SAN, so acmego builds the iPAddress certificate itself unless -tls-alpn01-xcrypto-ip-cert.
//
// -challenge dns-persist-01 accepts dns-persist-01 (x/crypto knows no such type) and writes the
// standing record into pebble-challtestsrv from -persist-record (see persist.go).
//
// -mode single issues one certificate for -names and writes chain.pem and key.pem to -out; with
// -rollover-and-deactivate it then rolls the account key over and deactivates the account.
// -rate-limit-probe orders the first of two -names, leaves its authorization pending and orders
// the second, timing how x/crypto waits out the 429 rateLimited answer (see ratelimit.go).
// -eab-kid and -eab-hmac bind every new account to an external account (RFC 8555 §7.3.4).
// -mode load runs -n full flows over -c workers (each with its own account) and prints
// throughput and latency as one JSON line. See ../README.md.
package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/acme"
)

type options struct {
	directory, caBundle, listen string
	challenge, tlsALPN01Listen  string
	xcryptoIPCert               bool
	names                       []string
	out, mode, email            string
	n, c                        int
	nameTemplate, receivedLog   string
	flowTimeout                 time.Duration
	errorPause                  time.Duration
	revokeWithCertKey           bool
	rolloverAndDeactivate       bool
	trace                       string
	eab                         *acme.ExternalAccountBinding
	rateLimitProbe              bool
	probeTimeout                time.Duration
	notAfter                    time.Duration
	challtestsrv                string
	persistRecord, persistOwner string
}

// receivedLog appends one serial per line and fsyncs, so a crash test can compare what the
// client holds with the server's ledger. The serial is the lower-case hex of the serial's
// minimal big-endian bytes (certmint's "01" + 32 hex digits comes out unchanged).
type receivedLog struct {
	mu sync.Mutex
	f  *os.File
}

func openReceivedLog(path string) (*receivedLog, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &receivedLog{f: f}, nil
}

func (l *receivedLog) record(leaf *x509.Certificate) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := fmt.Fprintln(l.f, hex.EncodeToString(leaf.SerialNumber.Bytes())); err != nil {
		return err
	}
	return l.f.Sync()
}

func runSingle(ctx context.Context, o *options, hc *http.Client, s solver, log *receivedLog) error {
	client, account, err := register(ctx, hc, o.directory, o.email, o.eab)
	if err != nil {
		return err
	}
	if p, ok := s.(*dnsPersist01Solver); ok {
		p.account = account
	}
	var orderOpts []acme.OrderOption
	if o.notAfter > 0 {
		// cert-manager's duration: the order asks for notAfter = now + duration (RFC 8555 §7.4).
		orderOpts = append(orderOpts, acme.WithOrderNotAfter(time.Now().Add(o.notAfter)))
	}
	res, err := issue(ctx, client, s, o.names, orderOpts...)
	if err != nil {
		return err
	}
	if err := log.record(res.leaf); err != nil {
		return err
	}
	fetched, err := client.FetchCert(ctx, res.certURL, true)
	if err != nil {
		return fmt.Errorf("fetch certificate: %w", err)
	}
	if !sameChain(fetched, res.chain) {
		return errors.New("FetchCert returned a different bundle than CreateOrderCert")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var chainPEM []byte
	for _, der := range res.chain {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	chainPath, _ := filepath.Abs(filepath.Join(o.out, "chain.pem"))
	if err := ioutil.WriteFile(chainPath, chainPEM, 0o644); err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(res.key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := ioutil.WriteFile(filepath.Join(o.out, "key.pem"), keyPEM, 0o600); err != nil {
		return err
	}
	revoked := false
	if o.revokeWithCertKey {
		// RFC 8555 §7.6: signed with the certificate's own key (JWS jwk), reason keyCompromise.
		if err := client.RevokeCert(ctx, res.key, res.chain[0], acme.CRLReasonKeyCompromise); err != nil {
			return fmt.Errorf("revoke with the certificate key: %w", err)
		}
		revoked = true
	}
	var lifecycle *lifecycleResult
	if o.rolloverAndDeactivate {
		if lifecycle, err = rolloverAndDeactivate(ctx, hc, o.directory, client, account); err != nil {
			return err
		}
	}
	result := singleResult{
		Mode: "single", OK: true, Account: account, Order: res.orderURI, Cert: res.certURL, Chain: chainPath, Revoked: revoked,
		Challenge: s.challengeType(), ValidatedBy: res.validatedBy, Lifecycle: lifecycle,
	}
	if t, ok := s.(*tlsALPN01Responder); ok {
		result.TLSALPN01Handshakes = t.seen()
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}

type singleResult struct {
	Mode    string `json:"mode"`
	OK      bool   `json:"ok"`
	Account string `json:"account"`
	Order   string `json:"order"`
	Cert    string `json:"cert"`
	Chain   string `json:"chain"`
	Revoked bool   `json:"revoked"`
	// Challenge is the type acmego answered; ValidatedBy is, per identifier, the type of the
	// challenge the server's authorization shows as valid.
	Challenge   string            `json:"challenge"`
	ValidatedBy map[string]string `json:"validated_by"`
	// TLSALPN01Handshakes is every validation handshake the tls-alpn-01 listener saw.
	TLSALPN01Handshakes []handshake `json:"tls_alpn01_handshakes,omitempty"`
	// Lifecycle is what -rollover-and-deactivate observed.
	Lifecycle *lifecycleResult `json:"lifecycle,omitempty"`
}

type loadResult struct {
	Mode       string  `json:"mode"`
	N          int     `json:"n"`
	C          int     `json:"c"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"per_sec"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	FirstError string  `json:"first_error"`
	// CPUms is the client's own CPU time (user + system) over the timed part: with the server's,
	// it shows how much of the machine each side used.
	CPUms float64 `json:"cpu_ms"`
}

// cpuTime is this process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile is the nearest-rank percentile of sorted latencies, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return math.Round(float64(sorted[i].Microseconds())/10) / 100
}

// runLoad registers one account per worker, then times the issuance phase only: each worker runs
// its share of full flows; a failed flow is counted and the worker carries on. After SIGINT or
// SIGTERM no new flow starts, so ok + errors may be less than n.
func runLoad(ctx context.Context, o *options, hc *http.Client, s solver, log *receivedLog) error {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		firstErr  string
	)
	fail := func(err error, times int) {
		mu.Lock()
		defer mu.Unlock()
		errs += times
		if firstErr == "" {
			firstErr = err.Error()
		}
	}
	var registered, done sync.WaitGroup
	startGate := make(chan struct{})
	for w := 0; w < o.c; w++ {
		count := o.n / o.c
		if w < o.n%o.c {
			count++
		}
		if count == 0 {
			continue
		}
		registered.Add(1)
		done.Add(1)
		go func(w, count int) {
			defer done.Done()
			client, _, err := register(ctx, hc, o.directory, fmt.Sprintf("load-w%d@%s", w, "certmint.test"), o.eab)
			registered.Done()
			<-startGate
			if err != nil {
				fail(fmt.Errorf("worker %d: %w", w, err), count)
				return
			}
			for i := 0; i < count && ctx.Err() == nil; i++ { // a signal stops new flows
				flowCtx, cancel := context.WithTimeout(ctx, o.flowTimeout)
				t0 := time.Now()
				res, err := issue(flowCtx, client, s, []string{fmt.Sprintf(o.nameTemplate, w, i)})
				d := time.Since(t0)
				cancel()
				if err == nil {
					err = log.record(res.leaf)
				}
				if err != nil {
					fail(fmt.Errorf("worker %d flow %d: %w", w, i, err), 1)
					// A client backs off after a failure (the server may be restarting) instead of spinning.
					time.Sleep(o.errorPause)
					continue
				}
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}(w, count)
	}
	registered.Wait()
	start, cpuStart := time.Now(), cpuTime()
	close(startGate)
	done.Wait()
	elapsed := time.Since(start).Seconds()
	cpuMs := float64((cpuTime() - cpuStart).Microseconds()) / 1000

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	perSec := 0.0
	if elapsed > 0 {
		perSec = math.Round(float64(len(latencies))/elapsed*100) / 100
	}
	return json.NewEncoder(os.Stdout).Encode(loadResult{
		Mode: "load", N: o.n, C: o.c, OK: len(latencies), Errors: errs,
		Seconds: math.Round(elapsed*1000) / 1000, PerSec: perSec,
		P50ms: percentile(latencies, 0.50), P99ms: percentile(latencies, 0.99), FirstError: firstErr,
		CPUms: math.Round(cpuMs),
	})
}

func main() {
	o := &options{}
	var names string
	flag.StringVar(&o.directory, "directory", "", "ACME directory URL (required)")
	flag.StringVar(&o.caBundle, "ca-bundle", "", "PEM file: the only roots trusted for the ACME server's TLS (default: system roots)")
	flag.StringVar(&o.listen, "http01-listen", "127.0.0.1:5002", "address of the http-01 challenge listener")
	flag.StringVar(&o.challenge, "challenge", "http-01", "http-01 | tls-alpn-01 | dns-persist-01: the challenge type to answer")
	flag.StringVar(&o.challtestsrv, "challtestsrv", "", "dns-persist-01: pebble-challtestsrv's management URL, where -persist-record is written")
	flag.StringVar(&o.persistRecord, "persist-record", "", "dns-persist-01, single mode: TXT value to write, {account} = the account URL (e.g. 'ca.example; accounturi={account}'); empty: write none")
	flag.StringVar(&o.persistOwner, "persist-owner", "_validation-persist.{name}", "dns-persist-01: where -persist-record goes, {name} = the authorization's name")
	flag.StringVar(&o.tlsALPN01Listen, "tls-alpn01-listen", "127.0.0.1:5001", "address of the tls-alpn-01 challenge listener")
	flag.BoolVar(&o.xcryptoIPCert, "tls-alpn01-xcrypto-ip-cert", false, "tls-alpn-01: present x/crypto's certificate for IP identifiers as is, even with the address in a dNSName SAN")
	flag.StringVar(&o.mode, "mode", "single", "single | load")
	flag.StringVar(&accountKeyType, "account-key", "rsa2048", "account key type: rsa2048 (cert-manager's default) or ec256 (lego's default; load mode then measures the server, not the client's RSA signing)")
	flag.StringVar(&names, "names", "", "single mode: comma-separated DNS names (CN = first)")
	flag.StringVar(&o.out, "out", ".", "single mode: directory for chain.pem and key.pem")
	flag.StringVar(&o.email, "email", "interop@certmint.test", "single mode: account contact (mailto:)")
	flag.IntVar(&o.n, "n", 100, "load mode: total issuances")
	flag.IntVar(&o.c, "c", 8, "load mode: workers, each with its own account")
	flag.StringVar(&o.nameTemplate, "name-template", "w%d-i%d.load.test", "load mode: fmt template of worker and iteration")
	flag.StringVar(&o.receivedLog, "received-log", "", "append the hex serial of every certificate received, fsync'd")
	flag.BoolVar(&o.revokeWithCertKey, "revoke-with-cert-key", false, "single mode: then revoke the certificate, signed with its own key (keyCompromise)")
	flag.BoolVar(&o.rolloverAndDeactivate, "rollover-and-deactivate", false, "single mode: then roll the account key over (AccountKeyRollover), check the old key is refused, DeactivateReg and check the account is refused")
	flag.DurationVar(&o.flowTimeout, "flow-timeout", 2*time.Minute, "load mode: limit for one full flow")
	flag.DurationVar(&o.errorPause, "error-pause", 0, "load mode: pause of a worker after a failed flow")
	var eabKID, eabHMAC string
	flag.StringVar(&eabKID, "eab-kid", "", "external account binding: key id (with -eab-hmac; use -eab-kid=KID when KID begins with '-')")
	flag.StringVar(&eabHMAC, "eab-hmac", "", "external account binding: HMAC key, base64url (with -eab-kid)")
	flag.DurationVar(&o.notAfter, "not-after", 0, "single mode: ask for notAfter = now + this duration in newOrder, as cert-manager's duration does")
	flag.BoolVar(&o.rateLimitProbe, "rate-limit-probe", false, "single mode, two -names: order the first and leave it pending, then order the second, letting x/crypto wait out 429 rateLimited")
	flag.DurationVar(&o.probeTimeout, "probe-timeout", 30*time.Second, "-rate-limit-probe: limit for the whole probe")
	flag.StringVar(&o.trace, "trace", "", "write one tab-separated line per ACME request and per http-01 fetch answered (client-side times, µs) to this file")
	flag.Parse()

	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.names = append(o.names, n)
		}
	}
	if o.directory == "" || (o.mode != "single" && o.mode != "load") || (o.challenge != "http-01" && o.challenge != "tls-alpn-01" && o.challenge != "dns-persist-01") ||
		(o.challenge == "dns-persist-01" && o.persistRecord != "" && o.challtestsrv == "") ||
		(o.mode == "single" && len(o.names) == 0) || (o.mode == "load" && (o.n < 0 || o.c < 1)) ||
		(o.rateLimitProbe && (o.mode != "single" || len(o.names) != 2)) || (eabKID == "") != (eabHMAC == "") {
		flag.Usage()
		os.Exit(2)
	}
	if eabKID != "" {
		// cert-manager and `certmint eab create` hand the key out base64url-encoded; tolerate padding.
		key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(eabHMAC, "="))
		if err != nil || len(key) == 0 {
			fmt.Fprintln(os.Stderr, "acmego: -eab-hmac is not a base64url key:", err)
			os.Exit(2)
		}
		o.eab = &acme.ExternalAccountBinding{KID: eabKID, Key: key}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "acmego:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	// SIGINT/SIGTERM cancel the flows in progress; load mode still prints its summary.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hc, err := newHTTPClient(o.caBundle, o.c)
	if err != nil {
		return err
	}
	tracer, err := openRequestTracer(o.trace)
	if err != nil {
		return err
	}
	if tracer != nil {
		defer tracer.close()
		hc.Transport = tracer.wrap(hc.Transport)
	}
	var s solver
	var stopListener func()
	if o.challenge == "dns-persist-01" {
		p := newDNSPersist01Solver(o.challtestsrv, o.persistRecord, o.persistOwner)
		s = p
		stopListener, err = p.listen()
	} else if o.challenge == "tls-alpn-01" {
		t := newTLSALPN01Responder(o.xcryptoIPCert)
		s = t
		stopListener, err = t.listen(o.tlsALPN01Listen)
	} else {
		h := newHTTP01Responder()
		h.tracer = tracer
		s = h
		stopListener, err = h.listen(o.listen)
	}
	if err != nil {
		return err
	}
	defer stopListener()
	log, err := openReceivedLog(o.receivedLog)
	if err != nil {
		return err
	}
	if log != nil {
		defer log.f.Close()
	}
	if o.mode == "load" {
		return runLoad(ctx, o, hc, s, log)
	}
	if o.rateLimitProbe {
		return runRateLimitProbe(ctx, o, hc, o.probeTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return runSingle(ctx, o, hc, s, log)
}
