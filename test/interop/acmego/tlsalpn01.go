package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// RFC 8737 §6.1: id-pe-acmeIdentifier.
var idPeACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// handshake is what the tls-alpn-01 listener saw of one validation connection.
type handshake struct {
	ServerName string   `json:"server_name"` // SNI as sent by the server
	Protocols  []string `json:"protocols"`   // ALPN protocols the server offered
	Identifier string   `json:"identifier"`  // whose challenge certificate was presented ("" = none)
	MatchedBy  string   `json:"matched_by"`  // "sni", or "only-pending" when the SNI named no challenge
	SAN        string   `json:"san"`         // the presented certificate's SANs, e.g. "ip:127.0.0.1"
	Cert       string   `json:"cert"`        // "x/crypto" (TLSALPN01ChallengeCert) or "acmego" (built here)
}

// alpnChallenge is one presented tls-alpn-01 answer.
type alpnChallenge struct {
	identifier string
	cert       *tls.Certificate
	san        string
	source     string
}

// tlsALPN01Responder is the client's tls-alpn-01 side (RFC 8737), as autocert does it: one TLS
// listener negotiating "acme-tls/1" whose GetCertificate picks the challenge certificate by SNI.
type tlsALPN01Responder struct {
	// xcryptoIPCert presents x/crypto's certificate for IP identifiers as is, even when it carries
	// the address as a dNSName SAN (x/crypto v0.4.0 does), to see what the server makes of it.
	xcryptoIPCert bool

	mu         sync.Mutex
	byName     map[string]*alpnChallenge // lower-case SNI → challenge
	handshakes []handshake
}

func newTLSALPN01Responder(xcryptoIPCert bool) *tlsALPN01Responder {
	return &tlsALPN01Responder{xcryptoIPCert: xcryptoIPCert, byName: map[string]*alpnChallenge{}}
}

func (r *tlsALPN01Responder) challengeType() string { return "tls-alpn-01" }

// present registers the challenge certificate under the names a validator may send as SNI: the
// DNS name itself, or for an IP address its reverse-DNS name (RFC 8738 §6) and the address text.
func (r *tlsALPN01Responder) present(client *acme.Client, id acme.AuthzID, chal *acme.Challenge) (func(), error) {
	c, err := r.challengeCert(client, id, chal.Token)
	if err != nil {
		return nil, err
	}
	names := []string{strings.ToLower(id.Value)}
	if ip := net.ParseIP(id.Value); ip != nil {
		names = append(names, reverseDNSName(ip))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		r.byName[n] = c
	}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, n := range names {
			if r.byName[n] == c {
				delete(r.byName, n)
			}
		}
	}, nil
}

