package mapping

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// compiler decodes the syntax-neutral tree into a document, validates it and
// compiles it, collecting every problem on the way.
type compiler struct {
	r        *Rules
	problems []Problem
	dropped  int // problems beyond MaxProblems
	warnings []Problem
	names    map[string]string // lower-cased rule or exclusion name → its path
	// patternSize is the size of the patterns compiled so far.
	patternSize int
}

func compile(root *node) (*Rules, error) {
	c := &compiler{
		r:     &Rules{declared: map[string]bool{}},
		names: map[string]string{},
	}
	c.document(root)
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].Line < c.problems[j].Line })
		if c.dropped > 0 {
			c.problems = append(c.problems, Problem{Message: fmt.Sprintf("%d more problems not listed", c.dropped)})
		}
		return nil, &ValidationError{Problems: c.problems}
	}
	sort.SliceStable(c.warnings, func(i, j int) bool { return c.warnings[i].Line < c.warnings[j].Line })
	r := c.r
	r.warnings = c.warnings
	r.ruleIdx = newIndex()
	for i := range r.rules {
		r.ruleIdx.add(int32(i), &r.rules[i].sel)
		r.needFold = r.needFold || r.rules[i].sel.kind == selDisplayName
	}
	r.exclIdx = newIndex()
	for i := range r.exclusions {
		r.exclIdx.add(int32(i), &r.exclusions[i].sel)
		r.needFold = r.needFold || r.exclusions[i].sel.kind == selDisplayName
	}
	r.needLower = r.ruleIdx.needsLower() || r.exclIdx.needsLower()
	return r, nil
}

