// x509verify verifies a leaf to trusted roots through intermediates with Go's crypto/x509, as Go
// clients (cert-manager, Kubernetes, Caddy, Istio) do, name constraints included. It exits 0 when
// x509.Verify accepts the chain, 1 with Go's error on stderr when it does not, 2 on bad usage.
//
//	x509verify -roots ROOTS.pem [-intermediates INTER.pem] [-dns NAME] LEAF.pem
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
)

func readCerts(name string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", name)
	}
	return certs, nil
}

func pool(names []string) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	for _, name := range names {
		certs, err := readCerts(name)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			p.AddCert(c)
		}
	}
	return p, nil
}

type files []string

func (f *files) String() string     { return fmt.Sprint(*f) }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var roots, intermediates files
	flag.Var(&roots, "roots", "PEM file of trusted roots (repeatable)")
	flag.Var(&intermediates, "intermediates", "PEM file of intermediates (repeatable)")
	dnsName := flag.String("dns", "", "the name the leaf must be valid for (empty: not checked)")
	flag.Parse()
	if len(roots) == 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: x509verify -roots ROOTS.pem [-intermediates INTER.pem] [-dns NAME] LEAF.pem")
		os.Exit(2)
	}
	rootPool, err := pool(roots)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	interPool, err := pool(intermediates)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	leaves, err := readCerts(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	chains, err := leaves[0].Verify(x509.VerifyOptions{
		Roots:         rootPool,
		Intermediates: interPool,
		DNSName:       *dnsName,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("OK: %d chain(s), the first of %d certificates\n", len(chains), len(chains[0]))
}
