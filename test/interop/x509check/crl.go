package main

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"os"
)

// RFC 5280 §5.2.5: the Issuing Distribution Point, critical on certmint's partition CRLs.
var oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}

// crlReport is what checkCrls prints for each CRL, one JSON object a line, for the test to
// compare with what certmint revoked.
type crlReport struct {
	File    string   `json:"file"`
	Number  string   `json:"number"`
	Serials []string `json:"serials"`
	// Whether Go saw the Issuing Distribution Point, and as critical: a parser that skipped
	// it would apply a partition's CRL to every certificate of the issuer.
	IdpCritical *bool `json:"idpCritical"`
}

// checkCrls parses each CRL (DER or PEM) with x509.ParseRevocationList, as a Go relying party
// fetching the certificate's CRL distribution point would, and checks its signature with
// CheckSignatureFrom against the first certificate in issuerFile. Returns the exit status: 1
// naming the first CRL Go refuses and Go's own error.
func checkCrls(issuerFile string, crlFiles []string) int {
	issuerDers, err := readDers(issuerFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", issuerFile, err)
		return 1
	}
	issuer, err := x509.ParseCertificate(issuerDers[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", issuerFile, err)
		return 1
	}
	out := json.NewEncoder(os.Stdout)
	for _, name := range crlFiles {
		ders, err := readDers(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			return 1
		}
		crl, err := x509.ParseRevocationList(ders[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: ParseRevocationList: %v\n", name, err)
			return 1
		}
		if err := crl.CheckSignatureFrom(issuer); err != nil {
			fmt.Fprintf(os.Stderr, "%s: CheckSignatureFrom %s: %v\n", name, issuer.Subject, err)
			return 1
		}
		report := crlReport{File: name, Serials: []string{}}
		if crl.Number != nil {
			report.Number = crl.Number.String()
		}
		for _, entry := range crl.RevokedCertificates {
			report.Serials = append(report.Serials, entry.SerialNumber.Text(16))
		}
		for _, ext := range crl.Extensions {
			if ext.Id.Equal(oidIssuingDistributionPoint) {
				critical := ext.Critical
				report.IdpCritical = &critical
			}
		}
		if err := out.Encode(report); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}
