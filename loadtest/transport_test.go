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
	srv.CloseClientConnections() // the server drops the idle connection
	if got := do(http.MethodPost, "/", "again"); got != "POST again" {
		t.Errorf("after the server closed the idle connection: %q; want the request sent again", got)
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
