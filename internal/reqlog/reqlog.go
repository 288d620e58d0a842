// Package reqlog gives every HTTP request of every scimbridge surface a
// request id (echoed in the X-Request-Id response header), a request-scoped
// zerolog logger carrying that id, one access-log line, and recovery from
// panics. It is shared by the SCIM API and the surfaces that come after it,
// which is why it is a package of its own.
//
// It never logs a header, a query string or a body: the access line names
// the route pattern (the path without its query), never the Authorization
// header, so tokens, passwords and filters with personal data stay out of
// the logs.
package reqlog

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"
)

// Wrap returns next behind the request id, logger, access-log and recovery
// middleware. onPanic writes the response for a panicking request (the
// caller knows the error format of its surface); it may be nil.
func Wrap(log zerolog.Logger, next http.Handler, onPanic func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return WrapRoute(log, next, onPanic, nil)
}

// WrapRoute is Wrap with the access line also naming the request's route:
// route(r) after the request was served (nil: the pattern the ServeMux
// matched, without its method), a pattern such as
// "/scim/v2/{org}/{directory}/Users/{id}" that groups requests without
// their ids.
func WrapRoute(log zerolog.Logger, next http.Handler, onPanic func(w http.ResponseWriter, r *http.Request), route func(r *http.Request) string) http.Handler {
	if route == nil {
		route = func(r *http.Request) string { return strings.TrimPrefix(r.Pattern, r.Method+" ") }
	}
	h := recoverer(next, onPanic)
	h = hlog.AccessHandler(func(r *http.Request, status, size int, d time.Duration) {
		l := hlog.FromRequest(r)
		ev := l.Info()
		if status >= 500 {
			ev = l.Error()
		}
		if rt := route(r); rt != "" {
			ev = ev.Str("route", rt)
		}
		ev.Str("method", r.Method).
			Str("path", r.URL.EscapedPath()).
			Int("status", status).
			Int("bytes", size).
			Dur("duration", d).
			Msg("request")
	})(h)
	h = hlog.RequestIDHandler("request_id", "X-Request-Id")(h)
	h = hlog.NewHandler(log)(h)
	return h
}

// ID returns the request id of r, or "" outside Wrap.
func ID(r *http.Request) string {
	if id, ok := hlog.IDFromRequest(r); ok {
		return id.String()
	}
	return ""
}

func recoverer(next http.Handler, onPanic func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// The panic's type and the stack, not its value: a value can
			// carry request data.
			hlog.FromRequest(r).Error().Str("panic", fmt.Sprintf("%T", v)).Bytes("stack", debug.Stack()).Msg("handler panicked")
			if onPanic != nil {
				onPanic(w, r)
				return
			}
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
