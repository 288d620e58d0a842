package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// errUnchanged aborts an update whose PATCH changed nothing, so that the
// version does not move.
var errUnchanged = errors.New("scim: patch changed nothing")

// publicError turns any error into the SCIM error the client sees. Store
// errors get their precise status and scimType; anything unexpected is a
// 500 whose detail carries only the request id.
func publicError(r *http.Request, err error) (scimerrors.ScimError, bool) {
	var se *scimerrors.ScimError
	if errors.As(err, &se) {
		return *se, false
	}
	var sv scimerrors.ScimError
	if errors.As(err, &sv) {
		return sv, false
	}
	var conflict *store.ConflictError
	var member *store.MemberError
	switch {
	case errors.As(err, &conflict):
		return scimerrors.ScimError{
			Status:   http.StatusConflict,
			ScimType: scimerrors.ScimTypeUniqueness,
			Detail:   fmt.Sprintf("%s %q is already in use in this directory", conflict.Field, conflict.Value),
		}, false
	case errors.As(err, &member):
		detail := fmt.Sprintf("member %q is not a user of this directory", member.ID)
		if member.Nested {
			detail = fmt.Sprintf("member %q is a group; nested groups are not supported", member.ID)
		}
		return *resource.Err(scimerrors.ScimTypeInvalidValue, "%s", detail), false
	case errors.Is(err, store.ErrNotFound):
		return scimerrors.ScimError{Status: http.StatusNotFound, Detail: "resource not found"}, false
	case errors.Is(err, store.ErrVersionMismatch):
		return scimerrors.ScimError{
			Status: http.StatusPreconditionFailed,
			Detail: "the resource has changed since the version given in If-Match; read it again and retry",
		}, false
	case errors.Is(err, context.DeadlineExceeded):
		return scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: "the request timed out; retry later"}, true
	}
	return scimerrors.ScimError{
		Status: http.StatusInternalServerError,
		Detail: "internal error; quote request id " + reqlog.ID(r) + " to your administrator",
	}, true
}

// fail writes the SCIM error for err and logs it once: unexpected errors at
// error level with their cause, client errors at info level with the
// detail the client saw.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	pub, internal := publicError(r, err)
	l := hlog.FromRequest(r)
	if internal {
		l.Error().Err(err).Int("status", pub.Status).Msg("request failed")
	} else {
		l.Info().Int("status", pub.Status).Str("scim_type", string(pub.ScimType)).Str("detail", pub.Detail).Msg("request refused")
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client has gone; nobody reads the answer
	}
	writeError(w, pub)
}

func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	body, _ := json.Marshal(e)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Del("ETag")
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="scimbridge"`)
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// WriteStatus writes a SCIM error with status and detail: for refusals
// made before a request reaches the Server (IP allowlist, rate limit,
// overload), so that an IdP gets the error format it parses.
func WriteStatus(w http.ResponseWriter, status int, detail string) {
	writeError(w, scimerrors.ScimError{Status: status, Detail: detail})
}

// Route returns the low-cardinality route of a SCIM request path, for
// metrics: "/scim/v2/{org}/{directory}/Users/{id}" and the like, never an
// org, directory or resource id.
func Route(path string) string {
	rest, ok := strings.CutPrefix(path, PathPrefix)
	if !ok {
		return "other"
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 {
		return "other"
	}
	route := PathPrefix + "{org}/{directory}"
	switch len(parts) {
	case 2:
		return route
	case 3:
		switch parts[2] {
		case "Users", "Groups", ".search", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", "Me":
			return route + "/" + parts[2]
		}
	case 4:
		switch parts[2] {
		case "Users", "Groups":
			if parts[3] == ".search" {
				return route + "/" + parts[2] + "/.search"
			}
			return route + "/" + parts[2] + "/{id}"
		case "ResourceTypes", "Schemas":
			return route + "/" + parts[2] + "/{id}"
		}
	}
	return route + "/other"
}
