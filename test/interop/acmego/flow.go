package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/ioutil"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// solver answers one challenge type for the flows: http-01 or tls-alpn-01.
type solver interface {
	challengeType() string
	// present makes the answer to chal for id reachable; the returned func withdraws it.
	present(client *acme.Client, id acme.AuthzID, chal *acme.Challenge) (func(), error)
}

// http01Responder is the client's http-01 side: one listener shared by every worker, answering
// /.well-known/acme-challenge/<token> from a mutex-protected token → key authorization map.
type http01Responder struct {
	mu      sync.Mutex
	answers map[string]string
	tracer  *requestTracer // nil unless -trace
}

func newHTTP01Responder() *http01Responder {
	return &http01Responder{answers: map[string]string{}}
}

func (r *http01Responder) challengeType() string { return "http-01" }

func (r *http01Responder) present(client *acme.Client, _ acme.AuthzID, chal *acme.Challenge) (func(), error) {
	answer, err := client.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[chal.Token] = answer
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.answers, chal.Token)
	}, nil
}

func (r *http01Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	const prefix = "/.well-known/acme-challenge/"
	if !strings.HasPrefix(req.URL.Path, prefix) {
		http.NotFound(w, req)
		return
	}
	r.mu.Lock()
	answer, ok := r.answers[strings.TrimPrefix(req.URL.Path, prefix)]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(answer))
	r.tracer.http01Served(req.URL.Path)
}

