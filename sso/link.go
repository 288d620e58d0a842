package sso

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/mapping"
	"github.com/scimbridge/scimbridge/store"
)

// Where a session's groups came from.
const (
	GroupsFromClaim = "claim"
	GroupsFromSCIM  = "scim"
)

func equalHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func jsonObject(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	return json.RawMessage(b), err
}

// complete ends a login whose identity the protocol has verified: it links
// (or provisions) the person, refuses an inactive one, resolves the
// groups, stores a session with the login event, sets the cookie and
// redirects to returnTo.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, d *dirContext, id Identity, returnTo string) {
	ctx := store.WithActor(r.Context(), store.Actor{Type: store.ActorSystem, ID: "sso", Name: id.Method})
	id.UserName = strings.TrimSpace(id.UserName)
	if id.UserName == "" && id.EmailVerified {
		id.UserName = id.Email
	}
	if id.UserName == "" {
		h.fail(w, r, d, id.Method, ReasonNoIdentity, http.StatusForbidden, errors.New("the IdP sent no user name"))
		return
	}
	u, jit, reason, err := h.link(ctx, d, id)
	if reason != "" {
		h.fail(w, r, d, id.Method, reason, http.StatusForbidden, err)
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if !u.Active {
		h.fail(w, r, d, id.Method, ReasonInactive, http.StatusForbidden, fmt.Errorf("user %s is not active", u.ID))
		return
	}
	groups, source, err := h.loginGroups(ctx, d, u, id)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	groupsJSON, err := json.Marshal(sessionGroups(groups, u, source))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	secret, err := randomString(32)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	sid, err := store.NewID()
	if err != nil {
		h.internal(w, r, err)
		return
	}
	now := h.now().UTC()
	idle, absolute := d.Cfg.SessionIdle, d.Cfg.SessionAbsolute
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	if absolute <= 0 {
		absolute = DefaultSessionAbsolute
	}
	s := store.Session{
		ID: sid, Hash: hash(secret), Org: d.Dir.Org, Directory: d.Dir.Name,
		UserID: u.ID, UserName: u.UserName, Method: id.Method,
		Groups: groupsJSON, GroupsSource: source,
		Created: now, LastSeen: now, IdleTimeout: idle, Expires: now.Add(absolute),
	}
	data, err := jsonObject(map[string]any{
		"method": id.Method, "user": map[string]string{"id": u.ID, "userName": u.UserName},
		"session_id": sid, "groups_source": source, "groups": len(groups), "jit": jit,
		"expires": s.Expires,
	})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	err = h.sso.CreateSession(ctx, s, store.SSOEvent{
		Type: store.EventSSOLoginSucceeded, Directory: d.Dir.Name, SessionID: sid, Data: data,
	})
	switch {
	case errors.Is(err, store.ErrInactive):
		h.fail(w, r, d, id.Method, ReasonInactive, http.StatusForbidden, err)
		return
	case errors.Is(err, store.ErrNotFound):
		h.fail(w, r, d, id.Method, ReasonNotProvisioned, http.StatusForbidden, err)
		return
	case err != nil:
		h.internal(w, r, fmt.Errorf("sso: create session: %w", err))
		return
	}
	hlog.FromRequest(r).Info().Str("org", d.Dir.Org).Str("directory", d.Dir.Name).
		Str("method", id.Method).Str("user_id", u.ID).Str("session_id", sid).
		Str("groups_source", source).Bool("jit", jit).Msg("sso: login succeeded")
	h.observe(id.Method, "success")
	h.setSessionCookie(w, secret, s.Expires)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// link finds the SCIM user of the identity, or provisions one just in time
// when the directory allows it. A refusal is a reason.
func (h *Handler) link(ctx context.Context, d *dirContext, id Identity) (u store.User, jit bool, reason string, err error) {
	k := d.Key()
	find := func(f store.Field, v string) ([]store.User, error) {
		p, err := h.st.ListUsers(ctx, k, store.Query{
			Plan:  &store.Plan{Op: store.PlanLookup, Field: f, Value: v},
			Count: 2, WithGroups: true,
		})
		return p.Users, err
	}
	users, err := find(store.FieldUserName, id.UserName)
	if err != nil {
		return u, false, "", fmt.Errorf("sso: find user by userName: %w", err)
	}
	if len(users) == 0 && id.EmailVerified && id.Email != "" {
		if users, err = find(store.FieldEmail, id.Email); err != nil {
			return u, false, "", fmt.Errorf("sso: find user by email: %w", err)
		}
		if len(users) > 1 {
			return u, false, ReasonAmbiguous, errors.New("the verified email belongs to several people")
		}
	}
	if len(users) == 1 {
		return users[0], false, "", nil
	}
	if !d.Cfg.JIT {
		return u, false, ReasonNotProvisioned, errors.New("no SCIM user matches and just-in-time provisioning is off")
	}
	u, err = h.provision(ctx, k, id)
	if errors.Is(err, store.ErrConflict) {
		// Provisioned meanwhile (by SCIM or a parallel login): link to it.
		if users, err = find(store.FieldUserName, id.UserName); err == nil && len(users) == 1 {
			return users[0], false, "", nil
		}
		return u, false, ReasonNotProvisioned, errors.New("user provisioned concurrently and not found")
	}
	if err != nil {
		return u, false, "", err
	}
	return u, true, "", nil
}

// provision creates the user of a just-in-time login: the same document a
// SCIM POST would store, with the login's userName (which the IdP's SCIM
// job will use in its userName probe), name and email.
func (h *Handler) provision(ctx context.Context, k store.DirKey, id Identity) (store.User, error) {
	doc := map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": id.UserName,
		"active":   true,
	}
	name := map[string]string{}
	if id.GivenName != "" {
		name["givenName"] = id.GivenName
	}
	if id.FamilyName != "" {
		name["familyName"] = id.FamilyName
	}
	if len(name) > 0 {
		doc["name"] = name
	}
	display := id.DisplayName
	if display == "" {
		display = strings.TrimSpace(id.GivenName + " " + id.FamilyName)
	}
	if display != "" {
		doc["displayName"] = display
	}
	var emails []string
	if id.Email != "" && id.EmailVerified {
		emails = []string{id.Email}
		doc["emails"] = []map[string]any{{"value": id.Email, "type": "work", "primary": true}}
	}
	attrs, err := json.Marshal(doc)
	if err != nil {
		return store.User{}, err
	}
	u, err := h.st.CreateUser(ctx, k, store.User{
		UserName: id.UserName, DisplayName: display, Active: true, Emails: emails, Attributes: attrs,
	})
	if err != nil {
		return store.User{}, fmt.Errorf("sso: provision %s in %s: %w", id.Method, k, err)
	}
	return u, nil
}

