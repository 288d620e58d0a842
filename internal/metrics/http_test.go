package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// requestCount returns the value of scimbridge_http_requests_total for
// the labels.
func requestCount(m *Metrics, surface, route, method, status string) float64 {
	return testutil.ToFloat64(m.requests.WithLabelValues(surface, route, method, status))
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestMiddlewareRouteIsThePattern(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/orgs/{org}/webhooks/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /admin/v1/orgs/{org}/webhooks", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	srv := httptest.NewServer(m.Middleware("admin", nil, mux))
	defer srv.Close()

	get(t, srv.URL+"/admin/v1/orgs/acme/webhooks/0f9c1d2e")
	get(t, srv.URL+"/admin/v1/orgs/globex/webhooks/77")
	resp, err := http.Post(srv.URL+"/admin/v1/orgs/acme/webhooks", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get(t, srv.URL+"/admin/v1/orgs/acme/no-such-thing/42") // 404: no pattern
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/admin/v1/orgs/acme/webhooks", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil { // 405: no pattern
		resp.Body.Close()
	}

	tests := []struct {
		route, method, status string
		want                  float64
	}{
		{"/admin/v1/orgs/{org}/webhooks/{id}", "GET", "200", 2},
		{"/admin/v1/orgs/{org}/webhooks", "POST", "201", 1},
		{OtherRoute, "GET", "404", 1},
		{OtherRoute, "DELETE", "405", 1},
	}
	for _, tt := range tests {
		if got := requestCount(m, "admin", tt.route, tt.method, tt.status); got != tt.want {
			t.Errorf("requests{admin,%s,%s,%s} = %v; want %v", tt.route, tt.method, tt.status, got, tt.want)
		}
	}

	// No raw path or id reaches a label.
	body := scrape(t, m)
	for _, leak := range []string{"acme", "globex", "0f9c1d2e", "no-such-thing"} {
		if strings.Contains(body, leak) {
			t.Errorf("scrape contains %q from a raw path:\n%s", leak, grepLines(body, leak))
		}
	}
	if !strings.Contains(body, `scimbridge_http_request_duration_seconds_count{method="GET",route="/admin/v1/orgs/{org}/webhooks/{id}",surface="admin"} 2`) {
		t.Errorf("scrape lacks the duration histogram of the GET route:\n%s", grepLines(body, "duration_seconds_count"))
	}
}

// TestMiddlewareNestedMux checks the wiring of the server: the top-level
// mux routes a prefix to a surface, Middleware wraps the surface, and the
// surface routes with a mux of its own. The inner pattern wins.
func TestMiddlewareNestedMux(t *testing.T) {
	m := New()
	inner := http.NewServeMux()
	inner.HandleFunc("GET /sso/{org}/{dir}/oidc/login", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	})
	surface := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		inner.ServeHTTP(w, r) // the same *http.Request, as sso.Handler does
	})
	top := http.NewServeMux()
	top.Handle("/sso/", m.Middleware("sso", nil, surface))
	top.Handle("/other/", m.Middleware("other", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	srv := httptest.NewServer(top)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, path := range []string{"/sso/acme/main/oidc/login", "/sso/acme/main/nope", "/other/thing/1"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := requestCount(m, "sso", "/sso/{org}/{dir}/oidc/login", "GET", "302"); got != 1 {
		t.Errorf("inner pattern count = %v; want 1", got)
	}
	// The inner mux matched nothing: it clears the pattern.
	if got := requestCount(m, "sso", OtherRoute, "GET", "404"); got != 1 {
		t.Errorf("unmatched inner route count = %v; want 1", got)
	}
	// No inner mux: the top-level pattern stays.
	if got := requestCount(m, "other", "/other/", "GET", "200"); got != 1 {
		t.Errorf("top-level pattern count = %v; want 1", got)
	}
}

// TestMiddlewareCopiedRequest documents the caveat: a handler between
// Middleware and the mux that copies the request hides the pattern, and
// the route is counted as "other".
func TestMiddlewareCopiedRequest(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x/{id}", func(w http.ResponseWriter, r *http.Request) {})
	type key struct{}
	copying := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, 1)))
	})
	srv := httptest.NewServer(m.Middleware("s", nil, copying))
	defer srv.Close()
	get(t, srv.URL+"/x/1")
	if got := requestCount(m, "s", OtherRoute, "GET", "200"); got != 1 {
		t.Errorf("copied request: requests{route=other} = %v; want 1", got)
	}
}

