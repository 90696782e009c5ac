// x509check parses each certificate named on the command line (DER or PEM) with Go's
// crypto/x509, as Go clients (cert-manager, Kubernetes, lego, Caddy) will, and exits 1 naming the
// first file it refuses and why ("x509: invalid RSA modulus", say). certmint's tests run it on
// the certificates they issue, so a key or encoding another verifier rejects cannot slip through.
//
//	x509check CERT...
//	x509check -crl-issuer ISSUER.pem CRL...   (see crl.go)
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
)

func main() {
	crlIssuer := flag.String("crl-issuer", "", "parse the files as CRLs and check each one's signature against this certificate (PEM or DER)")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: x509check CERT... | x509check -crl-issuer ISSUER CRL...")
		os.Exit(2)
	}
	if *crlIssuer != "" {
		os.Exit(checkCrls(*crlIssuer, flag.Args()))
	}
	for _, name := range flag.Args() {
		ders, err := readDers(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		for i, der := range ders {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s (certificate %d): %v\n", name, i+1, err)
				os.Exit(1)
			}
			fmt.Printf("%s: %s %T\n", name, cert.Subject, cert.PublicKey)
		}
	}
}

// readDers returns the DER of every PEM block in the file, or the whole file when it is not PEM.
func readDers(name string) ([][]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var ders [][]byte
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		ders = append(ders, block.Bytes)
	}
	if ders == nil {
		ders = [][]byte{data}
	}
	return ders, nil
}
