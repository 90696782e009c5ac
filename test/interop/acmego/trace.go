package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"time"
)

// requestTracer writes one line per ACME request and per http-01 fetch it answered, for the
// timeline of one issuance (issue 27: where the milliseconds of a C=1 flow go). Times are
// microseconds since the tracer started; a request's columns are: when the client began it, got a
// connection (and whether it was reused), finished writing it, read the first response byte, and
// closed the body. The gaps between one request's close and the next one's start are the client's
// own work (signing, key and CSR generation).
type requestTracer struct {
	start time.Time
	mu    sync.Mutex
	w     *bufio.Writer
	f     *os.File
}

func openRequestTracer(path string) (*requestTracer, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	t := &requestTracer{start: time.Now(), w: bufio.NewWriter(f), f: f}
	fmt.Fprintln(t.w, "kind\tmethod\tpath\tstatus\treused\tstart_us\tconn_us\twrote_us\tfirst_byte_us\tclosed_us")
	return t, nil
}

func (t *requestTracer) since(at time.Time) int64 {
	if at.IsZero() {
		return -1
	}
	return at.Sub(t.start).Microseconds()
}

func (t *requestTracer) line(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, format, args...)
}

func (t *requestTracer) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.w.Flush(); err != nil {
		return err
	}
	return t.f.Close()
}

// http01Served records when the http-01 responder answered the server's validation fetch.
func (t *requestTracer) http01Served(path string) {
	if t == nil {
		return
	}
	now := t.since(time.Now())
	t.line("http01\tGET\t%s\t200\t-\t%d\t-1\t-1\t-1\t%d\n", path, now, now)
}

// wrap returns a transport that traces every request through base.
func (t *requestTracer) wrap(base http.RoundTripper) http.RoundTripper {
	if t == nil {
		return base
	}
	return tracedTransport{t: t, base: base}
}

type tracedTransport struct {
	t    *requestTracer
	base http.RoundTripper
}

type requestTimes struct {
	start, conn, wrote, firstByte time.Time
	reused                        bool
}

func (tt tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	times := &requestTimes{start: time.Now()}
	trace := &httptrace.ClientTrace{
		GotConn:              func(info httptrace.GotConnInfo) { times.conn, times.reused = time.Now(), info.Reused },
		WroteRequest:         func(httptrace.WroteRequestInfo) { times.wrote = time.Now() },
		GotFirstResponseByte: func() { times.firstByte = time.Now() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) {},
	}
	res, err := tt.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		tt.t.line("acme\t%s\t%s\terror\t%t\t%d\t%d\t%d\t%d\t%d\n", req.Method, req.URL.Path, times.reused,
			tt.t.since(times.start), tt.t.since(times.conn), tt.t.since(times.wrote), tt.t.since(times.firstByte), tt.t.since(time.Now()))
		return nil, err
	}
	res.Body = &tracedBody{ReadCloser: res.Body, done: func() {
		tt.t.line("acme\t%s\t%s\t%d\t%t\t%d\t%d\t%d\t%d\t%d\n", req.Method, strings.TrimSpace(req.URL.Path), res.StatusCode, times.reused,
			tt.t.since(times.start), tt.t.since(times.conn), tt.t.since(times.wrote), tt.t.since(times.firstByte), tt.t.since(time.Now()))
	}}
	return res, nil
}

type tracedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *tracedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