func TestMiddlewareRouteFunc(t *testing.T) {
	m := New()
	route := func(r *http.Request) string {
		if strings.HasSuffix(r.URL.Path, "/Users") {
			return "/scim/v2/{org}/{directory}/Users"
		}
		return ""
	}
	h := m.Middleware("scim", route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, p := range []string{"/scim/v2/acme/main/Users", "/scim/v2/acme/main/Groups"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	if got := requestCount(m, "scim", "/scim/v2/{org}/{directory}/Users", "GET", "200"); got != 1 {
		t.Errorf("route func result count = %v; want 1", got)
	}
	if got := requestCount(m, "scim", OtherRoute, "GET", "200"); got != 1 {
		t.Errorf("empty route count = %v; want 1", got)
	}
}

func TestRouteOf(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{"", OtherRoute},
		{"/", "/"},
		{"/scim/v2/", "/scim/v2/"},
		{"GET /healthz", "/healthz"},
		{"DELETE /admin/v1/orgs/{org}/webhooks/{id}", "/admin/v1/orgs/{org}/webhooks/{id}"},
		{"GET  example.com/x", "example.com/x"},
		{"example.com/", "example.com/"},
		{"\xff/", OtherRoute},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Pattern = tt.pattern
		if got := routeOf(nil, r); got != tt.want {
			t.Errorf("routeOf(Pattern %q) = %q; want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestMiddlewareStatus(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		want    string
	}{
		{"nothing written", "GET", func(w http.ResponseWriter, r *http.Request) {}, "200"},
		{"body only", "GET", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hi") }, "200"},
		{"explicit 204", "DELETE", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, "204"},
		{"error 409", "POST", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "conflict", http.StatusConflict)
		}, "409"},
		{"second WriteHeader ignored", "PUT", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			w.WriteHeader(http.StatusOK)
		}, "400"},
		{"write then WriteHeader", "PATCH", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "x")
			w.WriteHeader(http.StatusInternalServerError)
		}, "200"},
		{"informational first", "POST", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, "201"},
		{"flush first", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusTeapot)
		}, "200"},
		{"503", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, "503"},
		{"odd method", "BREW", func(w http.ResponseWriter, r *http.Request) {}, "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			srv := httptest.NewUnstartedServer(m.Middleware("scim", func(*http.Request) string { return "/r" }, tt.handler))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // superfluous WriteHeader calls are on purpose
			srv.Start()
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+"/r", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if got := resp.Status[:3]; got != tt.want {
				t.Errorf("client saw %s; want %s", got, tt.want)
			}
			method := methodOf(tt.method)
			if got := requestCount(m, "scim", "/r", method, tt.want); got != 1 {
				t.Errorf("requests{status=%s} = %v; want 1\n%s", tt.want, got, grepLines(scrape(t, m), "http_requests_total{"))
			}
		})
	}
}

func TestMethodOf(t *testing.T) {
	for m, want := range map[string]string{
		"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE",
		"OPTIONS": "OPTIONS", "CONNECT": "CONNECT", "TRACE": "TRACE",
		"get": OtherRoute, "PROPFIND": OtherRoute, "": OtherRoute,
	} {
		if got := methodOf(m); got != want {
			t.Errorf("methodOf(%q) = %q; want %q", m, got, want)
		}
	}
}

func TestMiddlewarePanic(t *testing.T) {
	m := New()
	h := m.Middleware("admin", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v; want the handler's panic to go on up", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if got := requestCount(m, "admin", OtherRoute, "GET", "500"); got != 1 {
		t.Errorf("panicking request counted %v times as 500; want 1", got)
	}
}

// TestMiddlewareFlush streams through the middleware: the client must see
// each event before the handler writes the next, as the admin event
// stream needs.
func TestMiddlewareFlush(t *testing.T) {
	m := New()
	next := make(chan struct{})
	h := m.Middleware("admin", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			t.Error("the middleware's ResponseWriter is not an http.Flusher")
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController.SetWriteDeadline through the middleware: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			_, _ = io.WriteString(w, "data: event\n\n")
			if i%2 == 0 {
				w.(http.Flusher).Flush()
			} else if err := rc.Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				t.Error("the client never read the flushed event")
				return
			}
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for range 3 {
		line, err := readLine(br)
		if err != nil || line != "data: event\n" {
			t.Fatalf("read %q, %v; want an event", line, err)
		}
		_, _ = br.ReadString('\n')
		select {
		case next <- struct{}{}:
		case <-time.After(5 * time.Second):
			t.Fatal("the handler stopped waiting")
		}
	}
	_, _ = io.Copy(io.Discard, br)
	resp.Body.Close()
	srv.Close() // waits for the handler, and so for the count
	if got := requestCount(m, "admin", OtherRoute, "GET", "200"); got != 1 {
		t.Errorf("stream counted %v times; want 1", got)
	}
}

// noFlush is a ResponseWriter that cannot flush.
type noFlush struct{ http.ResponseWriter }

func TestMiddlewareFlushUnsupported(t *testing.T) {
	m := New()
	h := m.Middleware("x", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // a no-op, no panic
		w.WriteHeader(http.StatusAccepted)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(noFlush{rec}, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusAccepted {
		t.Errorf("status = %d; want 202", rec.Code)
	}
	if got := requestCount(m, "x", OtherRoute, "GET", "202"); got != 1 {
		t.Errorf("requests{202} = %v; want 1", got)
	}
}

// readLine reads one line, failing after a while rather than hanging when
// the handler does not flush.
func readLine(br *bufio.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := br.ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-time.After(3 * time.Second):
		return "", errors.New("no line within 3s: not flushed")
	}
}
