package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// exchange is one HTTP request and its response as recordingTransport saw them. Times are in
// milliseconds since the recording was last reset.
type exchange struct {
	Method     string  `json:"method"`
	URL        string  `json:"url"`
	SentMs     float64 `json:"sent_ms"`
	ReceivedMs float64 `json:"received_ms"`
	Status     int     `json:"status"`
	// RetryAfter is the Retry-After header as received, empty when absent.
	RetryAfter string `json:"retry_after,omitempty"`
	// Problem is the type of an application/problem+json body (RFC 7807), empty otherwise.
	Problem string `json:"problem,omitempty"`
}

// recordingTransport logs every exchange of an http.Client. x/crypto/acme retries 429 and 5xx
// inside its methods and returns only the last answer, so the refusals it waited out are seen
// only here.
type recordingTransport struct {
	next  http.RoundTripper
	mu    sync.Mutex
	start time.Time
	log   []exchange
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	res, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	received := time.Now()
	e := exchange{Method: req.Method, URL: req.URL.String(), Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		// Read the problem and hand x/crypto an unread copy of the body.
		body, rerr := ioutil.ReadAll(res.Body)
		res.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		res.Body = ioutil.NopCloser(bytes.NewReader(body))
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &p) == nil {
			e.Problem = p.Type
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e.SentMs, e.ReceivedMs = ms(sent.Sub(t.start)), ms(received.Sub(t.start))
	t.log = append(t.log, e)
	return res, nil
}

// reset forgets the exchanges so far and restarts the clock.
func (t *recordingTransport) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start, t.log = time.Now(), nil
}

func (t *recordingTransport) exchanges() []exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]exchange(nil), t.log...)
}

type probeOrder struct {
	URI    string `json:"uri"`
	Status string `json:"status"`
	// Authorizations maps each authorization URL of the order to its status when last read.
	Authorizations map[string]string `json:"authorizations"`
	// Ms is how long AuthorizeOrder took, x/crypto's own waiting on Retry-After included.
	Ms float64 `json:"ms"`
	// Exchanges are the HTTP exchanges made during AuthorizeOrder.
	Exchanges []exchange `json:"exchanges"`
}

type probeResult struct {
	Mode    string      `json:"mode"`
	OK      bool        `json:"ok"`
	Account string      `json:"account"`
	First   *probeOrder `json:"first_order"`
	Second  *probeOrder `json:"second_order"`
	// FirstAuthorizationsAfter is, per authorization of the first order, its status once the
	// second order exists (it had to stop being pending for the second order to be let in).
	FirstAuthorizationsAfter map[string]string `json:"first_authorizations_after"`
}

// authorizeTimed runs AuthorizeOrder for one name with a fresh recording and reads back the
// status of each of the order's authorizations, answering none of them.
func authorizeTimed(ctx context.Context, client *acme.Client, rec *recordingTransport, name string) (*probeOrder, error) {
	rec.reset()
	t0 := time.Now()
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	took := time.Since(t0)
	exchanges := rec.exchanges()
	if err != nil {
		log, _ := json.Marshal(exchanges)
		return nil, fmt.Errorf("new order for %s after %.0f ms: %w; exchanges: %s", name, ms(took), err, log)
	}
	authzs, err := authorizationStatuses(ctx, client, order.AuthzURLs)
	if err != nil {
		return nil, err
	}
	return &probeOrder{URI: order.URI, Status: order.Status, Authorizations: authzs, Ms: ms(took), Exchanges: exchanges}, nil
}

func authorizationStatuses(ctx context.Context, client *acme.Client, urls []string) (map[string]string, error) {
	statuses := map[string]string{}
	for _, u := range urls {
		z, err := client.GetAuthorization(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("get authorization %s: %w", u, err)
		}
		statuses[u] = z.Status
	}
	return statuses, nil
}

// runRateLimitProbe checks that the pending-authorization limit can be waited out the way
// x/crypto/acme does it by itself: the first order's authorization is left pending, so the
// second order is refused with 429 rateLimited and Retry-After; x/crypto's default RetryBackoff
// sleeps Retry-After (plus up to 1 s of jitter) and sends newOrder again, which succeeds once the
// first authorization has expired. The whole probe is bounded by timeout.
func runRateLimitProbe(ctx context.Context, o *options, hc *http.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec := &recordingTransport{next: hc.Transport, start: time.Now()}
	recorded := &http.Client{Transport: rec, Timeout: hc.Timeout}
	client, account, err := register(ctx, recorded, o.directory, o.email, o.eab)
	if err != nil {
		return err
	}
	first, err := authorizeTimed(ctx, client, rec, o.names[0])
	if err != nil {
		return fmt.Errorf("first order: %w", err)
	}
	second, err := authorizeTimed(ctx, client, rec, o.names[1])
	if err != nil {
		return fmt.Errorf("second order: %w", err)
	}
	var firstAuthzs []string
	for u := range first.Authorizations {
		firstAuthzs = append(firstAuthzs, u)
	}
	after, err := authorizationStatuses(ctx, client, firstAuthzs)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(probeResult{
		Mode: "rate-limit-probe", OK: true, Account: account, First: first, Second: second, FirstAuthorizationsAfter: after,
	})
}
