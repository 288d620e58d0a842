package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/mapping"
	"github.com/scimbridge/scimbridge/store"
)

// testRules grants member of ws_<name> groups' workspace, workspace_admin
// of those workspaces to ws-admins, and org_admin to the group with
// externalId admins-ext.
const testRules = `{"version":1,"workspaces":["eng","legal","general"],"rules":[
 {"name":"ws-members","match":{"group":{"displayNamePattern":"^ws_(?P<ws>[a-z]+)$"}},"grant":{"workspace":"${ws}","role":"member"}},
 {"name":"ws-admins","match":{"group":{"displayName":"ws-admins"}},"grant":{"workspace":"*","role":"workspace_admin"}},
 {"name":"org-admins","match":{"group":{"externalId":"admins-ext"}},"grant":{"role":"org_admin"}}]}`

// testRulesDefault is testRules with a default grant of general/member.
var testRulesDefault = strings.TrimSuffix(testRules, "}") + `,"default":{"grant":{"workspace":"general","role":"member"}}}`

// testRulesNoAdmins is testRules without the org-admins rule.
const testRulesNoAdmins = `{"version":1,"workspaces":["eng","legal","general"],"rules":[
 {"name":"ws-members","match":{"group":{"displayNamePattern":"^ws_(?P<ws>[a-z]+)$"}},"grant":{"workspace":"${ws}","role":"member"}},
 {"name":"ws-admins","match":{"group":{"displayName":"ws-admins"}},"grant":{"workspace":"*","role":"workspace_admin"}}]}`

// testRulesNoMembers is testRules without the ws-members rule.
const testRulesNoMembers = `{"version":1,"workspaces":["eng","legal","general"],"rules":[
 {"name":"org-admins","match":{"group":{"externalId":"admins-ext"}},"grant":{"role":"org_admin"}}]}`

// publish publishes doc in org and fails the test on an error.
func (e *env) publish(org, doc string) store.RulesVersion {
	e.t.Helper()
	v, _, err := e.s.PublishRules(e.ctx, org, []byte(doc), store.PublishOptions{})
	if err != nil {
		e.t.Fatalf("PublishRules(%s) = %v", org, err)
	}
	return v
}

// publishForced publishes doc in a population without an org_admin, which
// the no_org_admin guard refuses unless forced.
func (e *env) publishForced(org, doc string) store.RulesVersion {
	e.t.Helper()
	v, _, err := e.s.PublishRules(e.ctx, org, []byte(doc), store.PublishOptions{Force: true, Reason: "no org_admin in this test"})
	if err != nil {
		e.t.Fatalf("PublishRules(%s, forced) = %v", org, err)
	}
	return v
}

// adminGroup creates the group that testRules makes org admins.
func (e *env) adminGroup(dir store.DirKey, members ...string) store.Group {
	e.t.Helper()
	g, err := e.s.CreateGroup(e.ctx, dir, store.Group{DisplayName: "admins", ExternalID: "admins-ext"}, members)
	if err != nil {
		e.t.Fatalf("CreateGroup(admins) = %v", err)
	}
	return g
}

// grants returns a person's access as "role" (org-wide) and
// "workspace:role", in the store's order.
func (e *env) grants(dir store.DirKey, userID string) []string {
	e.t.Helper()
	pa, err := e.s.Access(e.ctx, dir, userID)
	if err != nil {
		e.t.Fatalf("Access(%v, %s) = %v", dir, userID, err)
	}
	var out []string
	for _, g := range pa.OrgRoles {
		out = append(out, g.Role)
	}
	for _, g := range pa.Workspaces {
		out = append(out, g.Workspace+":"+g.Role)
	}
	return out
}

// lastSeq returns the org's last seq.
func (e *env) lastSeq(org string) uint64 {
	e.t.Helper()
	p, err := e.s.Events(e.ctx, org, store.EventQuery{After: 0, Limit: 1})
	if err != nil {
		e.t.Fatalf("Events(%s) = %v", org, err)
	}
	return p.Last
}

// eventsAfter returns the events of org after seq, of the given types (all
// when none).
func (e *env) eventsAfter(org string, after uint64, types ...string) []store.Event {
	e.t.Helper()
	var out []store.Event
	for {
		p, err := e.s.Events(e.ctx, org, store.EventQuery{After: after, Limit: store.MaxEventLimit, Types: types})
		if err != nil {
			e.t.Fatalf("Events(%s, after %d) = %v", org, after, err)
		}
		out = append(out, p.Events...)
		if p.Next == p.Last {
			return out
		}
		after = p.Next
	}
}

