package loadtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// conns is the load tool's own HTTP/1.1 keep-alive transport: each request
// is written and its response read on the caller's goroutine, over a
// connection taken from a pool of idle ones. net/http's Transport runs a
// reader and a writer goroutine per connection and hands every request
// and response between them; on a small machine that shares its cores
// with the server under test, those hand-offs took a third of the load
// tool's CPU, which the server then did not have. Requests are written
// with (*http.Request).Write and responses parsed with http.ReadResponse,
// so the wire format is net/http's own. It speaks HTTP/1.1 only (over TLS
// it offers only http/1.1), ignores proxy settings, and gives every request
// requestTimeout as its connection deadline (or the request context's
// deadline when that is sooner).
type conns struct {
	addr, host string
	tls        *tls.Config // nil for http
	dialer     net.Dialer

	mu   sync.Mutex
	idle []*conn
}

type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

func newConns(scheme, host string) *conns {
	t := &conns{host: host, addr: host, dialer: net.Dialer{Timeout: requestTimeout, KeepAlive: 30 * time.Second}}
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "80"
		if scheme == "https" {
			port = "443"
		}
		t.addr = net.JoinHostPort(host, port)
	}
	if scheme == "https" {
		name, _, err := net.SplitHostPort(t.addr)
		if err != nil {
			name = host
		}
		t.tls = &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	return t
}

// get takes an idle connection, most recently used first. One that sat
// idle for a while is checked first: a server that closed it (its idle
// timeout) has sent EOF, which a read sees at once; a live one times out
// after a millisecond. Under load connections are reused at once and are
// not checked.
func (t *conns) get() *conn {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if time.Since(c.idleSince) < checkIdleAfter || alive(c) {
			return c
		}
		c.nc.Close()
	}
}

// checkIdleAfter is how long a connection sits idle before get checks it.
var checkIdleAfter = time.Second

func alive(c *conn) bool {
	if err := c.nc.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	_, err := c.br.Peek(1)
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout() // no byte, no EOF: still open
}

func (t *conns) put(c *conn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	t.idle = append(t.idle, c)
	t.mu.Unlock()
}

// CloseIdleConnections closes the pooled connections (http.Client calls
// it from its method of the same name).
func (t *conns) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

func (t *conns) dial(ctx context.Context) (*conn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	if t.tls != nil {
		tc := tls.Client(nc, t.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 32<<10), bw: bufio.NewWriterSize(nc, 16<<10)}, nil
}

// RoundTrip sends req on an idle connection or a new one. A request is
// sent again, once, on a new connection only when that cannot repeat its
// effect: writing it to a reused connection failed, or it is a GET or HEAD
// whose reused connection ended before any response (net/http retries
// the same ones). A POST whose connection ended before its response is an
// error: the server may have carried it out.
func (t *conns) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return nil, fmt.Errorf("loadtest transport: %s is not %s", req.URL.Host, t.host)
	}
	ctx := req.Context()
	c := t.get()
	reused := c != nil
	for {
		if c == nil {
			var err error
			if c, err = t.dial(ctx); err != nil {
				return nil, err
			}
		}
		res, written, err := t.exchange(ctx, c, req)
		if err == nil {
			return res, nil
		}
		c.nc.Close()
		replay := !written || req.Method == http.MethodGet || req.Method == http.MethodHead
		if !reused || !replay || !closedIdle(err) || ctx.Err() != nil {
			return nil, err
		}
		if req.Body != nil {
			if req.GetBody == nil {
				return nil, err
			}
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		c, reused = nil, false
	}
}

// exchange writes req on c and reads the response head. written reports
// whether the request left for the server (its write succeeded).
func (t *conns) exchange(ctx context.Context, c *conn, req *http.Request) (res *http.Response, written bool, err error) {
	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	// A cancelled context ends the exchange, and the body's reading, at
	// once: the connection's deadline is moved to the past.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	if err := req.Write(c.bw); err != nil {
		stop()
		return nil, false, err
	}
	if err := c.bw.Flush(); err != nil {
		stop()
		return nil, false, err
	}
	res, err = http.ReadResponse(c.br, req)
	if err != nil {
		stop()
		return nil, true, err
	}
	res.Body = &body{ReadCloser: res.Body, t: t, c: c, keep: !res.Close, stop: stop}
	return res, true, nil
}

// closedIdle reports whether err is what a connection the server closed
// while idle gives: EOF before a response, a reset, a broken pipe.
func closedIdle(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// body gives its connection back to the pool when it was read to the end
// and closed, and closes the connection otherwise.
type body struct {
	io.ReadCloser
	t    *conns
	c    *conn
	stop func() bool // ends the context's hold on the connection
	eof  bool
	keep bool
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *body) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.ReadCloser.Close()
	if b.eof && b.keep && err == nil && b.stop() { // stop: the context had not ended it
		b.t.put(b.c)
		return nil
	}
	b.stop()
	b.c.nc.Close()
	if err != nil {
		return fmt.Errorf("closing the response body: %w", err)
	}
	return nil
}
