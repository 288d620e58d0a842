package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/mapping"
	"github.com/scimbridge/scimbridge/store"
)

// registerRules adds the rules, workspaces and access endpoints.
func (s *Server) registerRules(org string) {
	s.handle("GET "+org+"/workspaces", s.listWorkspaces)
	s.handle("GET "+org+"/workspaces/{ws}/members", s.workspaceMembers)
	s.handle("GET "+org+"/users/{id}/access", s.userAccess)
	s.handle("GET "+org+"/rules", s.currentRules)
	s.handle("GET "+org+"/rules/versions", s.rulesVersions)
	s.handle("POST "+org+"/rules/drafts", s.createDraft)
	s.handle("POST "+org+"/rules/drafts/{id}/simulate", s.simulateDraft)
	s.handle("POST "+org+"/rules/drafts/{id}/publish", s.publishDraft)
	s.handle("POST "+org+"/rules/versions/{n}/rollback", s.rollback)
}

// rulesError turns rules errors into their public form: validation
// problems (400, every problem listed), guard refusals (409, with the
// figures and the simulation), a missing reason (400).
func rulesError(err error, diff *mapping.Diff) error {
	var ve *mapping.ValidationError
	var ge *store.GuardError
	switch {
	case errors.As(err, &ve):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_rules", Message: ve.Error(), extra: map[string]any{"problems": ve.Problems}}
	case errors.As(err, &ge):
		violations := make([]map[string]any, 0, len(ge.Violations))
		for _, v := range ge.Violations {
			violations = append(violations, map[string]any{"guard": v.Guard, "message": v.Message})
		}
		extra := map[string]any{"violations": violations}
		if diff != nil {
			extra["simulation"] = diffJSON(*diff, 0)
		}
		return &apiError{Status: http.StatusConflict, Code: "guard", Message: ge.Error() + `; publish with {"force": true, "reason": "..."} to override`, extra: extra}
	case errors.Is(err, store.ErrReasonRequired):
		return errorf(http.StatusBadRequest, "reason_required", "force needs a reason (at most %d bytes); it is recorded with the version", store.MaxReasonBytes)
	}
	return err
}

// diffJSON renders a simulation: counts, per workspace and role, and the
// changes themselves (at most limit, 0 for none).
func diffJSON(d mapping.Diff, limit int) map[string]any {
	byRole := make([]map[string]any, 0, len(d.ByRole))
	for _, t := range d.ByRole {
		byRole = append(byRole, map[string]any{"workspace": t.Workspace, "role": t.Role, "gained": t.Gained, "lost": t.Lost})
	}
	out := map[string]any{
		"gains": d.Gains, "losses": d.Losses, "role_changes": d.RoleChanges, "downgrades": d.Downgrades,
		"people": d.People, "active_people": d.ActivePeople,
		"people_with_access_before": d.PeopleWithAccessBefore, "people_with_access_after": d.PeopleWithAccessAfter,
		"people_gaining": d.PeopleGaining, "people_losing_access": d.PeopleLosingAccess,
		"people_losing_all_access": d.PeopleLosingAllAccess,
		"org_admins_before":        d.OrgAdminsBefore, "org_admins_after": d.OrgAdminsAfter,
		"by_role": byRole,
	}
	if limit > 0 {
		changes := make([]map[string]any, 0, min(limit, len(d.Changes)))
		for i, c := range d.Changes {
			if i == limit {
				break
			}
			ch := map[string]any{"user_id": c.PersonID, "workspace": c.Workspace, "kind": c.Kind, "role": c.Role}
			if c.Kind == mapping.RoleChanged {
				ch["from"], ch["to"] = c.From, c.To
			}
			changes = append(changes, ch)
		}
		out["changes"] = changes
		out["changes_truncated"] = len(d.Changes) > limit
	}
	return out
}

// maxChangesListed caps the changes a simulation lists; the counts are
// always complete.
const maxChangesListed = 1000

func versionJSON(v store.RulesVersion) map[string]any {
	out := map[string]any{
		"version": v.Version, "published": v.Published, "actor": v.Actor,
		"document": json.RawMessage(v.Document),
	}
	if v.Force {
		out["force"], out["reason"] = true, v.Reason
	}
	if v.RolledBackFrom != 0 {
		out["rolled_back_from"] = v.RolledBackFrom
	}
	return out
}

func (s *Server) listWorkspaces(c *request) error {
	ws, err := s.store.Workspaces(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []store.WorkspaceView{}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"workspaces": ws})
	return nil
}