// accessSummary renders access events as "type user workspace role
// from>to".
func accessSummary(evs []store.Event) []string {
	var out []string
	for _, ev := range evs {
		var d struct {
			User struct {
				ID       string `json:"id"`
				UserName string `json:"userName"`
			} `json:"user"`
			Workspace, Role, From, To string
		}
		_ = json.Unmarshal(ev.Data, &d)
		out = append(out, fmt.Sprintf("%s %s %s %s %s>%s", ev.Type, d.User.UserName, d.Workspace, d.Role, d.From, d.To))
	}
	return out
}

var accessTypes = []string{store.EventAccessGranted, store.EventAccessRevoked, store.EventAccessRoleChanged, store.EventAccessOrgAdminMissing}

func testRulesPublish(t *testing.T, e *env) {
	e.setup()
	_, err := e.s.Rules(e.ctx, "acme")
	isErr(t, err, store.ErrNotFound, "Rules(acme) before any publish")
	if vs, err := e.s.RulesVersions(e.ctx, "acme"); err != nil || len(vs) != 0 {
		t.Errorf("RulesVersions(acme) before any publish = %v, %v; want none", vs, err)
	}
	_, _, err = e.s.PublishRules(e.ctx, "nope", []byte(testRules), store.PublishOptions{})
	isErr(t, err, store.ErrNotFound, "PublishRules(unknown org)")
	_, _, err = e.s.PublishRules(e.ctx, "acme", []byte(`{"version":1,"rules":[{"grant":{"role":"nope"}}]}`), store.PublishOptions{})
	var ve *mapping.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("PublishRules(invalid) = %v; want a *mapping.ValidationError", err)
	}

	alice := e.user(e.a, "alice")
	e.adminGroup(e.a, alice.ID)
	ctx := store.WithActor(e.ctx, store.Actor{Type: store.ActorAdmin, ID: "root"})
	v1, d1, err := e.s.PublishRules(ctx, "acme", []byte(testRules), store.PublishOptions{})
	if err != nil {
		t.Fatalf("PublishRules(acme, v1) = %v", err)
	}
	if v1.Version != 1 || v1.Actor.ID != "root" || v1.Published.IsZero() || v1.Force || v1.RolledBackFrom != 0 {
		t.Errorf("PublishRules(v1) = %+v; want version 1 by root", v1)
	}
	if d1.Gains != 1 || d1.OrgAdminsAfter != 1 || d1.People != 1 {
		t.Errorf("PublishRules(v1) diff = %+v; want 1 gain (alice org_admin)", d1)
	}
	if _, err := mapping.Parse(v1.Document, "application/json"); err != nil {
		t.Errorf("Parse(v1.Document) = %v; want the canonical JSON of the rules", err)
	}
	v2 := e.publish("acme", testRulesDefault)
	if v2.Version != 2 {
		t.Errorf("PublishRules(v2).Version = %d; want 2", v2.Version)
	}
	cur, err := e.s.Rules(e.ctx, "acme")
	if err != nil || cur.Version != 2 || string(cur.Document) != string(v2.Document) {
		t.Errorf("Rules(acme) = %+v, %v; want version 2", cur, err)
	}
	v3, _, err := e.s.Rollback(ctx, "acme", 1, store.PublishOptions{})
	if err != nil {
		t.Fatalf("Rollback(acme, 1) = %v", err)
	}
	if v3.Version != 3 || v3.RolledBackFrom != 1 || string(v3.Document) != string(v1.Document) {
		t.Errorf("Rollback(1) = %+v; want version 3 with v1's document, rolled back from 1", v3)
	}
	_, _, err = e.s.Rollback(ctx, "acme", 99, store.PublishOptions{})
	isErr(t, err, store.ErrNotFound, "Rollback(acme, 99)")
	vs, err := e.s.RulesVersions(e.ctx, "acme")
	if err != nil || len(vs) != 3 {
		t.Fatalf("RulesVersions(acme) = %d versions, %v; want 3", len(vs), err)
	}
	for i, v := range vs {
		if v.Version != i+1 {
			t.Errorf("RulesVersions(acme)[%d].Version = %d; want %d", i, v.Version, i+1)
		}
	}
	if d := diff(v3, vs[2]); d != "" {
		t.Errorf("RulesVersions(acme)[2] mismatch (-want +got):\n%s", d)
	}
	pub := e.eventsAfter("acme", 0, store.EventRulesPublished)
	if len(pub) != 3 || pub[2].Resource != (store.ResourceRef{Type: store.ResourceRules, ID: "3"}) {
		t.Errorf("rules.published events = %+v; want 3, the last about rules 3", pub)
	}
}

