package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/mapping"
	"github.com/scimbridge/scimbridge/store"
)

// touchEvery is how stale LastSeen may get before a read moves it: a
// session read is not a disk write every time.
const touchEvery = time.Minute

// SessionView is the answer of GET /sso/session.
type SessionView struct {
	Session struct {
		ID      string    `json:"id"`
		Method  string    `json:"method"`
		Created time.Time `json:"created"`
		Expires time.Time `json:"expires"`
	} `json:"session"`
	Org       string `json:"org"`
	Directory string `json:"directory"`
	User      struct {
		ID          string   `json:"id"`
		UserName    string   `json:"userName"`
		DisplayName string   `json:"displayName,omitempty"`
		Emails      []string `json:"emails,omitempty"`
	} `json:"user"`
	Groups       []GroupView `json:"groups"`
	GroupsSource string      `json:"groups_source"`
	RulesVersion int         `json:"rules_version"`
	OrgRoles     []string    `json:"org_roles"`
	Workspaces   []RoleView  `json:"workspaces"`
}

// GroupView is a group of a session.
type GroupView struct {
	ID          string `json:"id,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	DisplayName string `json:"displayName"`
}

// RoleView is a role in a workspace.
type RoleView struct {
	Workspace string `json:"workspace"`
	Role      string `json:"role"`
}

// session returns the live session of r's cookie, or ErrNotFound.
func (h *Handler) session(r *http.Request) (store.Session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || len(c.Value) < 32 || len(c.Value) > 64 {
		return store.Session{}, store.ErrNotFound
	}
	s, err := h.sso.SessionByHash(r.Context(), hash(c.Value))
	if err != nil {
		return store.Session{}, err
	}
	if !s.Live(h.now()) {
		return store.Session{}, store.ErrNotFound
	}
	return s, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) unauthenticated(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "no_session", "message": "not signed in, or the session ended"})
}

// getSession serves GET /sso/session: the person, their groups, and the
// workspaces and roles the org's current rules grant for them.
func (h *Handler) getSession(w http.ResponseWriter, r *http.Request) {
	s, err := h.session(r)
	if errors.Is(err, store.ErrNotFound) {
		h.unauthenticated(w)
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	k := store.DirKey{Org: s.Org, Directory: s.Directory}
	u, err := h.st.User(r.Context(), k, s.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Active) {
		// Deactivation deletes sessions in its transaction; this is the
		// belt to those braces.
		h.unauthenticated(w)
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if now := h.now(); now.Sub(s.LastSeen) > touchEvery {
		if err := h.sso.TouchSession(r.Context(), s.Hash, now.UTC()); err != nil && !errors.Is(err, store.ErrNotFound) {
			hlog.FromRequest(r).Warn().Err(err).Msg("sso: touch session")
		}
	}
	var kept []sessionGroup
	if len(s.Groups) > 0 {
		if err := json.Unmarshal(s.Groups, &kept); err != nil {
			h.internal(w, r, fmt.Errorf("sso: session %s groups: %w", s.ID, err))
			return
		}
	}
	groups, err := h.currentGroups(r.Context(), k, u, s.GroupsSource, kept)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	var v SessionView
	v.Session.ID, v.Session.Method, v.Session.Created, v.Session.Expires = s.ID, s.Method, s.Created, s.Expires
	v.Org, v.Directory = s.Org, s.Directory
	v.User.ID, v.User.UserName, v.User.DisplayName, v.User.Emails = u.ID, u.UserName, u.DisplayName, u.Emails
	v.GroupsSource = s.GroupsSource
	v.Groups = make([]GroupView, 0, len(groups))
	for _, g := range groups {
		v.Groups = append(v.Groups, GroupView{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName})
	}
	v.OrgRoles, v.Workspaces = []string{}, []RoleView{}
	rules, version, err := h.currentRules(r.Context(), s.Org)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v.RulesVersion = version
	if rules != nil {
		a := rules.Evaluate(mapping.Person{ID: u.ID, Active: u.Active, Directory: s.Directory, Groups: groups})
		for _, g := range a.OrgRoles {
			v.OrgRoles = append(v.OrgRoles, string(g.Role))
		}
		for _, g := range a.Workspaces {
			v.Workspaces = append(v.Workspaces, RoleView{Workspace: g.Workspace, Role: string(g.Role)})
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// logout serves POST /sso/logout: it ends the session of the cookie (if
// any), clears the cookie and answers 204. The session cookie is
// SameSite=Lax, so another site cannot post this for the browser.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s, err := h.session(r)
	h.clearCookie(w, SessionCookie, "/")
	if err == nil {
		data, _ := jsonObject(map[string]any{"user": map[string]string{"id": s.UserID, "userName": s.UserName}, "session_id": s.ID})
		ctx := store.WithActor(r.Context(), store.Actor{Type: store.ActorSystem, ID: "sso", Name: "logout"})
		if err := h.sso.DeleteSession(ctx, s.Hash, store.SSOEvent{
			Type: store.EventSSOLogout, Directory: s.Directory, SessionID: s.ID, Data: data,
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.internal(w, r, err)
			return
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		h.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// currentRules returns org's current rules (nil when none was published)
// and their version, parsing a version's document at most once (h.rules).
func (h *Handler) currentRules(ctx context.Context, org string) (*mapping.Rules, int, error) {
	rv, err := h.st.Rules(ctx, org)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sso: read rules of %s: %w", org, err)
	}
	if r := h.rules.Get(org, rv.Version); r != nil {
		return r, rv.Version, nil
	}
	rules, err := mapping.Parse(rv.Document, "application/json")
	if err != nil {
		return nil, 0, fmt.Errorf("sso: parse rules %d of %s: %w", rv.Version, org, err)
	}
	h.rules.Put(org, rv.Version, rules)
	return rules, rv.Version, nil
}

// currentGroups brings a session's groups up to date with what SCIM did
// since the login: a session whose groups were the SCIM memberships gets
// today's memberships; one whose groups came from the IdP's claim loses
// every group the person was a SCIM member of at login and no longer is
// (removed, or the group deleted). A removal therefore takes a role away
// at once, not at the next login; a claim group SCIM never listed stays
// (the IdP vouched for it at login), and an addition through SCIM alone
// waits for the next login when the claim is the source.
func (h *Handler) currentGroups(ctx context.Context, k store.DirKey, u store.User, source string, groups []sessionGroup) ([]mapping.Group, error) {
	if source == GroupsFromSCIM {
		return h.scimGroups(ctx, k, u)
	}
	member := memberOf(u)
	out := make([]mapping.Group, 0, len(groups))
	for _, g := range groups {
		if !g.SCIM || member[g.ID] {
			out = append(out, g.Group)
		}
	}
	return out, nil
}
