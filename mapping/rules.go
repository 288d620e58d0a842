package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Role is an access role. The set is closed: the three org-wide roles
// (OrgAdmin, BillingAdmin, DeveloperAdmin) and the two workspace roles
// (WorkspaceAdmin, Member).
type Role string

// The roles a rule can grant.
const (
	OrgAdmin       Role = "org_admin"
	BillingAdmin   Role = "billing_admin"
	DeveloperAdmin Role = "developer_admin"
	WorkspaceAdmin Role = "workspace_admin"
	Member         Role = "member"
)

// allRoles lists the roles in their output order: org-wide roles first, then
// workspace roles from the highest to the lowest.
var allRoles = [...]Role{OrgAdmin, BillingAdmin, DeveloperAdmin, WorkspaceAdmin, Member}

const numRoles = len(allRoles)

// index returns the position of r in allRoles, or -1 for an unknown role.
func (r Role) index() int {
	switch r {
	case OrgAdmin:
		return 0
	case BillingAdmin:
		return 1
	case DeveloperAdmin:
		return 2
	case WorkspaceAdmin:
		return 3
	case Member:
		return 4
	}
	return -1
}

// Valid reports whether r is one of the five roles.
func (r Role) Valid() bool { return r.index() >= 0 }

// OrgWide reports whether r is an org-wide role (granted without a
// workspace).
func (r Role) OrgWide() bool { i := r.index(); return i >= 0 && i <= 2 }

// Workspace reports whether r is a workspace role (granted in a workspace).
func (r Role) Workspace() bool { return r.index() >= 3 }

// rank orders workspace roles: a higher rank wins in a workspace. Org-wide
// and unknown roles have rank 0.
func (r Role) rank() int {
	switch r {
	case WorkspaceAdmin:
		return 2
	case Member:
		return 1
	}
	return 0
}

// roleSet is a set of roles, one bit per allRoles index.
type roleSet uint8

func (s roleSet) has(r Role) bool {
	i := r.index()
	return i >= 0 && s&(1<<i) != 0
}

func (s *roleSet) add(r Role) {
	if i := r.index(); i >= 0 {
		*s |= 1 << i
	}
}

func (s roleSet) roles() []Role {
	var out []Role
	for i, r := range allRoles {
		if s&(1<<i) != 0 {
			out = append(out, r)
		}
	}
	return out
}

// Limits on a rules document. Parse refuses a document beyond them, with a
// problem that names the limit.
const (
	// MaxDocumentBytes is the largest document Parse reads.
	MaxDocumentBytes = 4 << 20
	// MaxRules is the most rules and exclusions, together, in one document.
	MaxRules = 10000
	// MaxWorkspaces is the most declared workspaces.
	MaxWorkspaces = 10000
	// MaxPatternBytes is the longest displayNamePattern.
	MaxPatternBytes = 1024
	// MaxPatternSize is the most instructions one displayNamePattern may
	// compile to, and MaxTotalPatternSize the most for all the patterns of
	// a document. Matching a name costs at most its length times the size
	// of the pattern, so these bound the cost of Evaluate.
	MaxPatternSize      = 10000
	MaxTotalPatternSize = 1 << 19
	// MaxProblems is the most problems one ValidationError lists; a last
	// problem then says how many more there were.
	MaxProblems = 200
	// MaxNameBytes is the longest rule or exclusion name.
	MaxNameBytes = 100
	// MaxWorkspaceBytes is the longest workspace name.
	MaxWorkspaceBytes = 64
)

// DefaultRule is the name that reasons carry for a grant made by the
// document's default section. No rule may be named so.
const DefaultRule = "default"

// Rules is a parsed, validated and compiled rules document. It is immutable
// and safe for concurrent use; the zero value and nil are not valid (Parse
// is the only constructor), but Evaluate on a nil *Rules returns no access.
type Rules struct {
	doc        document
	declared   map[string]bool
	workspaces []string // declared, sorted
	create     bool
	protected  roleSet
	rules      []rule
	exclusions []exclusion
	def        *rule // the default grant, or nil; its selector is unused
	ruleIdx    index
	exclIdx    index
	needFold   bool // some selector compares displayName
	needLower  bool // an index has pattern prefixes
	warnings   []Problem

	linear bool // tests only: bypass the indexes and try every selector
}