// challengeCert is x/crypto's TLSALPN01ChallengeCert, except for an IP identifier when x/crypto
// puts the address in a dNSName SAN: RFC 8738 §6 wants an iPAddress SAN, so acmego builds that
// certificate itself from the same key authorization (unless -tls-alpn01-xcrypto-ip-cert).
func (r *tlsALPN01Responder) challengeCert(client *acme.Client, id acme.AuthzID, token string) (*alpnChallenge, error) {
	cert, err := client.TLSALPN01ChallengeCert(token, id.Value)
	if err != nil {
		return nil, fmt.Errorf("tls-alpn-01 certificate for %s: %w", id.Value, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	c := &alpnChallenge{identifier: id.Value, cert: &cert, san: sanText(leaf), source: "x/crypto"}
	ip := net.ParseIP(id.Value)
	if ip == nil || r.xcryptoIPCert || (len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 1 && leaf.IPAddresses[0].Equal(ip)) {
		return c, nil
	}
	// HTTP01ChallengeResponse is the key authorization, token.thumbprint (RFC 8555 §8.1).
	keyAuth, err := client.HTTP01ChallengeResponse(token)
	if err != nil {
		return nil, err
	}
	own, err := ipChallengeCert(ip, keyAuth)
	if err != nil {
		return nil, err
	}
	if leaf, err = x509.ParseCertificate(own.Certificate[0]); err != nil {
		return nil, err
	}
	return &alpnChallenge{identifier: id.Value, cert: own, san: sanText(leaf), source: "acmego"}, nil
}

// ipChallengeCert is RFC 8737 §3 with RFC 8738 §6: self-signed, one iPAddress SAN, and the
// critical acmeIdentifier extension holding the SHA-256 of the key authorization.
func ipChallengeCert(ip net.IP, keyAuth string) (*tls.Certificate, error) {
	sum := sha256.Sum256([]byte(keyAuth))
	value, err := asn1.Marshal(sum[:])
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "acmego tls-alpn-01 challenge"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{ip},
		ExtraExtensions:       []pkix.Extension{{Id: idPeACMEIdentifier, Critical: true, Value: value}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// getCertificate answers a validation handshake. The SNI picks the challenge; when it names none
// and exactly one challenge is pending, that one is presented anyway and the mismatch is recorded,
// so a test sees the SNI the server sent instead of a bare handshake failure.
func (r *tlsALPN01Responder) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := handshake{ServerName: hello.ServerName, Protocols: append([]string{}, hello.SupportedProtos...)}
	c, matchedBy := r.byName[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))], "sni"
	if c == nil {
		pending := map[*alpnChallenge]bool{}
		for _, p := range r.byName {
			pending[p] = true
		}
		if len(pending) == 1 {
			for p := range pending {
				c, matchedBy = p, "only-pending"
			}
		}
	}
	// RFC 8737 §3: the challenge certificate is for "acme-tls/1" connections only.
	offered := false
	for _, p := range hello.SupportedProtos {
		offered = offered || p == acme.ALPNProto
	}
	if c != nil && offered {
		h.Identifier, h.MatchedBy, h.SAN, h.Cert = c.identifier, matchedBy, c.san, c.source
	}
	r.handshakes = append(r.handshakes, h)
	switch {
	case !offered:
		return nil, fmt.Errorf("tls-alpn-01: the client did not offer ALPN %q (offered %q)", acme.ALPNProto, hello.SupportedProtos)
	case c == nil:
		return nil, fmt.Errorf("tls-alpn-01: no challenge for SNI %q", hello.ServerName)
	}
	return c.cert, nil
}

// seen returns the handshakes recorded so far.
func (r *tlsALPN01Responder) seen() []handshake {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]handshake{}, r.handshakes...)
}

// listen starts the tls-alpn-01 listener; the returned func stops it. Each connection is only a
// handshake: the validator closes it once it has the certificate.
func (r *tlsALPN01Responder) listen(addr string) (func(), error) {
	ln, err := tls.Listen("tcp", addr, &tls.Config{
		NextProtos:     []string{acme.ALPNProto},
		GetCertificate: r.getCertificate,
		MinVersion:     tls.VersionTLS12,
	})
	if err != nil {
		return nil, fmt.Errorf("tls-alpn-01 listener: %w", err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				conn.(*tls.Conn).Handshake()
			}()
		}
	}()
	return func() { ln.Close() }, nil
}

// reverseDNSName is RFC 8738 §6's SNI for an IP identifier: 127.0.0.1 → 1.0.0.127.in-addr.arpa,
// IPv6 → its 32 nibbles reversed under ip6.arpa.
func reverseDNSName(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", v4[3], v4[2], v4[1], v4[0])
	}
	digits := hex.EncodeToString(ip.To16())
	labels := make([]string, 0, len(digits)+1)
	for i := len(digits) - 1; i >= 0; i-- {
		labels = append(labels, digits[i:i+1])
	}
	return strings.Join(append(labels, "ip6.arpa"), ".")
}

// sanText lists a certificate's DNS and IP SANs as "dns:x, ip:y".
func sanText(c *x509.Certificate) string {
	var parts []string
	for _, n := range c.DNSNames {
		parts = append(parts, "dns:"+n)
	}
	for _, ip := range c.IPAddresses {
		parts = append(parts, "ip:"+ip.String())
	}
	return strings.Join(parts, ", ")
}