func testRulesDrafts(t *testing.T, e *env) {
	e.setup()
	ctx := store.WithActor(e.ctx, store.Actor{Type: store.ActorAdmin, ID: "root"})
	d, err := e.s.CreateDraft(ctx, "acme", []byte(testRules))
	if err != nil {
		t.Fatalf("CreateDraft(acme) = %v", err)
	}
	if d.ID == "" || string(d.Document) != testRules || d.Created.IsZero() || d.Actor.ID != "root" {
		t.Errorf("CreateDraft(acme) = %+v; want an id, the document as given, a time and the actor", d)
	}
	got, err := e.s.Draft(e.ctx, "acme", d.ID)
	if err != nil {
		t.Fatalf("Draft(acme, %s) = %v", d.ID, err)
	}
	if dd := diff(d, got); dd != "" {
		t.Errorf("Draft(acme) mismatch (-want +got):\n%s", dd)
	}
	_, err = e.s.Draft(e.ctx, "globex", d.ID)
	isErr(t, err, store.ErrNotFound, "Draft(globex, acme's draft)")
	_, err = e.s.Draft(e.ctx, "acme", "nope")
	isErr(t, err, store.ErrNotFound, "Draft(acme, nope)")
	_, err = e.s.CreateDraft(ctx, "nope", []byte(testRules))
	isErr(t, err, store.ErrNotFound, "CreateDraft(unknown org)")
	_, err = e.s.CreateDraft(ctx, "acme", []byte("version: 1\nrules: [{grant: {role: member, workspace: eng}, bogus: 1}]\n"))
	var ve *mapping.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("CreateDraft(invalid) = %v; want a *mapping.ValidationError", err)
	}
	if _, err := e.s.Rules(e.ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Rules(acme) after a draft = %v; want ErrNotFound: a draft is not published", err)
	}
	if n := e.lastSeq("acme"); n != 2 { // the two directory.created
		t.Errorf("acme's last seq after drafts = %d; want 2 (drafts emit nothing)", n)
	}
}

