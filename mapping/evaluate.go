package mapping

import (
	"cmp"
	"slices"
	"strings"
)

// Group is a group a person is a member of, as the rules see it.
type Group struct {
	ID          string
	ExternalID  string
	DisplayName string
	// Directory is the directory the group belongs to; empty means the
	// person's directory.
	Directory string
}

// Person is what Evaluate needs to know about a person.
type Person struct {
	ID        string
	Active    bool
	Directory string
	Groups    []Group
}

// Reason says why a role was granted or denied: the rule (or exclusion, or
// DefaultRule) by its name, or "rules[i]" / "exclusions[i]" when it has
// none, and the group that matched it, with its Directory filled in. The
// group is the zero Group for the default grant.
type Reason struct {
	Rule  string
	Group Group
}

// Grant is a role a person holds: org-wide (Workspace "") or in one
// workspace, with every reason for it, sorted by the rule's position in the
// document and then by group.
type Grant struct {
	Workspace string
	Role      Role
	Reasons   []Reason
	// Outranked are the reasons for a lower role in the same workspace
	// (member under workspace_admin), which Role outranks. With them,
	// explain shows the membership that a workspace "*" rule qualified.
	Outranked []Reason
}

// Denial is a role that rules granted and exclusions removed.
type Denial struct {
	Workspace string // "" for an org-wide role
	Role      Role
	// Exclusions are the exclusions that removed the role (Reason.Rule is
	// the exclusion's name) and the groups that matched them.
	Exclusions []Reason
	// Grants are the reasons the role would have been granted for.
	Grants []Reason
}

// Skip is a match that granted nothing because its captured workspace name
// could not be used.
type Skip struct {
	Rule      string
	Group     Group
	Workspace string // the name the capture produced
	Reason    string // SkipInvalidName or SkipUndeclared
}

// Why a Skip granted nothing.
const (
	SkipInvalidName = "invalid workspace name"
	SkipUndeclared  = "workspace not declared and create_workspaces is false"
)

// Access is the result of evaluating the rules for one person. Every list
// is sorted: OrgRoles by role (org_admin, billing_admin, developer_admin),
// Workspaces by name (one Grant per workspace, the highest role), Denied by
// workspace ("" first) and role, Skipped by rule and group.
type Access struct {
	OrgRoles   []Grant
	Workspaces []Grant
	Denied     []Denial
	Skipped    []Skip
}

// Role returns the person's role in workspace, or "" when they have none.
func (a Access) Role(workspace string) Role {
	i, ok := slices.BinarySearchFunc(a.Workspaces, workspace, func(g Grant, w string) int { return strings.Compare(g.Workspace, w) })
	if !ok {
		return ""
	}
	return a.Workspaces[i].Role
}

// HasOrgRole reports whether the person holds the org-wide role.
func (a Access) HasOrgRole(role Role) bool {
	return slices.ContainsFunc(a.OrgRoles, func(g Grant) bool { return g.Role == role })
}

// Empty reports whether the person holds no role at all.
func (a Access) Empty() bool { return len(a.OrgRoles) == 0 && len(a.Workspaces) == 0 }

// ireason is a Reason before rendering: a rule (or exclusion) index and an
// index into evaluation.groups (-1 for none).
type ireason struct {
	rule  int32
	group int32
}

type iskip struct {
	why       ireason
	workspace string
	reason    string
}

// wsRoles holds the reasons for each workspace role in one workspace:
// [0] workspace_admin, [1] member.
type wsRoles [2][]ireason

func wsSlot(r Role) int { return r.index() - WorkspaceAdmin.index() }

type evaluation struct {
	r       *Rules
	groups  []Group
	org     [3][]ireason // by role index
	ws      map[string]*wsRoles
	star    [2][]ireason
	denied  [numRoles][]ireason // exclusion reasons, by role index
	skipped []iskip
}