// Workspaces returns the declared workspaces, sorted.
func (r *Rules) Workspaces() []string { return slices.Clone(r.workspaces) }

// CreateWorkspaces reports whether a captured or undeclared workspace name
// may create a workspace (the document's create_workspaces).
func (r *Rules) CreateWorkspaces() bool { return r.create }

// ProtectedRoles returns the roles that only a rule selecting a group by id
// or externalId may grant, in role order.
func (r *Rules) ProtectedRoles() []Role { return r.protected.roles() }

// Warnings returns the problems that do not stop the document from being
// published but that an admin should read, such as a displayNamePattern
// that is not anchored or a captured workspace that may create workspaces.
func (r *Rules) Warnings() []Problem { return slices.Clone(r.warnings) }

// Problem is one fault in a rules document.
type Problem struct {
	// Rule names the rule or exclusion at fault: its name, or
	// "rules[2]" / "exclusions[0]" when it has none; "default" for the
	// default section; empty for a document-level field.
	Rule string `json:"rule,omitempty"`
	// Field is the path of the field at fault, such as
	// "rules[2].grant.workspace"; empty for the document as a whole.
	Field string `json:"field,omitempty"`
	// Line is the 1-based line of the field in the source, or 0.
	Line int `json:"line,omitempty"`
	// Message says what is wrong and what to do, for a person.
	Message string `json:"message"`
}

// String renders the problem on one line, as the CLI prints it.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		if p.Rule != "" && !strings.HasPrefix(p.Field, p.Rule) {
			fmt.Fprintf(&b, " (%s)", p.Rule)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError is the error Parse returns for a document that cannot be
// published. It lists every problem found (up to MaxProblems), in source
// order.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one a line after the first, as the CLI prints
// them.
func (e *ValidationError) Error() string {
	var b strings.Builder
	switch len(e.Problems) {
	case 0:
		return "invalid rules document"
	case 1:
		b.WriteString("invalid rules document: ")
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "invalid rules document: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// selKind is the kind of group selector of a rule or exclusion.
type selKind uint8

const (
	selID selKind = iota + 1
	selExternalID
	selDisplayName
	selPattern
)

func (k selKind) field() string {
	switch k {
	case selID:
		return "id"
	case selExternalID:
		return "externalId"
	case selDisplayName:
		return "displayName"
	case selPattern:
		return "displayNamePattern"
	}
	return ""
}

// selector is a compiled match: a directory (empty for any) and one group
// selector.
type selector struct {
	kind      selKind
	value     string // id, externalId, folded displayName, or the pattern
	re        *regexp.Regexp
	prefix    string // what every name matching re starts with, lower-cased (for the index)
	suffix    string // what every name matching re ends with, lower-cased (for the index)
	needle    string // what every name matching re contains, lower-cased (for the index)
	directory string
}

// match reports whether g (with its directory resolved) matches, and for a
// pattern that needs them, the submatch indexes.
func (s *selector) match(g *Group, folded string, wantSub bool) (bool, []int) {
	if s.directory != "" && s.directory != g.Directory {
		return false, nil
	}
	switch s.kind {
	case selID:
		return g.ID == s.value, nil
	case selExternalID:
		return g.ExternalID == s.value, nil
	case selDisplayName:
		return folded == s.value, nil
	case selPattern:
		if s.re == nil {
			return false, nil
		}
		if !wantSub {
			return s.re.MatchString(g.DisplayName), nil
		}
		sub := s.re.FindStringSubmatchIndex(g.DisplayName)
		return sub != nil, sub
	}
	return false, nil
}

// wsKind says how a rule names its workspace.
type wsKind uint8

const (
	wsNone     wsKind = iota // org-wide role
	wsLiteral                // one workspace
	wsStar                   // every workspace the person is a member of
	wsTemplate               // built from captures
)

// tmplPart is a literal (group < 0) or a capture group's index.
type tmplPart struct {
	lit   string
	group int
}

type rule struct {
	name      string
	sel       selector
	role      Role
	ws        wsKind
	workspace string // for wsLiteral
	tmpl      []tmplPart
}

type exclusion struct {
	name string
	sel  selector
	deny roleSet
}