// listen starts the http-01 listener; the returned func stops it.
func (r *http01Responder) listen(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http-01 listener: %w", err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// newHTTPClient trusts only the roots in caBundle when it is set, the system roots otherwise.
func newHTTPClient(caBundle string, workers int) (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Room for two connections per worker: x/crypto/acme's CreateOrderCert closes the finalize
	// response only after fetching the certificate (a deferred Close; the JSON decoder stops short
	// of the body's EOF), so a worker holds two connections then.
	transport.MaxIdleConnsPerHost = 2*workers + 4
	if transport.MaxIdleConns < transport.MaxIdleConnsPerHost {
		transport.MaxIdleConns = transport.MaxIdleConnsPerHost
	}
	if caBundle != "" {
		pemBytes, err := ioutil.ReadFile(caBundle)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("no PEM certificates in %s", caBundle)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	transport.DialTLSContext = uncanceledTLSDial(transport)
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

// uncanceledTLSDial dials and handshakes as the transport would, but not under the request's
// context. Go 1.19's Transport (Debian 12's) starts a dial for a request that finds no idle
// connection and hands the request the first connection that frees up meanwhile; the dial goes
// on under the request's context, so when the request's flow ends (the certificate fetch is the
// last request of an issuance, made while the finalize response is still open) the handshake is
// cut off half-way and the connection thrown away. Measured against one HTTP/1.1 server with 32
// workers: in some runs ~1 such connection per issuance (1,000–1,800 per 1,000), each a full TLS
// handshake the server paid for, in others 0.03. Later Go keeps such a dial for the pool
// (golang/go#66442), as independent clients keep their connections; this does the same here.
func uncanceledTLSDial(transport *http.Transport) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return func(_ context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		// The transport's config at dial time: it has added "h2" and "http/1.1" to NextProtos by
		// then (ForceAttemptHTTP2), so HTTP/2 servers are still spoken to in HTTP/2.
		cfg := &tls.Config{}
		if transport.TLSClientConfig != nil {
			cfg = transport.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return conn, nil
	}
}

func newACMEClient(hc *http.Client, directory string, key crypto.Signer) *acme.Client {
	return &acme.Client{Key: key, HTTPClient: hc, DirectoryURL: directory, UserAgent: "certmint-interop-acmego"}
}

// register creates an account for a fresh account key (RSA-2048, cert-manager's default, or
// ECDSA P-256 with -account-key ec256, lego's default), then looks it
// up again with a new client for the same key, as cert-manager does after a restart: GetReg
// sends newAccount with onlyReturnExisting, signed with the JWK. eab, when not nil, binds the
// account to an external account (RFC 8555 §7.3.4), as cert-manager's issuer does with its
// externalAccountBinding keyID and keySecretRef; the lookup carries no binding.
func register(ctx context.Context, hc *http.Client, directory, email string, eab *acme.ExternalAccountBinding) (*acme.Client, string, error) {
	key, err := newAccountKey()
	if err != nil {
		return nil, "", err
	}
	client := newACMEClient(hc, directory, key)
	acct, err := client.Register(ctx, &acme.Account{Contact: []string{"mailto:" + email}, ExternalAccountBinding: eab}, acme.AcceptTOS)
	if err != nil {
		return nil, "", fmt.Errorf("register: %w", err)
	}
	again, err := newACMEClient(hc, directory, key).GetReg(ctx, "")
	if err != nil {
		return nil, "", fmt.Errorf("look up existing account (onlyReturnExisting): %w", err)
	}
	if again.URI != acct.URI {
		return nil, "", fmt.Errorf("looked-up account %q differs from registered %q", again.URI, acct.URI)
	}
	return client, acct.URI, nil
}

type issued struct {
	orderURI    string
	certURL     string
	chain       [][]byte // DER, leaf first, as received
	leaf        *x509.Certificate
	key         *ecdsa.PrivateKey
	validatedBy map[string]string // identifier → type of its valid challenge, as the server reports it
}

// issue runs one full flow: newOrder → authorizations → the solver's challenge → wait → finalize
// → certificate. Names that parse as IP addresses are ordered as "ip" identifiers (RFC 8738).
func issue(ctx context.Context, client *acme.Client, s solver, names []string, orderOpts ...acme.OrderOption) (*issued, error) {
	var dnsNames []string
	var ips []net.IP
	var ipTexts []string
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
			ipTexts = append(ipTexts, n)
		} else {
			dnsNames = append(dnsNames, n)
		}
	}
	order, err := client.AuthorizeOrder(ctx, append(acme.DomainIDs(dnsNames...), acme.IPIDs(ipTexts...)...), orderOpts...)
	if err != nil {
		return nil, fmt.Errorf("new order: %w", err)
	}
	// Present and accept every pending challenge first, then wait for each authorization
	// (cert-manager runs one Challenge resource per authorization in parallel).
	var pending []string
	for _, u := range order.AuthzURLs {
		z, err := client.GetAuthorization(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("get authorization: %w", err)
		}
		if z.Status == acme.StatusValid {
			continue // reused authorization
		}
		var chal *acme.Challenge
		for _, c := range z.Challenges {
			if c.Type == s.challengeType() {
				chal = c
			}
		}
		if chal == nil {
			return nil, fmt.Errorf("authorization %s for %s offers no %s challenge", u, z.Identifier.Value, s.challengeType())
		}
		withdraw, err := s.present(client, z.Identifier, chal)
		if err != nil {
			return nil, err
		}
		defer withdraw()
		if _, err := client.Accept(ctx, chal); err != nil {
			return nil, fmt.Errorf("accept challenge %s: %w", chal.URI, err)
		}
		pending = append(pending, z.URI)
	}
	validatedBy := map[string]string{}
	for _, u := range pending {
		z, err := client.WaitAuthorization(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("wait authorization: %w", err)
		}
		for _, c := range z.Challenges {
			if c.Status == acme.StatusValid {
				validatedBy[z.Identifier.Value] = c.Type
			}
		}
	}
	// x/crypto takes Order.URI from the Location header, which a POST-as-GET of the order does not
	// carry, so keep the URI from newOrder and use only the finalize URL of the polled order.
	orderURI := order.URI
	ready, err := client.WaitOrder(ctx, orderURI)
	if err != nil {
		return nil, fmt.Errorf("wait order: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	template := &x509.CertificateRequest{DNSNames: dnsNames, IPAddresses: ips}
	if len(dnsNames) > 0 {
		template.Subject = pkix.Name{CommonName: dnsNames[0]}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, template, key)
	if err != nil {
		return nil, err
	}
	chain, certURL, err := client.CreateOrderCert(ctx, ready.FinalizeURL, csr, true)
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	leaf, err := checkChain(chain, names, key)
	if err != nil {
		return nil, err
	}
	return &issued{orderURI: orderURI, validatedBy: validatedBy, certURL: certURL, chain: chain, leaf: leaf, key: key}, nil
}

// checkChain parses the bundle and checks what a client relies on: the leaf carries our key and
// every requested name, and each certificate is signed by the next one.
func checkChain(chain [][]byte, names []string, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("chain[%d]: %w", i, err)
		}
		certs[i] = c
	}
	leaf := certs[0]
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("leaf certificate does not carry the CSR's public key")
	}
	for _, n := range names {
		if err := leaf.VerifyHostname(n); err != nil {
			return nil, fmt.Errorf("leaf certificate: %w", err)
		}
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return nil, fmt.Errorf("chain[%d] is not signed by chain[%d]: %w", i, i+1, err)
		}
	}
	return leaf, nil
}

// sameChain reports whether two bundles hold the same certificates in the same order.
func sameChain(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// accountKeyType is -account-key: "rsa2048" (default) or "ec256".
var accountKeyType = "rsa2048"

func newAccountKey() (crypto.Signer, error) {
	switch accountKeyType {
	case "rsa2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ec256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("-account-key %q: use rsa2048 or ec256", accountKeyType)
}