// Evaluate returns the access the rules give p. It is deterministic: the
// same person, with its groups in any order, gets an equal Access. It never
// panics, and a deactivated person (or a nil *Rules) gets no access at all.
func (r *Rules) Evaluate(p Person) Access {
	if r == nil || !p.Active {
		return Access{}
	}
	e := evaluation{r: r, groups: make([]Group, len(p.Groups)), ws: map[string]*wsRoles{}}
	var cands []int32
	for gi := range p.Groups {
		g := &e.groups[gi]
		*g = p.Groups[gi]
		if g.Directory == "" {
			g.Directory = p.Directory
		}
		var folded, lower string
		if r.needFold {
			folded = fold(g.DisplayName)
		}
		if r.needLower {
			lower = lowerASCII(g.DisplayName)
		}
		cands = r.ruleIdx.candidates(cands[:0], g, folded, lower, r.linear)
		for _, ri := range cands {
			x := &r.rules[ri]
			ok, sub := x.sel.match(g, folded, x.ws == wsTemplate)
			if !ok {
				continue
			}
			why := ireason{rule: ri, group: int32(gi)}
			switch x.ws {
			case wsNone:
				e.org[x.role.index()] = append(e.org[x.role.index()], why)
			case wsLiteral:
				e.addWorkspace(x.workspace, x.role, why)
			case wsStar:
				e.star[wsSlot(x.role)] = append(e.star[wsSlot(x.role)], why)
			case wsTemplate:
				name := expand(x.tmpl, g.DisplayName, sub)
				switch {
				case !validWorkspace(name):
					e.skipped = append(e.skipped, iskip{why, name, SkipInvalidName})
				case !r.create && !r.declared[name]:
					e.skipped = append(e.skipped, iskip{why, name, SkipUndeclared})
				default:
					e.addWorkspace(name, x.role, why)
				}
			}
		}
		cands = r.exclIdx.candidates(cands[:0], g, folded, lower, r.linear)
		for _, xi := range cands {
			x := &r.exclusions[xi]
			if ok, _ := x.sel.match(g, folded, false); !ok {
				continue
			}
			for i := range allRoles {
				if x.deny&(1<<i) != 0 {
					e.denied[i] = append(e.denied[i], ireason{rule: xi, group: int32(gi)})
				}
			}
		}
	}

	granted := len(e.ws) > 0 || len(e.org[0])+len(e.org[1])+len(e.org[2]) > 0
	switch {
	case granted:
		// "*" qualifies the workspaces granted by other rules; the default
		// never applies together with a rule.
		for _, roles := range e.ws {
			for s := range e.star {
				roles[s] = append(roles[s], e.star[s]...)
			}
		}
	case r.def != nil:
		why := ireason{rule: int32(len(r.rules)), group: -1}
		if r.def.ws == wsLiteral {
			e.addWorkspace(r.def.workspace, r.def.role, why)
		} else {
			e.org[r.def.role.index()] = append(e.org[r.def.role.index()], why)
		}
	}
	return e.render()
}

func (e *evaluation) addWorkspace(name string, role Role, why ireason) {
	roles := e.ws[name]
	if roles == nil {
		roles = new(wsRoles)
		e.ws[name] = roles
	}
	roles[wsSlot(role)] = append(roles[wsSlot(role)], why)
}

