package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// scim sends a SCIM request to acme's directory dir with that directory's
// token and returns the status and body.
func (e *env) scim(dir, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	tok := e.tokens["scim:acme/"+dir]
	status, out := e.do(method, "/scim/v2/acme/"+dir+path, tok, body)
	return status, out
}

func (e *env) mustSCIM(want int, dir, method, path, body string) map[string]any {
	e.t.Helper()
	status, out := e.scim(dir, method, path, body)
	if status != want {
		e.t.Fatalf("%s %s = %d %v; want %d", method, path, status, out, want)
	}
	return out
}

// doRaw posts a body with a content type to the admin API.
func (e *env) post(path, contentType, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.tokens["admin:acme"])
	req.Header.Set("Content-Type", contentType)
	return e.send(req)
}

const rulesYAML = `version: 1
workspaces: [engineering, legal, finance, support]
create_workspaces: false
rules:
  - name: workspace-members
    match:
      directory: "*"
      group: {displayNamePattern: "^workspace_(?P<ws>[a-z0-9_-]+)$"}
    grant: {workspace: "${ws}", role: member}
  - name: workspace-admins
    match:
      group: {displayName: role_workspace_admin}
    grant: {workspace: "*", role: workspace_admin}
  - name: org-admins
    match:
      group: {externalId: "00gADMINS"}
    grant: {role: org_admin}
  - name: billing
    match:
      group: {externalId: "00gBILLING"}
    grant: {role: billing_admin}
exclusions:
  - name: contractors-never-admin
    match: {group: {displayName: contractors}}
    deny: [org_admin, billing_admin, developer_admin, workspace_admin]
`

// roles flattens an access answer to "workspace:role<-rule/group" strings.
func roles(a map[string]any) []string {
	var out []string
	for _, key := range []string{"org_roles", "workspaces"} {
		list, _ := a[key].([]any)
		for _, g := range list {
			m := g.(map[string]any)
			ws, _ := m["workspace"].(string)
			var reasons []string
			for _, r := range m["reasons"].([]any) {
				rm := r.(map[string]any)
				reasons = append(reasons, fmt.Sprintf("%v/%v", rm["rule"], rm["group_display_name"]))
			}
			out = append(out, fmt.Sprintf("%s:%v<-%s", ws, m["role"], strings.Join(reasons, "+")))
		}
	}
	return out
}

func TestRulesEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "entra", Profile: "entra"}); err != nil {
		t.Fatal(err)
	}
	e.tokens["scim:acme/entra"] = e.token(store.TokenSCIM, "acme", "entra", zeroTime)
	admin := e.tokens["admin:acme"]

	// Okta provisions people and pushes groups.
	user := func(dir, name string) string {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"active":true,"password":"x","groups":[]}`, name)
		return e.mustSCIM(201, dir, "POST", "/Users", body)["id"].(string)
	}
	alice, bob, carol := user("okta", "alice@acme.example"), user("okta", "bob@acme.example"), user("okta", "carol@acme.example")
	group := func(dir, name, ext string, members ...string) string {
		g := e.mustSCIM(201, dir, "POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"externalId":%q,"members":[]}`, name, ext))
		id := g["id"].(string)
		if len(members) > 0 {
			var vals []string
			for _, m := range members {
				vals = append(vals, fmt.Sprintf(`{"value":%q}`, m))
			}
			e.mustSCIM(204, dir, "PATCH", "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`+strings.Join(vals, ",")+`]}]}`)
		}
		return id
	}
	eng := group("okta", "workspace_engineering", "00gENG", alice, bob, carol)
	group("okta", "workspace_legal", "00gLEGAL", bob)
	group("okta", "role_workspace_admin", "00gWSADMIN", alice, carol)
	group("okta", "admins", "00gADMINS", alice, carol)
	group("okta", "contractors", "00gCONTRACT", carol)
	// Entra provisions its own people into the same workspaces.
	dave := user("entra", "dave@acme.example")
	fin := e.mustSCIM(201, "entra", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"workspace_finance","externalId":"3f2a9c1e-0000-4000-8000-000000000001"}`)["id"].(string)
	e.mustSCIM(204, "entra", "PATCH", "/Groups/"+fin, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+dave+`"}]}]}`)

	// A broken document is refused with every problem named.
	status, body := e.post("/admin/v1/orgs/acme/rules/drafts", "application/yaml", "version: 1\nrules:\n  - name: bad\n    match: {group: {displayName: admins}}\n    grant: {role: org_admin}\n  - name: worse\n    match: {group: {id: x}}\n    grant: {role: overlord}\n")
	if status != 400 || errCode(body) != "invalid_rules" {
		t.Fatalf("bad draft = %d %v", status, body)
	}
	problems := body["error"].(map[string]any)["problems"].([]any)
	text := fmt.Sprint(problems)
	if len(problems) < 2 || !strings.Contains(text, "bad") || !strings.Contains(text, "worse") || !strings.Contains(text, "rules[1].grant.role") {
		t.Errorf("problems = %v; want both rules named, with the field", problems)
	}

	// Draft, simulate, publish.
	status, draft := e.post("/admin/v1/orgs/acme/rules/drafts", "application/yaml", rulesYAML)
	if status != 201 {
		t.Fatalf("draft = %d %v", status, draft)
	}
	id := draft["id"].(string)
	status, sim := e.post("/admin/v1/orgs/acme/rules/drafts/"+id+"/simulate", "application/json", "")
	if status != 200 || sim["gains"].(float64) == 0 || sim["losses"] != float64(0) || sim["org_admins_after"] != float64(1) {
		t.Fatalf("simulate = %d %v", status, sim)
	}
	if _, err := e.st.Rules(ctx, "acme"); err == nil {
		t.Fatalf("simulate published the rules")
	}
	status, v1 := e.post("/admin/v1/orgs/acme/rules/drafts/"+id+"/publish", "application/json", `{}`)
	if status != 201 || v1["version"] != float64(1) {
		t.Fatalf("publish = %d %v", status, v1)
	}

	access := func(id string) []string {
		_, a := e.do("GET", "/admin/v1/orgs/acme/users/"+id+"/access", admin, "")
		return roles(a)
	}
	want := map[string][]string{
		alice: {":org_admin<-org-admins/admins", "engineering:workspace_admin<-workspace-admins/role_workspace_admin"},
		bob:   {"engineering:member<-workspace-members/workspace_engineering", "legal:member<-workspace-members/workspace_legal"},
		// carol is a contractor: no org_admin, and workspace_admin falls back to member.
		carol: {"engineering:member<-workspace-members/workspace_engineering"},
		dave:  {"finance:member<-workspace-members/workspace_finance"},
	}
	for who, w := range want {
		if got := access(who); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("access(%s) = %v; want %v", who, got, w)
		}
	}
	_, members := e.do("GET", "/admin/v1/orgs/acme/workspaces/engineering/members?role=workspace_admin", admin, "")
	if ms := members["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["user_id"] != alice {
		t.Errorf("engineering admins = %v", members)
	}

	// The IdP is the source of truth: removing bob from engineering over
	// SCIM revokes that membership at once, with an event.
	e.mustSCIM(204, "okta", "PATCH", "/Groups/"+eng, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+bob+`\"]"}]}`)
	if got := access(bob); fmt.Sprint(got) != "[legal:member<-workspace-members/workspace_legal]" {
		t.Errorf("bob after removal = %v", got)
	}
	page, _ := e.st.Events(ctx, "acme", store.EventQuery{Types: []string{store.EventAccessRevoked}, Limit: 1000})
	if len(page.Events) != 1 || page.Events[0].Resource.ID != bob || !strings.Contains(string(page.Events[0].Data), "engineering") {
		t.Errorf("access.revoked events = %+v", page.Events)
	}

	// Guard: a rule that matches nothing would revoke most access.
	broken := strings.Replace(rulesYAML, "^workspace_", "^ws_", 1)
	_, d2 := e.post("/admin/v1/orgs/acme/rules/drafts", "application/yaml", broken)
	status, refused := e.post("/admin/v1/orgs/acme/rules/drafts/"+d2["id"].(string)+"/publish", "application/json", `{}`)
	if status != 409 || errCode(refused) != "guard" || !strings.Contains(fmt.Sprint(refused), "mass_revocation") || !strings.Contains(fmt.Sprint(refused), "%") {
		t.Fatalf("broken publish = %d %v", status, refused)
	}
	if status, body := e.post("/admin/v1/orgs/acme/rules/drafts/"+d2["id"].(string)+"/publish", "application/json", `{"force": true}`); status != 400 || errCode(body) != "reason_required" {
		t.Errorf("force without reason = %d %v", status, body)
	}
	if got := access(dave); len(got) != 1 {
		t.Errorf("refused publish changed access: %v", got)
	}
	status, v2 := e.post("/admin/v1/orgs/acme/rules/drafts/"+d2["id"].(string)+"/publish", "application/json", `{"force": true, "reason": "migrating group names"}`)
	if status != 201 || v2["version"] != float64(2) || v2["reason"] != "migrating group names" {
		t.Fatalf("forced publish = %d %v", status, v2)
	}
	if got := access(dave); len(got) != 0 {
		t.Errorf("dave after the broken rules = %v; want nothing", got)
	}

	// Guard: rules without the org-admin rule would leave no org_admin.
	noAdmin := strings.Replace(rulesYAML, "    grant: {role: org_admin}", "    grant: {role: developer_admin}", 1)
	_, d3 := e.post("/admin/v1/orgs/acme/rules/drafts", "application/yaml", noAdmin)
	if status, body := e.post("/admin/v1/orgs/acme/rules/drafts/"+d3["id"].(string)+"/publish", "application/json", `{}`); status != 409 || !strings.Contains(fmt.Sprint(body), "no_org_admin") {
		t.Errorf("publish without org admins = %d %v", status, body)
	}

	// Roll back to version 1: a new version 3, access as before.
	status, v3 := e.post("/admin/v1/orgs/acme/rules/versions/1/rollback", "application/json", `{}`)
	if status != 201 || v3["version"] != float64(3) || v3["rolled_back_from"] != float64(1) {
		t.Fatalf("rollback = %d %v", status, v3)
	}
	if got := access(dave); fmt.Sprint(got) != fmt.Sprint(want[dave]) {
		t.Errorf("dave after rollback = %v", got)
	}
	_, versions := e.do("GET", "/admin/v1/orgs/acme/rules/versions", admin, "")
	if vs := versions["versions"].([]any); len(vs) != 3 || vs[1].(map[string]any)["reason"] != "migrating group names" {
		t.Errorf("versions = %v", versions)
	}
	_, current := e.do("GET", "/admin/v1/orgs/acme/rules", admin, "")
	if current["version"] != float64(3) || current["document"] == nil {
		t.Errorf("current rules = %v", current)
	}
	_, ws := e.do("GET", "/admin/v1/orgs/acme/workspaces", admin, "")
	if !strings.Contains(fmt.Sprint(ws), "finance") {
		t.Errorf("workspaces = %v", ws)
	}
	page, _ = e.st.Events(ctx, "acme", store.EventQuery{Types: []string{store.EventRulesPublished}, Limit: 10})
	if len(page.Events) != 3 || page.Events[0].Actor.Type != store.ActorToken {
		t.Errorf("rules.published events = %d, first actor %+v", len(page.Events), page.Events)
	}
	// Another org's admin sees none of it.
	if status, _ := e.do("GET", "/admin/v1/orgs/acme/rules", e.tokens["admin:other"], ""); status != 404 {
		t.Errorf("other org reads acme's rules = %d", status)
	}
}
