package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// OtherRoute is the route label of a request whose route is unknown (no
// pattern matched it) and the method label of a method outside the
// standard ones.
const OtherRoute = "other"

// Middleware returns next counting each request in
// scimbridge_http_requests_total and timing it in
// scimbridge_http_request_duration_seconds, labelled with surface ("scim",
// "admin", "sso"), the route, the method and the status written.
//
// route is called once next has returned, on the same *http.Request that
// Middleware passed to next, and must return a low-cardinality route: a
// pattern such as "/scim/v2/{org}/{directory}/Users/{id}", never a raw
// path with ids in it. When route is nil the route is r.Pattern with its
// method dropped ("GET /admin/v1/orgs/{org}/webhooks" gives
// "/admin/v1/orgs/{org}/webhooks"; the method has a label of its own). An
// empty route is counted as OtherRoute.
//
// r.Pattern works because a ServeMux sets Pattern on the very
// *http.Request it is given (net/http's ServeMux.ServeHTTP:
// "h, r.Pattern, r.pat, r.matches = mux.findHandler(r)"), and Middleware
// passes its request on unchanged; a nested ServeMux overwrites it with
// its own, finer pattern. So r.Pattern is the innermost mux's pattern
// provided that every handler between Middleware and that mux passes the
// request pointer on as is. A handler that calls r.WithContext or
// r.Clone before routing hands the mux a copy, and the pattern set on the
// copy is not seen here: keep such middleware outside Middleware, or
// inside the mux's handlers. A surface that routes without a ServeMux
// must pass its own route func.
//
// The status is the one the handler wrote: the first final
// (non-informational) WriteHeader, or 200 when it wrote a body, flushed or
// returned without writing anything. A handler that panics before writing
// is counted as 500 and the panic goes on up unchanged. The
// ResponseWriter given to next implements http.Flusher and has an Unwrap
// method, so http.ResponseController reaches the server's writer for
// deadlines, hijacking and the rest.
//
// A long-lived request (an event stream) is timed when it ends, and so
// lands in the top bucket.
func (m *Metrics) Middleware(surface string, route func(*http.Request) string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	surface = label(surface)
	requests := m.requests.MustCurryWith(prometheus.Labels{"surface": surface})
	duration := m.duration.MustCurryWith(prometheus.Labels{"surface": surface})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &StatusRecorder{ResponseWriter: w}
		returned := false
		defer func() {
			status := rec.Status
			if status == 0 {
				status = http.StatusOK
				if !returned { // panicking
					status = http.StatusInternalServerError
				}
			}
			rt, method := routeOf(route, r), methodOf(r.Method)
			requests.WithLabelValues(rt, method, strconv.Itoa(status)).Inc()
			duration.WithLabelValues(rt, method).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
		returned = true
	})
}

func routeOf(route func(*http.Request) string, r *http.Request) string {
	var rt string
	if route != nil {
		rt = route(r)
	} else {
		rt = r.Pattern
		// A pattern is "[METHOD ][HOST]/[PATH]": the method, when there is
		// one, ends at the first space or tab.
		if i := strings.IndexAny(rt, " \t"); i >= 0 {
			rt = strings.TrimLeft(rt[i:], " \t")
		}
	}
	if rt == "" || !utf8.ValidString(rt) {
		return OtherRoute
	}
	return rt
}

func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return OtherRoute
}

// StatusRecorder remembers the status a handler writes; it keeps Flush
// and Unwrap (for http.ResponseController) working for streamed
// responses. The edge uses it too, to see refusals of bad tokens.
type StatusRecorder struct {
	http.ResponseWriter
	Status int // 0 until a final status is written
}

func (w *StatusRecorder) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code) // first: it panics on an invalid code
	if w.Status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.Status = code
	}
}

func (w *StatusRecorder) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far, and the 200 header if no status
// was written yet. It is a no-op when the server's writer cannot flush.
func (w *StatusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	} else if http.NewResponseController(w.ResponseWriter).Flush() != nil {
		return
	}
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
}

// Unwrap returns the server's writer, for http.ResponseController.
func (w *StatusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
