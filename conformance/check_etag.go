package conformance

import (
	"context"
	"net/http"
	"strings"
)

// ETags (RFC 7644 section 3.14), when /ServiceProviderConfig advertises
// etag.supported.
var etagChecks = []check{
	{name: "etag/header-matches-version", run: checkETagHeader},
	{name: "etag/version-changes-on-write", run: checkETagChanges},
	{name: "etag/if-match-stale", run: checkIfMatchStale},
	{name: "etag/if-match-current", run: checkIfMatchCurrent},
	{name: "etag/if-none-match", run: checkIfNoneMatch},
}

// etagUser creates a user and returns its id and ETag (the header, which
// must equal meta.version).
func (s *suite) etagUser(ctx context.Context) (string, string, error) {
	if err := s.need("etag"); err != nil {
		return "", "", err
	}
	r, err := s.do(ctx, "POST", "/Users", s.userBody("etag", nil))
	if err != nil {
		return "", "", err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return "", "", err
	}
	if err := wantETag(r); err != nil {
		return "", "", err
	}
	return str(r.obj, "id"), r.header.Get("ETag"), nil
}

// wantETag fails unless the response has an ETag header equal to
// meta.version in its body.
func wantETag(r *response) error {
	etag := r.header.Get("ETag")
	if etag == "" {
		return failf("%s: no ETag header, though etag is advertised", r)
	}
	if v := str(r.obj, "meta", "version"); v != etag {
		return failf("%s: ETag header %q differs from meta.version %q", r, etag, v)
	}
	return nil
}

func checkETagHeader(ctx context.Context, s *suite) error {
	id, _, err := s.etagUser(ctx)
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", userPath(id), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	return wantETag(r)
}

func checkETagChanges(ctx context.Context, s *suite) error {
	id, etag, err := s.etagUser(ctx)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, userPath(id), op("replace", "displayName", "Changed")); err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", userPath(id), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := wantETag(r); err != nil {
		return err
	}
	if r.header.Get("ETag") == etag {
		return failf("the ETag is still %s after a change", etag)
	}
	return nil
}

// A write with If-Match naming an old version is 412 and changes nothing,
// for PATCH, PUT and DELETE.
func checkIfMatchStale(ctx context.Context, s *suite) error {
	id, stale, err := s.etagUser(ctx)
	if err != nil {
		return err
	}
	if _, err := s.patch(ctx, userPath(id), op("replace", "displayName", "Second version")); err != nil {
		return err
	}
	for _, m := range []string{"PATCH", "PUT", "DELETE"} {
		var body any
		switch m {
		case "PATCH":
			body = patchBody(op("replace", "displayName", "Lost update"))
		case "PUT":
			u, err := s.read(ctx, userPath(id))
			if err != nil {
				return err
			}
			u["displayName"] = "Lost update"
			body = u
		}
		r, err := s.do(ctx, m, userPath(id), body, "If-Match", stale)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusPreconditionFailed); err != nil {
			return failf("%s with a stale If-Match: %v", m, err)
		}
	}
	u, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	return wantValue(u, "Second version", "displayName")
}

func checkIfMatchCurrent(ctx context.Context, s *suite) error {
	id, etag, err := s.etagUser(ctx)
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "PATCH", userPath(id), patchBody(op("replace", "displayName", "Matched")), "If-Match", etag)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusOK, http.StatusNoContent); err != nil {
		return err
	}
	u, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	return wantValue(u, "Matched", "displayName")
}

// If-None-Match with the current version is 304 without a body; with
// another version, 200.
func checkIfNoneMatch(ctx context.Context, s *suite) error {
	id, etag, err := s.etagUser(ctx)
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", userPath(id), nil, "If-None-Match", etag)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusNotModified); err != nil {
		return err
	}
	if len(strings.TrimSpace(string(r.raw))) != 0 {
		return failf("%s: a 304 with a body: %s", r, r.snippet())
	}
	r, err = s.do(ctx, "GET", userPath(id), nil, "If-None-Match", `W/"conformance-other-version"`)
	if err != nil {
		return err
	}
	return r.wantObject(http.StatusOK)
}