func (c *compiler) errorf(rule, field string, line int, format string, args ...any) {
	if len(c.problems) >= MaxProblems {
		c.dropped++
		return
	}
	c.problems = append(c.problems, Problem{Rule: rule, Field: field, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(rule, field string, line int, format string, args ...any) {
	if len(c.warnings) >= MaxProblems {
		return
	}
	c.warnings = append(c.warnings, Problem{Rule: rule, Field: field, Line: line, Message: fmt.Sprintf(format, args...)})
}

// fields is a decoded object: its values by key, with their lines.
type fields struct {
	path  string
	line  int
	vals  map[string]*node
	lines map[string]int
	keys  []string // in source order
	known []string
}

// get returns the value of key, or nil when it is absent or null.
func (f *fields) get(key string) *node {
	n := f.vals[key]
	if n == nil || n.kind == kNull {
		return nil
	}
	return n
}

func (f *fields) lineOf(key string) int {
	if l, ok := f.lines[key]; ok {
		return l
	}
	return f.line
}

func (f *fields) pathOf(key string) string {
	if f.path == "" {
		return key
	}
	return f.path + "." + key
}

// object reads n as an object with only the known fields.
func (c *compiler) object(n *node, path, rule string, line int, known ...string) (*fields, bool) {
	f, ok := c.objectOf(n, path, rule, line, known)
	if ok {
		c.unknown(f, rule)
	}
	return f, ok
}

// objectOf reads n as an object; the caller reports unknown fields, once it
// knows the rule's name.
func (c *compiler) objectOf(n *node, path, rule string, line int, known []string) (*fields, bool) {
	if n.kind != kMap {
		c.errorf(rule, path, line, "expected an object with the fields %s; got %s", strings.Join(known, ", "), n.kind)
		return nil, false
	}
	f := &fields{path: path, line: line, vals: map[string]*node{}, lines: map[string]int{}, known: known}
	for i, k := range n.keys {
		f.vals[k] = n.items[i]
		f.lines[k] = n.keyLines[i]
		f.keys = append(f.keys, k)
	}
	return f, true
}

func (c *compiler) unknown(f *fields, rule string) {
	for _, k := range f.keys {
		if slices.Contains(f.known, k) {
			continue
		}
		msg := fmt.Sprintf("unknown field %q", clip(k))
		if s := suggest(k, f.known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += "; the fields here are " + strings.Join(f.known, ", ")
		}
		c.errorf(rule, f.pathOf(k), f.lines[k], "%s", msg)
	}
}

// suggest returns the known name that k resembles (the same letters,
// ignoring case, '_' and '-', give or take two edits), or "".
func suggest(k string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3
	for _, kn := range known {
		if d := editDistance(norm(kn), norm(k)); d < bestDist {
			best, bestDist = kn, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// got says whether an optional field was absent, present with a value of
// the wrong type (already reported), or present and usable.
type got uint8

const (
	absent got = iota
	wrong
	present
)

func (c *compiler) typeMismatch(rule, path string, line int, n *node, want string) {
	hint := ""
	if want == "a string" && (n.kind == kNumber || n.kind == kBool) {
		hint = fmt.Sprintf("; quote it: %q", clip(n.text))
	}
	c.errorf(rule, path, line, "expected %s, got %s%s", want, n.kind, hint)
}

func (c *compiler) str(f *fields, key, rule string) (string, got) {
	n := f.get(key)
	if n == nil {
		return "", absent
	}
	if n.kind != kString {
		c.typeMismatch(rule, f.pathOf(key), f.lineOf(key), n, "a string")
		return "", wrong
	}
	return n.text, present
}

func (c *compiler) list(f *fields, key, rule string) ([]*node, got) {
	n := f.get(key)
	if n == nil {
		return nil, absent
	}
	if n.kind != kList {
		c.typeMismatch(rule, f.pathOf(key), f.lineOf(key), n, "a list")
		return nil, wrong
	}
	return n.items, present
}

func itemPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func itemLine(n *node, fallback int) int {
	if n.line > 0 {
		return n.line
	}
	return fallback
}

func (c *compiler) document(root *node) {
	f, ok := c.object(root, "", "", 1,
		"version", "workspaces", "create_workspaces", "protected_roles", "rules", "exclusions", "default")
	if !ok {
		return
	}
	r, doc := c.r, &c.r.doc

	switch n := f.get("version"); {
	case n == nil:
		c.errorf("", "version", f.lineOf("version"), "version is required; this server reads version: 1")
	case n.kind != kNumber:
		c.typeMismatch("", "version", f.lineOf("version"), n, "a number")
	default:
		if v, err := strconv.Atoi(n.text); err != nil || v != 1 {
			c.errorf("", "version", f.lineOf("version"), "unsupported version %s; this server reads version: 1", n.text)
		} else {
			doc.Version = v
		}
	}

	if items, g := c.list(f, "workspaces", ""); g == present {
		if len(items) > MaxWorkspaces {
			c.errorf("", "workspaces", f.lineOf("workspaces"), "%d workspaces declared, above the limit of %d", len(items), MaxWorkspaces)
			items = nil
		}
		for i, it := range items {
			p, line := itemPath("workspaces", i), itemLine(it, f.lineOf("workspaces"))
			if it.kind != kString {
				c.typeMismatch("", p, line, it, "a string")
				continue
			}
			if msg := checkWorkspace(it.text); msg != "" {
				c.errorf("", p, line, "%s", msg)
				continue
			}
			if r.declared[it.text] {
				c.errorf("", p, line, "workspace %q is declared twice", it.text)
				continue
			}
			r.declared[it.text] = true
			doc.Workspaces = append(doc.Workspaces, it.text)
		}
		r.workspaces = slices.Sorted(func(yield func(string) bool) {
			for w := range r.declared {
				if !yield(w) {
					return
				}
			}
		})
	}

	if n := f.get("create_workspaces"); n != nil {
		if n.kind != kBool {
			c.typeMismatch("", "create_workspaces", f.lineOf("create_workspaces"), n, "true or false")
		} else {
			r.create = n.text == "true"
			doc.CreateWorkspaces = r.create
		}
	}

	r.protected.add(OrgAdmin)
	if items, g := c.list(f, "protected_roles", ""); g == present {
		r.protected = 0
		roles := []Role{}
		for i, it := range items {
			role, ok := c.role(it, itemPath("protected_roles", i), "", itemLine(it, f.lineOf("protected_roles")))
			if !ok {
				continue
			}
			if r.protected.has(role) {
				c.errorf("", itemPath("protected_roles", i), itemLine(it, f.lineOf("protected_roles")), "role %s is listed twice", role)
				continue
			}
			r.protected.add(role)
			roles = append(roles, role)
		}
		doc.ProtectedRoles = &roles
	}

	rules, _ := c.list(f, "rules", "")
	excls, _ := c.list(f, "exclusions", "")
	if len(rules)+len(excls) > MaxRules {
		c.errorf("", "rules", f.lineOf("rules"), "%d rules and %d exclusions, above the limit of %d together", len(rules), len(excls), MaxRules)
		rules, excls = nil, nil
	}
	// The default first: its workspace counts as declared for the rules.
	if n := f.get("default"); n != nil {
		c.defaultGrant(n, f.lineOf("default"))
	}
	for i, n := range rules {
		c.rule(n, i, itemLine(n, f.lineOf("rules")))
	}
	for i, n := range excls {
		c.exclusion(n, i, itemLine(n, f.lineOf("exclusions")))
	}

	if len(c.problems) > 0 {
		return
	}
	if len(r.rules) == 0 && r.def == nil {
		c.warnf("", "rules", f.lineOf("rules"), "the document has no rules and no default: it grants nobody anything")
	}
	named := slices.ContainsFunc(r.rules, func(x rule) bool { return x.ws == wsLiteral || x.ws == wsTemplate })
	for i, x := range r.rules {
		if x.ws == wsStar && !named {
			c.warnf(x.name, fmt.Sprintf("rules[%d].grant.workspace", i), itemLine(rules[i], f.lineOf("rules")),
				"workspace \"*\" qualifies the workspaces that other rules grant, and no rule grants a named workspace: this rule grants nothing")
		}
	}
}

// role reads n as a role name.
func (c *compiler) role(n *node, path, rule string, line int) (Role, bool) {
	if n.kind != kString {
		c.typeMismatch(rule, path, line, n, "a role name")
		return "", false
	}
	role := Role(n.text)
	if !role.Valid() {
		msg := fmt.Sprintf("unknown role %q; the roles are org_admin, billing_admin and developer_admin (org-wide), workspace_admin and member (in a workspace)", clip(n.text))
		names := make([]string, len(allRoles))
		for i, r := range allRoles {
			names[i] = string(r)
		}
		if s := suggest(n.text, names); s != "" {
			msg = fmt.Sprintf("unknown role %q; did you mean %q?", clip(n.text), s)
		}
		c.errorf(rule, path, line, "%s", msg)
		return "", false
	}
	return role, true
}

// name reads the optional name of a rule or exclusion at path and returns
// the label that problems and reasons use for it.
func (c *compiler) name(f *fields, path string) (label, name string) {
	label = path
	s, g := c.str(f, "name", path)
	if g != present {
		return label, ""
	}
	p, line := f.pathOf("name"), f.lineOf("name")
	switch {
	case s == "":
		c.errorf(path, p, line, "name is empty; give the rule a name or remove the field")
	case len(s) > MaxNameBytes:
		c.errorf(path, p, line, "name is %d bytes, above the limit of %d", len(s), MaxNameBytes)
	case !validName(s):
		c.errorf(path, p, line, "name %q may hold only letters, digits, '-', '_', '.' and ':', and must start with a letter or digit", clip(s))
	case strings.EqualFold(s, DefaultRule):
		c.errorf(path, p, line, "name %q is reserved for the default grant; choose another", s)
	default:
		key := strings.ToLower(s)
		if prev, dup := c.names[key]; dup {
			c.errorf(s, p, line, "name %q is already used by %s; names of rules and exclusions must be unique (ignoring case)", s, prev)
			return label, s
		}
		c.names[key] = path
		return s, s
	}
	return label, s
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if !alnum && (i == 0 || b != '-' && b != '_' && b != '.' && b != ':') {
			return false
		}
	}
	return s != ""
}

// checkWorkspace returns what is wrong with a workspace name, or "".
func checkWorkspace(s string) string {
	switch {
	case s == "":
		return "workspace name is empty"
	case s == "*":
		return "\"*\" cannot be declared; it stands for every workspace the person is a member of"
	case len(s) > MaxWorkspaceBytes:
		return fmt.Sprintf("workspace name %q is longer than %d bytes", clip(s), MaxWorkspaceBytes)
	case !validWorkspace(s):
		if lower := strings.ToLower(s); validWorkspace(lower) {
			return fmt.Sprintf("workspace names are lower case: write %q", lower)
		}
		return fmt.Sprintf("workspace name %q may hold only lower-case letters, digits, '-' and '_'", clip(s))
	}
	return ""
}

func validWorkspace(s string) bool {
	if s == "" || len(s) > MaxWorkspaceBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !workspaceByte(s[i]) {
			return false
		}
	}
	return true
}

func workspaceByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// validDirectory mirrors the names the admin API accepts for a directory:
// 1 to 64 letters, digits, '-' or '_'.
func validDirectory(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

func (c *compiler) rule(n *node, i, line int) {
	path := itemPath("rules", i)
	f, ok := c.objectOf(n, path, path, line, []string{"name", "description", "match", "grant"})
	if !ok {
		return
	}
	label, name := c.name(f, path)
	c.unknown(f, label)
	if label == path && f.get("name") == nil {
		c.warnf(label, path, line, "rule has no name: its grants will give %s as their reason, which changes when rules move; name it", path)
	}
	desc, _ := c.str(f, "description", label)
	sel, dm, selOK := c.match(f, label)
	x := rule{name: label, sel: sel}
	var sp *selector
	if selOK {
		sp = &sel
	}
	dg, ok := c.grant(f, label, sp, false, &x)
	if ok && selOK && c.r.protected.has(x.role) && (sel.kind == selDisplayName || sel.kind == selPattern) {
		gp := path + ".match.group." + sel.kind.field()
		c.errorf(label, gp, f.lineOf("match"),
			"role %s is protected: grant it only by a group's id or externalId, never by %s, so that renaming a group in the IdP cannot grant it",
			x.role, sel.kind.field())
	}
	c.r.doc.Rules = append(c.r.doc.Rules, docRule{Name: name, Description: desc, Match: dm, Grant: dg})
	c.r.rules = append(c.r.rules, x)
}

func (c *compiler) exclusion(n *node, i, line int) {
	path := itemPath("exclusions", i)
	f, ok := c.objectOf(n, path, path, line, []string{"name", "description", "match", "deny"})
	if !ok {
		return
	}
	label, name := c.name(f, path)
	c.unknown(f, label)
	desc, _ := c.str(f, "description", label)
	sel, dm, _ := c.match(f, label)
	x := exclusion{name: label, sel: sel}
	de := docExclusion{Name: name, Description: desc, Match: dm}
	items, g := c.list(f, "deny", label)
	switch {
	case g == absent:
		c.errorf(label, f.pathOf("deny"), f.lineOf("deny"), "deny is required: list the roles this exclusion removes")
	case g == present && len(items) == 0:
		c.errorf(label, f.pathOf("deny"), f.lineOf("deny"), "deny is empty: list the roles this exclusion removes")
	}
	for j, it := range items {
		p, l := itemPath(f.pathOf("deny"), j), itemLine(it, f.lineOf("deny"))
		role, ok := c.role(it, p, label, l)
		if !ok {
			continue
		}
		if x.deny.has(role) {
			c.errorf(label, p, l, "role %s is listed twice", role)
			continue
		}
		x.deny.add(role)
		de.Deny = append(de.Deny, role)
	}
	c.r.doc.Exclusions = append(c.r.doc.Exclusions, de)
	c.r.exclusions = append(c.r.exclusions, x)
}

func (c *compiler) defaultGrant(n *node, line int) {
	f, ok := c.object(n, "default", DefaultRule, line, "description", "grant")
	if !ok {
		return
	}
	desc, _ := c.str(f, "description", DefaultRule)
	x := rule{name: DefaultRule}
	dg, ok := c.grant(f, DefaultRule, nil, true, &x)
	if ok && c.r.protected.has(x.role) {
		c.errorf(DefaultRule, "default.grant.role", f.lineOf("grant"),
			"role %s is protected: only a rule that selects a group by id or externalId can grant it, and the default grant has no group", x.role)
	}
	c.r.doc.Default = &docDefault{Description: desc, Grant: dg}
	c.r.def = &x
}

// match reads the match of a rule or exclusion (f is the rule's fields).
func (c *compiler) match(f *fields, label string) (selector, docMatch, bool) {
	var sel selector
	var dm docMatch
	mn := f.get("match")
	if mn == nil {
		c.errorf(label, f.pathOf("match"), f.lineOf("match"),
			"match is required: select a group by id, externalId, displayName or displayNamePattern")
		return sel, dm, false
	}
	mf, ok := c.object(mn, f.pathOf("match"), label, f.lineOf("match"), "directory", "group")
	if !ok {
		return sel, dm, false
	}
	good := true
	switch d, g := c.str(mf, "directory", label); g {
	case wrong:
		good = false
	case present:
		dm.Directory = d
		switch {
		case d == "*":
		case validDirectory(d):
			sel.directory = d
		case strings.ContainsAny(d, "*?[]{}"):
			c.errorf(label, mf.pathOf("directory"), mf.lineOf("directory"),
				"directory %q: write \"*\" for any directory or one exact directory name; wildcards inside a name are not supported (write a rule per directory)", clip(d))
			good = false
		default:
			c.errorf(label, mf.pathOf("directory"), mf.lineOf("directory"),
				"directory %q is not a directory name (1 to 64 letters, digits, '-' or '_'), nor \"*\" for any directory", clip(d))
			good = false
		}
	}
	gn := mf.get("group")
	if gn == nil {
		c.errorf(label, mf.pathOf("group"), mf.lineOf("group"),
			"match selects no group: set group to one of id, externalId, displayName or displayNamePattern")
		return sel, dm, false
	}
	gf, ok := c.object(gn, mf.pathOf("group"), label, mf.lineOf("group"), "id", "externalId", "displayName", "displayNamePattern")
	if !ok {
		return sel, dm, false
	}
	var set []string
	for _, k := range []string{"id", "externalId", "displayName", "displayNamePattern"} {
		v, g := c.str(gf, k, label)
		if g == wrong {
			good = false
		}
		if g != present {
			continue
		}
		if v == "" {
			c.errorf(label, gf.pathOf(k), gf.lineOf(k), "%s is empty; it would match only groups without one", k)
			good = false
			continue
		}
		set = append(set, k)
		switch k {
		case "id":
			dm.Group.ID, sel.kind, sel.value = v, selID, v
		case "externalId":
			dm.Group.ExternalID, sel.kind, sel.value = v, selExternalID, v
		case "displayName":
			dm.Group.DisplayName, sel.kind, sel.value = v, selDisplayName, fold(v)
		case "displayNamePattern":
			dm.Group.DisplayNamePattern, sel.kind, sel.value = v, selPattern, v
			if !c.pattern(&sel, v, label, gf.pathOf(k), gf.lineOf(k)) {
				good = false
			}
		}
		if k != "displayNamePattern" && strings.TrimSpace(v) != v {
			c.warnf(label, gf.pathOf(k), gf.lineOf(k), "%s %q has leading or trailing spaces, which must match exactly", k, clip(v))
		}
	}
	switch {
	case len(set) == 0 && good:
		c.errorf(label, mf.pathOf("group"), mf.lineOf("group"),
			"group selects nothing: set one of id, externalId, displayName or displayNamePattern")
		return sel, dm, false
	case len(set) > 1:
		c.errorf(label, mf.pathOf("group"), mf.lineOf("group"),
			"group sets %s: set exactly one selector (write one rule per selector)", strings.Join(set, " and "))
		return sel, dm, false
	}
	return sel, dm, good && len(set) == 1
}

// grant reads the grant of a rule, or of the default, into x. sel is the
// rule's selector, nil for the default or when the rule's match is invalid
// (then the captures cannot be checked).
func (c *compiler) grant(f *fields, label string, sel *selector, isDefault bool, x *rule) (docGrant, bool) {
	var dg docGrant
	gn := f.get("grant")
	if gn == nil {
		c.errorf(label, f.pathOf("grant"), f.lineOf("grant"), "grant is required: give a role, and a workspace for a workspace role")
		return dg, false
	}
	gf, ok := c.object(gn, f.pathOf("grant"), label, f.lineOf("grant"), "workspace", "role")
	if !ok {
		return dg, false
	}
	good := true
	rn := gf.get("role")
	if rn == nil {
		c.errorf(label, gf.pathOf("role"), gf.lineOf("role"), "role is required")
		good = false
	} else if role, ok := c.role(rn, gf.pathOf("role"), label, gf.lineOf("role")); ok {
		x.role, dg.Role = role, role
	} else {
		good = false
	}
	ws, g := c.str(gf, "workspace", label)
	wp, wl := gf.pathOf("workspace"), gf.lineOf("workspace")
	if g == wrong {
		return dg, false
	}
	dg.Workspace = ws
	switch {
	case x.role.OrgWide() && g == present:
		c.errorf(label, wp, wl, "role %s is org-wide: remove workspace", x.role)
		return dg, false
	case x.role.Workspace() && g == absent:
		if isDefault {
			c.errorf(label, wp, wl, "role %s is granted in a workspace: set workspace to a workspace name", x.role)
		} else {
			c.errorf(label, wp, wl, "role %s is granted in a workspace: set workspace to a workspace name, a ${capture} or \"*\"", x.role)
		}
		return dg, false
	case g == absent:
		return dg, good
	}

	if ws == "*" {
		switch {
		case isDefault:
			c.errorf(label, wp, wl, "the default grant needs a named workspace, not \"*\"")
			return dg, false
		case x.role == Member:
			c.errorf(label, wp, wl, "workspace \"*\" with role member grants nothing: \"*\" stands for the workspaces the person is already a member of; grant workspace_admin, or name a workspace")
			return dg, false
		}
		x.ws = wsStar
		return dg, good
	}

	parts, names, msg := parseTemplate(ws)
	if msg != "" {
		c.errorf(label, wp, wl, "%s", msg)
		return dg, false
	}
	if len(names) == 0 {
		if msg := checkWorkspace(ws); msg != "" {
			c.errorf(label, wp, wl, "%s", msg)
			return dg, false
		}
		switch {
		case c.r.declared[ws]:
		case isDefault:
			// The default grant declares its workspace: it is one name,
			// written for this purpose.
			c.r.declared[ws] = true
			c.r.workspaces = append(c.r.workspaces, ws)
			slices.Sort(c.r.workspaces)
			c.warnf(label, wp, wl, "workspace %q is not in workspaces; the default grant declares it", ws)
		default:
			if !c.r.create {
				c.errorf(label, wp, wl, "workspace %q is not declared and create_workspaces is false: add it to workspaces, or set create_workspaces: true", ws)
				return dg, false
			}
			c.warnf(label, wp, wl, "workspace %q is not declared: publishing creates it (create_workspaces is true)", ws)
		}
		x.ws, x.workspace = wsLiteral, ws
		return dg, good
	}

	switch {
	case isDefault:
		c.errorf(label, wp, wl, "the default grant has no group to capture from: name a workspace instead of ${%s}", names[0])
		return dg, false
	case sel == nil:
		return dg, false // the match is invalid and already reported
	case sel.kind != selPattern:
		c.errorf(label, wp, wl, "${%s} captures from a displayNamePattern, and this rule selects by %s: match.group needs displayNamePattern with (?P<%s>...)", names[0], sel.kind.field(), names[0])
		return dg, false
	}
	var have []string
	for _, n := range sel.re.SubexpNames() {
		if n != "" {
			have = append(have, n)
		}
	}
	for i := range parts {
		if parts[i].group == 0 {
			parts[i].group = -1
		}
	}
	ok = true
	for i, p := range parts {
		if p.group < 0 {
			continue
		}
		name := names[p.group-1]
		idx := sel.re.SubexpIndex(name)
		if idx < 0 {
			if len(have) == 0 {
				c.errorf(label, wp, wl, "capture ${%s} is not defined: displayNamePattern has no named group; add (?P<%s>...)", name, name)
			} else {
				c.errorf(label, wp, wl, "capture ${%s} is not defined in displayNamePattern; its named groups are %s", name, strings.Join(have, ", "))
			}
			ok = false
			continue
		}
		parts[i].group = idx
	}
	if !ok {
		return dg, false
	}
	if c.r.create {
		c.warnf(label, wp, wl, "captured workspace names that are not declared create workspaces (create_workspaces is true)")
	}
	x.ws, x.tmpl = wsTemplate, parts
	return dg, good
}

// parseTemplate splits a workspace template into literals and capture
// references. A reference's part has group set to its 1-based position in
// names (the compiler replaces it by the capture index); a literal's part
// has group 0. msg says what is wrong, if anything.
func parseTemplate(s string) (parts []tmplPart, names []string, msg string) {
	rest := s
	for rest != "" {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			parts = append(parts, tmplPart{lit: rest})
			break
		}
		if i > 0 {
			parts = append(parts, tmplPart{lit: rest[:i]})
		}
		rest = rest[i:]
		end := strings.IndexByte(rest, '}')
		if !strings.HasPrefix(rest, "${") || end < 0 {
			return nil, nil, fmt.Sprintf("workspace %q: a \"$\" must start a capture reference such as ${ws}", clip(s))
		}
		name := rest[2:end]
		if !validCaptureName(name) {
			return nil, nil, fmt.Sprintf("workspace %q: ${%s} is not a capture name (letters, digits and '_')", clip(s), clip(name))
		}
		names = append(names, name)
		parts = append(parts, tmplPart{group: len(names)})
		rest = rest[end+1:]
	}
	if len(names) == 0 {
		return parts, nil, ""
	}
	for _, p := range parts {
		if p.group != 0 {
			continue
		}
		for i := 0; i < len(p.lit); i++ {
			if !workspaceByte(p.lit[i]) {
				if p.lit[i] == '*' {
					return nil, nil, fmt.Sprintf("workspace %q: \"*\" stands alone (every workspace the person is a member of); it cannot be part of a name", clip(s))
				}
				return nil, nil, fmt.Sprintf("workspace %q: the text around captures may hold only lower-case letters, digits, '-' and '_'", clip(s))
			}
		}
	}
	return parts, names, ""
}

func validCaptureName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_') {
			return false
		}
	}
	return s != ""
}

// clip shortens a value quoted in a message to at most 80 bytes.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	i := 77
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
