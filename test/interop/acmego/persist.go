package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
)

// dnsPersist01Solver answers dns-persist-01 (draft-ietf-acme-dns-persist-01) the only way
// x/crypto/acme can: it knows no such type, so it Accepts the challenge. The record is standing
// DNS data, not an answer per challenge; it names the account URL, which exists only after
// registration, so acmego writes it itself into pebble-challtestsrv (-challtestsrv) from a
// template: -persist-record with {account} replaced by the account URL, at -persist-owner with
// {name} replaced by the authorization's name. An empty -persist-record writes nothing (the test
// set the record, or wants none). Withdrawing leaves the record: it is meant to persist.
type dnsPersist01Solver struct {
	challtestsrv, recordTemplate, ownerTemplate string
	account                                     string
	hc                                          *http.Client
}

func newDNSPersist01Solver(challtestsrv, recordTemplate, ownerTemplate string) *dnsPersist01Solver {
	return &dnsPersist01Solver{
		challtestsrv: challtestsrv, recordTemplate: recordTemplate, ownerTemplate: ownerTemplate,
		hc: &http.Client{Timeout: 10 * time.Second},
	}
}

func (p *dnsPersist01Solver) challengeType() string { return "dns-persist-01" }

func (p *dnsPersist01Solver) present(_ *acme.Client, id acme.AuthzID, _ *acme.Challenge) (func(), error) {
	if p.recordTemplate == "" {
		return func() {}, nil
	}
	owner := strings.ReplaceAll(p.ownerTemplate, "{name}", id.Value)
	value := strings.ReplaceAll(p.recordTemplate, "{account}", p.account)
	// challtestsrv keys TXT data by the fully qualified name.
	body, err := json.Marshal(map[string]string{"host": strings.TrimSuffix(owner, ".") + ".", "value": value})
	if err != nil {
		return nil, err
	}
	res, err := p.hc.Post(strings.TrimSuffix(p.challtestsrv, "/")+"/set-txt", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("set the dns-persist-01 record: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("set the dns-persist-01 record: pebble-challtestsrv answered %s", res.Status)
	}
	return func() {}, nil
}

// listen has nothing to serve: the answer is in DNS.
func (p *dnsPersist01Solver) listen() (func(), error) { return func() {}, nil }
