package loadtest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestConnsReuseAndReconnect checks the load tool's transport: it keeps
// one connection for requests one after another, sends a request again
// on a new connection when the server closed the idle one, and does not
// pool a connection the server said it closes.
func TestConnsReuseAndReconnect(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("close") != "" {
			w.Header().Set("Connection", "close")
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.Method+" "+string(b))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	client := &http.Client{Transport: newConns(u.Scheme, u.Host)}
	do := func(method, path, body string) string {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading: %v", method, path, err)
		}
		return string(got)
	}
	for i := range 5 {
		if got := do(http.MethodPost, "/", "x"); got != "POST x" {
			t.Fatalf("request %d answered %q", i, got)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("5 requests one after another opened %d connections; want 1", n)
	}
	// The server drops the idle connection: a GET is sent again on a new one.
	srv.CloseClientConnections()
	if got := do(http.MethodGet, "/", ""); got != "GET " {
		t.Errorf("after the server closed the idle connection: %q; want the GET sent again", got)
	}
	// A POST is not: the server may have carried it out before closing.
	srv.CloseClientConnections()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("once"))
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("a POST on a connection the server had closed was sent again")
	}
	// A connection idle for a while is checked before it is used, so the
	// POST goes out on a new one.
	checkIdleAfter = 0
	defer func() { checkIdleAfter = time.Second }()
	do(http.MethodGet, "/", "")
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond) // the FIN arrives
	if got := do(http.MethodPost, "/", "checked"); got != "POST checked" {
		t.Errorf("POST after an idle check: %q", got)
	}
	if got := do(http.MethodGet, "/?close=1", ""); got != "GET " {
		t.Errorf("got %q", got)
	}
	before := dials.Load()
	do(http.MethodGet, "/", "")
	if dials.Load() != before+1 {
		t.Errorf("a connection the server closed with Connection: close was used again")
	}
}
