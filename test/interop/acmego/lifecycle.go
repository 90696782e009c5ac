package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/crypto/acme"
)

// lifecycleResult is what -rollover-and-deactivate observed. The problem types are the ones the
// server answered to the requests that must fail; acmego itself fails when one of them succeeds.
type lifecycleResult struct {
	// NewKeyAccount is the account GetReg (newAccount, onlyReturnExisting) finds for the new key.
	NewKeyAccount string `json:"new_key_account"`
	// OldKeyLookup is what GetReg with the old key got: "accountDoesNotExist" (ErrNoAccount).
	OldKeyLookup string `json:"old_key_lookup"`
	// OldKeySigned is the problem type of a request signed with the old key and the account's kid.
	OldKeySigned string `json:"old_key_signed"`
	Deactivated  bool   `json:"deactivated"`
	// AfterDeactivationLookup is the problem type of GetReg with the (new) key after DeactivateReg.
	AfterDeactivationLookup string `json:"after_deactivation_lookup"`
	// AfterDeactivationSigned is the problem type of a kid-signed request after DeactivateReg.
	AfterDeactivationSigned string `json:"after_deactivation_signed"`
}

// problemType is the short ACME problem type of a failed request ("malformed" for
// urn:ietf:params:acme:error:malformed), or an error when the request did not fail with one.
func problemType(err error) (string, error) {
	if errors.Is(err, acme.ErrNoAccount) {
		return "accountDoesNotExist", nil
	}
	var e *acme.Error
	if !errors.As(err, &e) {
		return "", fmt.Errorf("expected an ACME problem, got %v", err)
	}
	const prefix = "urn:ietf:params:acme:error:"
	if !strings.HasPrefix(e.ProblemType, prefix) {
		return "", fmt.Errorf("unexpected problem type %q (%s)", e.ProblemType, e.Detail)
	}
	return strings.TrimPrefix(e.ProblemType, prefix), nil
}

// mustFail runs a request that the server has to refuse and returns the problem type it answered.
func mustFail(what string, err error) (string, error) {
	if err == nil {
		return "", fmt.Errorf("%s succeeded but must be refused", what)
	}
	t, perr := problemType(err)
	if perr != nil {
		return "", fmt.Errorf("%s: %w", what, perr)
	}
	return t, nil
}

// rolloverAndDeactivate rolls the account over to a new RSA-2048 key with AccountKeyRollover
// (RFC 8555 §7.3.5), checks that the new key finds the account and the old key no longer signs
// for it, then deactivates the account with DeactivateReg (§7.3.6) and checks that further
// requests are refused. client is the registered client; account its URL.
func rolloverAndDeactivate(ctx context.Context, hc *http.Client, directory string, client *acme.Client, account string) (*lifecycleResult, error) {
	res := &lifecycleResult{}
	oldKey := client.Key
	// The same key type as the old key on purpose: the server must not keep verifying with the old key.
	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := client.AccountKeyRollover(ctx, newKey); err != nil {
		return nil, fmt.Errorf("account key rollover: %w", err)
	}
	if client.Key != newKey {
		return nil, errors.New("AccountKeyRollover succeeded but the client did not take the new key")
	}

	found, err := newACMEClient(hc, directory, newKey).GetReg(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("look up the account with the new key: %w", err)
	}
	if found.URI != account {
		return nil, fmt.Errorf("the new key finds account %q, not %q", found.URI, account)
	}
	res.NewKeyAccount = found.URI

	_, err = newACMEClient(hc, directory, oldKey).GetReg(ctx, "")
	if res.OldKeyLookup, err = mustFail("GetReg with the old key", err); err != nil {
		return nil, err
	}
	old := newACMEClient(hc, directory, oldKey)
	old.KID = acme.KeyID(account)
	_, err = old.UpdateReg(ctx, &acme.Account{Contact: []string{"mailto:old-key@certmint.test"}})
	if res.OldKeySigned, err = mustFail("UpdateReg signed with the old key", err); err != nil {
		return nil, err
	}

	if err := client.DeactivateReg(ctx); err != nil {
		return nil, fmt.Errorf("deactivate the account: %w", err)
	}
	res.Deactivated = true
	_, err = newACMEClient(hc, directory, newKey).GetReg(ctx, "")
	if res.AfterDeactivationLookup, err = mustFail("GetReg after deactivation", err); err != nil {
		return nil, err
	}
	_, err = client.UpdateReg(ctx, &acme.Account{Contact: []string{"mailto:after@certmint.test"}})
	if res.AfterDeactivationSigned, err = mustFail("UpdateReg after deactivation", err); err != nil {
		return nil, err
	}
	return res, nil
}