// expand builds a workspace name from a template and the submatches of s.
// Captured text is lower-cased (ASCII letters only); a group that did not
// take part in the match contributes nothing. A result longer than
// MaxWorkspaceBytes is cut just past the limit, so it stays invalid.
func expand(parts []tmplPart, s string, sub []int) string {
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > MaxWorkspaceBytes {
			break
		}
		if p.group < 0 {
			b.WriteString(p.lit)
			continue
		}
		i := 2 * p.group
		if i+1 >= len(sub) || sub[i] < 0 || sub[i+1] < sub[i] {
			continue
		}
		v := s[sub[i]:sub[i+1]]
		if len(v) > MaxWorkspaceBytes+1 {
			v = v[:MaxWorkspaceBytes+1]
		}
		for j := 0; j < len(v); j++ {
			c := v[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (e *evaluation) group(i int32) Group {
	if i < 0 {
		return Group{}
	}
	return e.groups[i]
}

func compareGroups(a, b Group) int {
	return cmp.Or(
		strings.Compare(a.ID, b.ID),
		strings.Compare(a.ExternalID, b.ExternalID),
		strings.Compare(a.DisplayName, b.DisplayName),
		strings.Compare(a.Directory, b.Directory),
	)
}

// reasons sorts, deduplicates and renders reasons; exclusions says whether
// their rule indexes point at exclusions.
func (e *evaluation) reasons(rs []ireason, exclusions bool) []Reason {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b ireason) int {
		return cmp.Or(cmp.Compare(a.rule, b.rule), compareGroups(e.group(a.group), e.group(b.group)))
	})
	rs = slices.CompactFunc(rs, func(a, b ireason) bool {
		return a.rule == b.rule && e.group(a.group) == e.group(b.group)
	})
	out := make([]Reason, len(rs))
	for i, x := range rs {
		out[i] = Reason{Rule: e.ruleName(x.rule, exclusions), Group: e.group(x.group)}
	}
	return out
}

func (e *evaluation) ruleName(i int32, exclusion bool) string {
	switch {
	case exclusion:
		return e.r.exclusions[i].name
	case int(i) == len(e.r.rules):
		return DefaultRule
	}
	return e.r.rules[i].name
}

func (e *evaluation) render() Access {
	var a Access
	for i := range e.org {
		if len(e.org[i]) == 0 {
			continue
		}
		role := allRoles[i]
		if len(e.denied[i]) > 0 {
			a.Denied = append(a.Denied, Denial{Role: role, Exclusions: e.reasons(e.denied[i], true), Grants: e.reasons(e.org[i], false)})
			continue
		}
		a.OrgRoles = append(a.OrgRoles, Grant{Role: role, Reasons: e.reasons(e.org[i], false)})
	}

	// Denying member denies every workspace role: a higher workspace role
	// includes membership.
	wa, m := WorkspaceAdmin.index(), Member.index()
	deniedWS := [2][]ireason{append(slices.Clip(e.denied[wa]), e.denied[m]...), e.denied[m]}
	names := make([]string, 0, len(e.ws))
	for name := range e.ws {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		roles := e.ws[name]
		var held *Grant
		for s, rs := range roles {
			if len(rs) == 0 {
				continue
			}
			role := allRoles[wa+s]
			switch {
			case len(deniedWS[s]) > 0:
				a.Denied = append(a.Denied, Denial{Workspace: name, Role: role, Exclusions: e.reasons(deniedWS[s], true), Grants: e.reasons(rs, false)})
			case held == nil:
				a.Workspaces = append(a.Workspaces, Grant{Workspace: name, Role: role, Reasons: e.reasons(rs, false)})
				held = &a.Workspaces[len(a.Workspaces)-1]
			default:
				held.Outranked = e.reasons(rs, false)
			}
		}
	}

	if len(e.skipped) > 0 {
		sk := slices.Clone(e.skipped)
		slices.SortFunc(sk, func(a, b iskip) int {
			return cmp.Or(cmp.Compare(a.why.rule, b.why.rule), compareGroups(e.group(a.why.group), e.group(b.why.group)),
				strings.Compare(a.workspace, b.workspace))
		})
		sk = slices.CompactFunc(sk, func(a, b iskip) bool {
			return a.why.rule == b.why.rule && e.group(a.why.group) == e.group(b.why.group) && a.workspace == b.workspace
		})
		for _, s := range sk {
			a.Skipped = append(a.Skipped, Skip{Rule: e.ruleName(s.why.rule, false), Group: e.group(s.why.group), Workspace: s.workspace, Reason: s.reason})
		}
	}
	return a
}