func (s *Server) workspaceMembers(c *request) error {
	q := c.r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, "invalid_request", "limit must be a positive integer")
		}
		limit = n
	}
	role := q.Get("role")
	if role != "" && !mapping.Role(role).Workspace() && !mapping.Role(role).OrgWide() {
		return errorf(http.StatusBadRequest, "invalid_request", "role must be workspace_admin or member (or an org-wide role with workspace %q)", "-")
	}
	ws := c.r.PathValue("ws")
	if ws == "-" {
		ws = store.OrgWide // org-wide roles: /workspaces/-/members?role=org_admin
	}
	members, next, err := s.store.WorkspaceMembers(c.r.Context(), c.org, ws, role, q.Get("after"), limit)
	if errors.Is(err, store.ErrBadCursor) {
		return errorf(http.StatusBadRequest, "invalid_request", "after is not a cursor of this listing")
	}
	if err != nil {
		return err
	}
	if members == nil {
		members = []store.Member{}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"members": members, "next": next})
	return nil
}

// userAccess answers GET /users/{id}/access: the person's org roles and
// workspace roles, each with the rules and groups behind it. The SCIM id
// is unique across the org's directories.
func (s *Server) userAccess(c *request) error {
	id := c.r.PathValue("id")
	dirs, err := s.store.Directories(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		a, err := s.store.Access(c.r.Context(), d.Key(), id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if a.OrgRoles == nil {
			a.OrgRoles = []store.GrantView{}
		}
		if a.Workspaces == nil {
			a.Workspaces = []store.GrantView{}
		}
		writeJSON(c.w, http.StatusOK, a)
		return nil
	}
	return errNotFound
}

func (s *Server) currentRules(c *request) error {
	v, err := s.store.Rules(c.r.Context(), c.org)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no rules are published in this org yet")
	}
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, versionJSON(v))
	return nil
}

func (s *Server) rulesVersions(c *request) error {
	vs, err := s.store.RulesVersions(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		j := versionJSON(v)
		delete(j, "document")
		out = append(out, j)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"versions": out})
	return nil
}

// createDraft takes the rules document itself as the body: JSON, or YAML
// with Content-Type application/yaml.
func (s *Server) createDraft(c *request) error {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, mapping.MaxDocumentBytes+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid_request", "could not read the request body")
	}
	if len(body) > mapping.MaxDocumentBytes {
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "rules document is larger than %d bytes", mapping.MaxDocumentBytes)
	}
	rules, err := mapping.Parse(body, c.r.Header.Get("Content-Type"))
	if err != nil {
		return rulesError(err, nil)
	}
	// Drafts are stored as canonical JSON, so the store reads them back
	// whatever format the admin wrote.
	canonical, err := json.Marshal(rules)
	if err != nil {
		return err
	}
	d, err := s.store.CreateDraft(c.r.Context(), c.org, canonical)
	if err != nil {
		return rulesError(err, nil)
	}
	warnings := rules.Warnings()
	if warnings == nil {
		warnings = []mapping.Problem{}
	}
	writeJSON(c.w, http.StatusCreated, map[string]any{"id": d.ID, "created": d.Created, "warnings": warnings})
	return nil
}

func (s *Server) simulateDraft(c *request) error {
	d, err := s.store.Draft(c.r.Context(), c.org, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	diff, err := s.store.SimulateRules(c.r.Context(), c.org, d.Document)
	if err != nil {
		return rulesError(err, nil)
	}
	out := diffJSON(diff, maxChangesListed)
	guards := []map[string]any{}
	for _, v := range (mapping.Guards{MaxRevokeShare: s.cfg.MaxRevokeShare}).Check(diff) {
		guards = append(guards, map[string]any{"guard": v.Guard, "message": v.Message})
	}
	out["guards"] = guards
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

type publishRequest struct {
	Force  bool   `json:"force"`
	Reason string `json:"reason"`
}

func (s *Server) readPublish(c *request) (store.PublishOptions, error) {
	var in publishRequest
	if c.r.ContentLength != 0 {
		if err := decode(c.r, &in); err != nil && !(c.r.ContentLength < 0 && strings.Contains(err.Error(), "EOF")) {
			return store.PublishOptions{}, err
		}
	}
	return store.PublishOptions{Force: in.Force, Reason: in.Reason, MaxRevokeShare: s.cfg.MaxRevokeShare}, nil
}

func (s *Server) publishDraft(c *request) error {
	opts, err := s.readPublish(c)
	if err != nil {
		return err
	}
	d, err := s.store.Draft(c.r.Context(), c.org, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	v, diff, err := s.store.PublishRules(c.r.Context(), c.org, d.Document, opts)
	if err != nil {
		return rulesError(err, &diff)
	}
	out := versionJSON(v)
	out["simulation"] = diffJSON(diff, 0)
	writeJSON(c.w, http.StatusCreated, out)
	return nil
}

func (s *Server) rollback(c *request) error {
	n, err := strconv.Atoi(c.r.PathValue("n"))
	if err != nil || n < 1 {
		return errNotFound
	}
	opts, err := s.readPublish(c)
	if err != nil {
		return err
	}
	v, diff, err := s.store.Rollback(c.r.Context(), c.org, n, opts)
	if err != nil {
		return rulesError(err, &diff)
	}
	out := versionJSON(v)
	out["simulation"] = diffJSON(diff, 0)
	writeJSON(c.w, http.StatusCreated, out)
	return nil
}