// testRulesDraftsBounded creates twice store.MaxDrafts drafts from 16
// goroutines at once (a store may commit them together): the org keeps
// store.MaxDrafts of them.
func testRulesDraftsBounded(t *testing.T, e *env) {
	e.setup()
	ids := make(chan string, 2*store.MaxDrafts)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < 2*store.MaxDrafts; i += 16 {
				d, err := e.s.CreateDraft(e.ctx, "acme", []byte(testRules))
				if err != nil {
					t.Errorf("CreateDraft(acme) = %v", err)
					return
				}
				ids <- d.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	kept := 0
	for id := range ids {
		if _, err := e.s.Draft(e.ctx, "acme", id); err == nil {
			kept++
		}
	}
	if kept != store.MaxDrafts {
		t.Errorf("after %d concurrent CreateDraft, %d drafts are kept; want %d", 2*store.MaxDrafts, kept, store.MaxDrafts)
	}
}

// guardPopulation makes alice an org admin and 9 people members of eng,
// and publishes testRules.
func (e *env) guardPopulation() (alice store.User, others []store.User) {
	alice = e.user(e.a, "alice")
	e.adminGroup(e.a, alice.ID)
	var ids []string
	for i := range 9 {
		u := e.user(e.a, fmt.Sprintf("user%d", i))
		others = append(others, u)
		ids = append(ids, u.ID)
	}
	e.group(e.a, "ws_eng", ids...)
	e.publish("acme", testRules)
	return alice, others
}

func testRulesGuards(t *testing.T, e *env) {
	e.setup()
	e.guardPopulation()
	before := e.lastSeq("acme")

	_, d, err := e.s.PublishRules(e.ctx, "acme", []byte(testRulesNoAdmins), store.PublishOptions{})
	var ge *store.GuardError
	if !errors.As(err, &ge) || !errors.Is(err, store.ErrGuard) {
		t.Fatalf("PublishRules(no admins) = %v; want a *store.GuardError", err)
	}
	if len(ge.Violations) != 1 || ge.Violations[0].Guard != mapping.GuardNoOrgAdmin || ge.Violations[0].OrgAdminsBefore != 1 || ge.Violations[0].OrgAdminsAfter != 0 {
		t.Errorf("PublishRules(no admins) violations = %+v; want no_org_admin 1 → 0", ge.Violations)
	}
	if !strings.Contains(err.Error(), "no_org_admin") || d.OrgAdminsAfter != 0 || d.OrgAdminsBefore != 1 {
		t.Errorf("PublishRules(no admins) = %v, diff %+v; want the guard named and the diff returned", err, d)
	}

	_, _, err = e.s.PublishRules(e.ctx, "acme", []byte(testRulesNoMembers), store.PublishOptions{})
	if !errors.As(err, &ge) || len(ge.Violations) != 1 || ge.Violations[0].Guard != mapping.GuardMassRevocation ||
		ge.Violations[0].PeopleLosing != 9 || ge.Violations[0].PeopleWithAccess != 10 {
		t.Fatalf("PublishRules(no members) = %v; want mass_revocation of 9 of 10 people", err)
	}
	if !strings.Contains(err.Error(), "9 of 10 people (90.0%)") {
		t.Errorf("PublishRules(no members) = %q; want the figures", err)
	}
	_, _, err = e.s.Rollback(e.ctx, "acme", 1, store.PublishOptions{MaxRevokeShare: 1e-9})
	if err != nil {
		t.Errorf("Rollback(1) to the same rules = %v; want no guard to fail when nothing changes", err)
	}
	before = e.lastSeq("acme") // the rollback appended rules.published

	// Nothing was written by the refusals.
	if cur, err := e.s.Rules(e.ctx, "acme"); err != nil || cur.Version != 2 {
		t.Errorf("Rules(acme) after refusals = %+v, %v; want version 2", cur, err)
	}

	_, _, err = e.s.PublishRules(e.ctx, "acme", []byte(testRulesNoMembers), store.PublishOptions{Force: true})
	isErr(t, err, store.ErrReasonRequired, "PublishRules(force without reason)")
	if n := e.lastSeq("acme"); n != before {
		t.Errorf("last seq after refused publishes = %d; want %d", n, before)
	}
	if _, _, err := e.s.PublishRules(e.ctx, "acme", []byte(testRulesNoMembers), store.PublishOptions{MaxRevokeShare: 1}); err != nil {
		t.Errorf("PublishRules(no members, MaxRevokeShare 1) = %v; want the guard off", err)
	}
	e.publish("acme", testRules)
	before = e.lastSeq("acme")

	ctx := store.WithActor(e.ctx, store.Actor{Type: store.ActorAdmin, ID: "root"})
	v, _, err := e.s.PublishRules(ctx, "acme", []byte(testRulesNoAdmins), store.PublishOptions{Force: true, Reason: "moving admins to SSO"})
	if err != nil {
		t.Fatalf("PublishRules(no admins, forced) = %v", err)
	}
	if !v.Force || v.Reason != "moving admins to SSO" {
		t.Errorf("forced version = %+v; want force and the reason recorded", v)
	}
	if cur, _ := e.s.Rules(e.ctx, "acme"); !cur.Force || cur.Reason != "moving admins to SSO" {
		t.Errorf("Rules(acme) = %+v; want force and the reason recorded", cur)
	}
	evs := e.eventsAfter("acme", before, store.EventRulesPublished)
	if len(evs) != 1 {
		t.Fatalf("rules.published after the forced publish = %d events; want 1", len(evs))
	}
	var data struct {
		Version int            `json:"version"`
		Force   bool           `json:"force"`
		Reason  string         `json:"reason"`
		Guards  []string       `json:"guards"`
		Actor   store.Actor    `json:"actor"`
		Diff    map[string]int `json:"diff"`
	}
	if err := json.Unmarshal(evs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Version != v.Version || !data.Force || data.Reason != "moving admins to SSO" || len(data.Guards) != 1 ||
		data.Guards[0] != mapping.GuardNoOrgAdmin || data.Actor.ID != "root" || data.Diff["losses"] != 1 || data.Diff["org_admins_after"] != 0 {
		t.Errorf("rules.published data = %s; want version, force, reason, the overridden guard, actor and diff counts", evs[0].Data)
	}
}

func testRulesSimulateReadOnly(t *testing.T, e *env) {
	e.setup()
	alice, others := e.guardPopulation()
	before := e.lastSeq("acme")
	d, err := e.s.SimulateRules(e.ctx, "acme", []byte(testRulesNoMembers))
	if err != nil {
		t.Fatalf("SimulateRules(acme) = %v", err)
	}
	if d.Losses != 9 || d.PeopleLosingAccess != 9 || d.People != 10 {
		t.Errorf("SimulateRules(no members) = %+v; want 9 losses of 10 people", d)
	}
	if v := (mapping.Guards{}).Check(d); len(v) != 1 || v[0].Guard != mapping.GuardMassRevocation {
		t.Errorf("Guards.Check(simulated) = %v; want mass_revocation", v)
	}
	if n := e.lastSeq("acme"); n != before {
		t.Errorf("last seq after SimulateRules = %d; want %d", n, before)
	}
	if cur, err := e.s.Rules(e.ctx, "acme"); err != nil || cur.Version != 1 {
		t.Errorf("Rules(acme) after SimulateRules = %+v, %v; want version 1", cur, err)
	}
	if g := e.grants(e.a, others[0].ID); !equalStrings(g, []string{"eng:member"}) {
		t.Errorf("access of user0 after SimulateRules = %v; want [eng:member]", g)
	}
	if g := e.grants(e.a, alice.ID); !equalStrings(g, []string{"org_admin"}) {
		t.Errorf("access of alice = %v; want [org_admin]", g)
	}
	_, err = e.s.SimulateRules(e.ctx, "acme", []byte(`{}`))
	var ve *mapping.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("SimulateRules(invalid) = %v; want a *mapping.ValidationError", err)
	}
	_, err = e.s.SimulateRules(e.ctx, "nope", []byte(testRules))
	isErr(t, err, store.ErrNotFound, "SimulateRules(unknown org)")
}

func equalStrings(a, b []string) bool { return diff(a, b) == "" }

func testAccessRecompute(t *testing.T, e *env) {
	e.setup()
	bob := e.user(e.a, "bob")
	eng := e.group(e.a, "ws_eng")
	if g := e.grants(e.a, bob.ID); len(g) != 0 {
		t.Errorf("access without rules = %v; want none", g)
	}
	e.publishForced("acme", testRulesDefault)
	check := func(step string, want ...string) {
		t.Helper()
		if g := e.grants(e.a, bob.ID); !equalStrings(g, want) {
			t.Errorf("access of bob after %s = %v; want %v", step, g, want)
		}
	}
	check("publish (default grant)", "general:member")
	carol := e.user(e.a, "carol")
	if g := e.grants(e.a, carol.ID); !equalStrings(g, []string{"general:member"}) {
		t.Errorf("access of a new user = %v; want the default grant", g)
	}
	e.change(e.a, eng.ID, store.MemberChange{Add: []string{bob.ID}})
	check("member add", "eng:member")
	admins := e.group(e.a, "ws-admins", bob.ID)
	check("ws-admins create", "eng:workspace_admin")
	e.change(e.a, admins.ID, store.MemberChange{Remove: []string{bob.ID}})
	check("member remove", "eng:member")

	if _, err := e.s.UpdateUser(e.ctx, e.a, bob.ID, 0, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	check("deactivate")
	if _, err := e.s.UpdateUser(e.ctx, e.a, bob.ID, 0, func(u *store.User) error { u.Active = true; return nil }); err != nil {
		t.Fatal(err)
	}
	check("reactivate", "eng:member")

	// A rename that the pattern no longer matches: the default applies.
	if _, err := e.s.UpdateGroup(e.ctx, e.a, eng.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName = "engineering"
		return store.MemberChange{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	check("rename to engineering", "general:member")
	if _, err := e.s.UpdateGroup(e.ctx, e.a, eng.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName = "ws_legal"
		return store.MemberChange{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	check("rename to ws_legal", "legal:member")
	if err := e.s.DeleteGroup(e.ctx, e.a, eng.ID, 0); err != nil {
		t.Fatal(err)
	}
	check("group delete", "general:member")

	// Reasons: the rule and the group.
	e.group(e.a, "ws_eng", bob.ID)
	pa, err := e.s.Access(e.ctx, e.a, bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa.Workspaces) != 1 || len(pa.Workspaces[0].Reasons) != 1 {
		t.Fatalf("Access(bob) = %+v; want one workspace with one reason", pa)
	}
	r := pa.Workspaces[0].Reasons[0]
	if r.Rule != "ws-members" || r.GroupDisplayName != "ws_eng" || r.GroupID == "" || r.Directory != "okta" {
		t.Errorf("Access(bob) reason = %+v; want rule ws-members, group ws_eng of okta", r)
	}
	if pa.UserName != "bob" || !pa.Active || pa.Directory != "okta" || pa.UserID != bob.ID {
		t.Errorf("Access(bob) = %+v; want bob of okta, active", pa)
	}

	if err := e.s.DeleteUser(e.ctx, e.a, bob.ID, 0); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Access(e.ctx, e.a, bob.ID)
	isErr(t, err, store.ErrNotFound, "Access(deleted user)")
	if ms, _, err := e.s.WorkspaceMembers(e.ctx, "acme", "eng", "", "", 0); err != nil || len(ms) != 0 {
		t.Errorf("WorkspaceMembers(eng) after delete = %+v, %v; want none", ms, err)
	}
	_, err = e.s.Access(e.ctx, e.b, carol.ID)
	isErr(t, err, store.ErrNotFound, "Access(carol in another directory)")
}

func testAccessIndex(t *testing.T, e *env) {
	e.setup()
	var ids []string
	for i := range 25 {
		ids = append(ids, e.user(e.a, fmt.Sprintf("m%02d", i)).ID)
	}
	e.group(e.a, "ws_eng", ids...)
	e.group(e.a, "ws-admins", ids[:3]...)
	entra := e.user(e.b, "entra-user")
	e.group(e.b, "ws_eng", entra.ID)
	alice := e.user(e.a, "alice")
	e.adminGroup(e.a, alice.ID)
	e.publish("acme", testRules)

	var got []store.Member
	after := ""
	for pages := 0; ; pages++ {
		ms, next, err := e.s.WorkspaceMembers(e.ctx, "acme", "eng", "", after, 10)
		if err != nil {
			t.Fatalf("WorkspaceMembers(eng, %q) = %v", after, err)
		}
		got = append(got, ms...)
		if next == "" {
			if pages != 2 || len(ms) != 6 {
				t.Errorf("WorkspaceMembers(eng) ended after %d pages with %d; want 3 pages, the last of 6", pages+1, len(ms))
			}
			break
		}
		after = next
	}
	if len(got) != 26 {
		t.Fatalf("WorkspaceMembers(eng) = %d members; want 26", len(got))
	}
	// Ordered by role, directory, user id.
	if got[0].Role != "member" || got[0].Directory != "entra" || got[0].UserName != "entra-user" || got[25].Role != "workspace_admin" {
		t.Errorf("WorkspaceMembers(eng) = first %+v, last %+v; want members (entra first), then workspace admins", got[0], got[25])
	}
	admins, next, err := e.s.WorkspaceMembers(e.ctx, "acme", "eng", "workspace_admin", "", 0)
	if err != nil || len(admins) != 3 || next != "" {
		t.Errorf("WorkspaceMembers(eng, workspace_admin) = %d, %q, %v; want 3", len(admins), next, err)
	}
	orgAdmins, _, err := e.s.WorkspaceMembers(e.ctx, "acme", store.OrgWide, string(mapping.OrgAdmin), "", 0)
	if err != nil || len(orgAdmins) != 1 || orgAdmins[0].UserID != alice.ID || orgAdmins[0].UserName != "alice" {
		t.Errorf("WorkspaceMembers(org-wide, org_admin) = %+v, %v; want alice", orgAdmins, err)
	}
	_, _, err = e.s.WorkspaceMembers(e.ctx, "acme", "eng", "", "!!", 10)
	isErr(t, err, store.ErrBadCursor, "WorkspaceMembers(bad cursor)")
	_, _, err = e.s.WorkspaceMembers(e.ctx, "nope", "eng", "", "", 10)
	isErr(t, err, store.ErrNotFound, "WorkspaceMembers(unknown org)")

	ws, err := e.s.Workspaces(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.WorkspaceView{
		{Name: "eng", Declared: true, Members: 26, Admins: 3},
		{Name: "general", Declared: true},
		{Name: "legal", Declared: true},
	}
	if d := diff(want, ws); d != "" {
		t.Errorf("Workspaces(acme) mismatch (-want +got):\n%s", d)
	}
}

func testAccessEvents(t *testing.T, e *env) {
	e.setup()
	bob := e.user(e.a, "bob")
	eng := e.group(e.a, "ws_eng")
	other := e.group(e.a, "unrelated")
	e.publishForced("acme", testRules)
	seq := e.lastSeq("acme")

	e.change(e.a, eng.ID, store.MemberChange{Add: []string{bob.ID}})
	evs := e.eventsAfter("acme", seq)
	if len(evs) != 2 || evs[0].Type != store.EventGroupMemberAdded || evs[1].Type != store.EventAccessGranted {
		t.Fatalf("events of a member add = %v; want group.member_added then access.granted", accessSummary(evs))
	}
	ev := evs[1]
	if ev.Directory != "okta" || ev.Resource != (store.ResourceRef{Type: store.ResourceUser, ID: bob.ID}) || ev.Org != "acme" {
		t.Errorf("access.granted envelope = %+v; want bob of acme/okta", ev)
	}
	var data struct {
		User struct {
			ID       string `json:"id"`
			UserName string `json:"userName"`
		} `json:"user"`
		Workspace    string             `json:"workspace"`
		Role         string             `json:"role"`
		From         string             `json:"from"`
		To           string             `json:"to"`
		Reasons      []store.ReasonView `json:"reasons"`
		RulesVersion int                `json:"rules_version"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.User.ID != bob.ID || data.User.UserName != "bob" || data.Workspace != "eng" || data.Role != "member" || data.To != "member" ||
		data.From != "" || data.RulesVersion != 1 || len(data.Reasons) != 1 || data.Reasons[0].Rule != "ws-members" || data.Reasons[0].GroupID != eng.ID {
		t.Errorf("access.granted data = %s; want bob, eng, member, with the rule and group", ev.Data)
	}

	// No change of access: no access event.
	seq = e.lastSeq("acme")
	e.change(e.a, other.ID, store.MemberChange{Add: []string{bob.ID}})
	if _, err := e.s.UpdateUser(e.ctx, e.a, bob.ID, 0, func(u *store.User) error { u.Attributes = []byte(`{"userName":"bob","title":"x"}`); return nil }); err != nil {
		t.Fatal(err)
	}
	if evs := e.eventsAfter("acme", seq, accessTypes...); len(evs) != 0 {
		t.Errorf("access events of writes that change no access = %v; want none", accessSummary(evs))
	}

	seq = e.lastSeq("acme")
	admins := e.group(e.a, "ws-admins", bob.ID)
	e.change(e.a, eng.ID, store.MemberChange{Remove: []string{bob.ID}})
	e.change(e.a, eng.ID, store.MemberChange{Add: []string{bob.ID}})
	if err := e.s.DeleteGroup(e.ctx, e.a, admins.ID, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"access.role_changed bob eng workspace_admin member>workspace_admin",
		"access.revoked bob eng workspace_admin workspace_admin>",
		"access.granted bob eng workspace_admin >workspace_admin",
		"access.role_changed bob eng member workspace_admin>member",
	}
	if got := accessSummary(e.eventsAfter("acme", seq, accessTypes...)); !equalStrings(got, want) {
		t.Errorf("access events = %q; want %q", got, want)
	}

	// A publish emits the changes it makes, after rules.published.
	seq = e.lastSeq("acme")
	e.publishForced("acme", testRulesDefault) // bob keeps eng; nobody else is there
	e.user(e.a, "carol")
	evs = e.eventsAfter("acme", seq)
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	if want := []string{store.EventRulesPublished, store.EventUserCreated, store.EventAccessGranted}; !equalStrings(types, want) {
		t.Errorf("events of publish then create = %v; want %v", types, want)
	}
}

func testAccessIsolation(t *testing.T, e *env) {
	e.setup()
	a := e.user(e.a, "same")
	c := e.user(e.c, "same")
	e.group(e.a, "ws_eng", a.ID)
	e.group(e.c, "ws_eng", c.ID)
	seqC := e.lastSeq("globex")
	e.publishForced("acme", testRules)
	if g := e.grants(e.a, a.ID); !equalStrings(g, []string{"eng:member"}) {
		t.Errorf("access in acme = %v; want [eng:member]", g)
	}
	if g := e.grants(e.c, c.ID); len(g) != 0 {
		t.Errorf("access in globex after acme's publish = %v; want none", g)
	}
	if n := e.lastSeq("globex"); n != seqC {
		t.Errorf("globex's last seq after acme's publish = %d; want %d", n, seqC)
	}
	_, err := e.s.Rules(e.ctx, "globex")
	isErr(t, err, store.ErrNotFound, "Rules(globex)")
	if ms, _, err := e.s.WorkspaceMembers(e.ctx, "globex", "eng", "", "", 0); err != nil || len(ms) != 0 {
		t.Errorf("WorkspaceMembers(globex, eng) = %+v, %v; want none", ms, err)
	}
	_, err = e.s.Access(e.ctx, e.c, a.ID)
	isErr(t, err, store.ErrNotFound, "Access(globex, acme's user)")
	_, _, err = e.s.Rollback(e.ctx, "globex", 1, store.PublishOptions{})
	isErr(t, err, store.ErrNotFound, "Rollback(globex, acme's version)")
}

func testAccessAtomic(t *testing.T, e *env) {
	e.setup()
	bob := e.user(e.a, "bob")
	eng := e.group(e.a, "ws_eng")
	e.publishForced("acme", testRules)
	seq := e.lastSeq("acme")
	_, err := e.s.UpdateGroup(e.ctx, e.a, eng.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
		return store.MemberChange{Add: []string{bob.ID, "not-a-user"}}, nil
	})
	isErr(t, err, store.ErrInvalidMember, "UpdateGroup(add bob and an invalid member)")
	boom := errors.New("boom")
	_, err = e.s.UpdateUser(e.ctx, e.a, bob.ID, 0, func(u *store.User) error { u.Active = false; return boom })
	isErr(t, err, boom, "UpdateUser(callback error)")
	if g := e.grants(e.a, bob.ID); len(g) != 0 {
		t.Errorf("access after failed writes = %v; want none", g)
	}
	if n := e.lastSeq("acme"); n != seq {
		t.Errorf("last seq after failed writes = %d; want %d", n, seq)
	}
	if ms, _, _ := e.s.WorkspaceMembers(e.ctx, "acme", "eng", "", "", 0); len(ms) != 0 {
		t.Errorf("WorkspaceMembers(eng) after failed writes = %+v; want none", ms)
	}
}

func testAccessOrgAdminMissing(t *testing.T, e *env) {
	e.setup()
	alice := e.user(e.a, "alice")
	carl := e.user(e.b, "carl")
	admins := e.adminGroup(e.a, alice.ID)
	entraAdmins, err := e.s.CreateGroup(e.ctx, e.b, store.Group{DisplayName: "admins", ExternalID: "admins-ext"}, []string{carl.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.publish("acme", testRules)

	// Alice goes, carl (another directory) remains: no warning.
	seq := e.lastSeq("acme")
	e.change(e.a, admins.ID, store.MemberChange{Remove: []string{alice.ID}})
	if evs := e.eventsAfter("acme", seq, store.EventAccessOrgAdminMissing); len(evs) != 0 {
		t.Errorf("org_admin_missing with an admin left = %v; want none", accessSummary(evs))
	}
	// Carl is deactivated: the SCIM write is not refused, and warns.
	seq = e.lastSeq("acme")
	if _, err := e.s.UpdateUser(e.ctx, e.b, carl.ID, 0, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatalf("UpdateUser(deactivate the last admin) = %v; want SCIM writes never refused", err)
	}
	evs := e.eventsAfter("acme", seq, accessTypes...)
	want := []string{"access.revoked carl  org_admin org_admin>", "access.org_admin_missing carl   >"}
	if got := accessSummary(evs); !equalStrings(got, want) {
		t.Fatalf("events of deactivating the last admin = %q; want %q", got, want)
	}
	if ev := evs[1]; ev.Directory != "entra" || ev.Resource.ID != carl.ID {
		t.Errorf("org_admin_missing = %+v; want about carl of entra", ev)
	}
	// Already without an admin: no second warning.
	seq = e.lastSeq("acme")
	e.change(e.b, entraAdmins.ID, store.MemberChange{Remove: []string{carl.ID}})
	if evs := e.eventsAfter("acme", seq, store.EventAccessOrgAdminMissing); len(evs) != 0 {
		t.Errorf("org_admin_missing without an admin before = %v; want none", accessSummary(evs))
	}
}
