// x509check parses each certificate named on the command line (DER or PEM) with Go's
// crypto/x509, as Go clients (cert-manager, Kubernetes, lego, Caddy) will, and exits 1 naming the
// first file it refuses and why ("x509: invalid RSA modulus", say). certmint's tests run it on
// the certificates they issue, so a key or encoding another verifier rejects cannot slip through.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: x509check CERT...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		ders := [][]byte{data}
		if block, _ := pem.Decode(data); block != nil {
			ders = nil
			for rest := data; ; {
				block, rest = pem.Decode(rest)
				if block == nil {
					break
				}
				ders = append(ders, block.Bytes)
			}
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