// loginGroups resolves the groups of a login: the claim's values matched to
// the directory's SCIM groups, or, when the claim is missing or overflowed,
// the person's SCIM memberships.
func (h *Handler) loginGroups(ctx context.Context, d *dirContext, u store.User, id Identity) ([]mapping.Group, string, error) {
	k := d.Key()
	if !id.GroupsPresent || id.GroupsOverflow {
		out, err := h.scimGroups(ctx, k, u)
		return out, GroupsFromSCIM, err
	}
	seen := map[string]bool{}
	out := make([]mapping.Group, 0, len(id.Groups))
	for _, v := range id.Groups {
		v = strings.TrimSpace(v)
		if v == "" || seen[v] || len(v) > 1024 {
			continue
		}
		seen[v] = true
		if len(out) == MaxClaimGroups {
			break
		}
		g, ok, err := h.matchGroup(ctx, k, v)
		if err != nil {
			return nil, "", err
		}
		if ok {
			if seen["id:"+g.ID] {
				continue
			}
			seen["id:"+g.ID] = true
			out = append(out, mapping.Group{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName})
			continue
		}
		// A group the SCIM job did not push: the rules still see its name.
		out = append(out, mapping.Group{DisplayName: v})
	}
	return out, GroupsFromClaim, nil
}

// matchGroup finds the SCIM group a claim value names: by externalId
// (Entra sends object ids), by id, then by displayName.
func (h *Handler) matchGroup(ctx context.Context, k store.DirKey, v string) (store.Group, bool, error) {
	for _, f := range []store.Field{store.FieldExternalID, store.FieldID, store.FieldDisplayName} {
		p, err := h.st.ListGroups(ctx, k, store.Query{
			Plan: &store.Plan{Op: store.PlanLookup, Field: f, Value: v}, Count: 2,
		})
		if err != nil {
			return store.Group{}, false, fmt.Errorf("sso: match group by %s: %w", f, err)
		}
		if len(p.Groups) == 1 {
			return p.Groups[0], true, nil
		}
	}
	return store.Group{}, false, nil
}

// sessionGroup is a group as a session keeps it: SCIM tells whether the
// person was a SCIM member of it at login, so that a later SCIM removal
// takes it away (currentGroups).
type sessionGroup struct {
	mapping.Group
	SCIM bool `json:"scim,omitempty"`
}

// scimGroups returns the person's SCIM groups as the rules see them.
func (h *Handler) scimGroups(ctx context.Context, k store.DirKey, u store.User) ([]mapping.Group, error) {
	out := make([]mapping.Group, 0, len(u.Groups))
	for _, ref := range u.Groups {
		g, err := h.st.Group(ctx, k, ref.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the user was read
		}
		if err != nil {
			return nil, fmt.Errorf("sso: read group %s: %w", ref.ID, err)
		}
		out = append(out, mapping.Group{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName})
	}
	return out, nil
}

// memberOf returns the ids of the person's SCIM groups.
func memberOf(u store.User) map[string]bool {
	member := make(map[string]bool, len(u.Groups))
	for _, ref := range u.Groups {
		member[ref.ID] = true
	}
	return member
}

func sessionGroups(groups []mapping.Group, u store.User, source string) []sessionGroup {
	member := memberOf(u)
	out := make([]sessionGroup, len(groups))
	for i, g := range groups {
		out[i] = sessionGroup{Group: g, SCIM: source == GroupsFromSCIM || (g.ID != "" && member[g.ID])}
	}
	return out
}
