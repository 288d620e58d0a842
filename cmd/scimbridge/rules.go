package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// adminClient talks to a running server's admin API for the rules and
// access commands.
type adminClient struct {
	base  string // server root, no trailing slash
	org   string
	token string
	http  *http.Client
}

// adminFlags registers --url, --token and --org (with their environment
// defaults) and --json.
func adminFlags(fs *flag.FlagSet) (url, token, org *string, asJSON *bool) {
	url = fs.String("url", "", "server URL, e.g. http://127.0.0.1:8080 (env SCIMBRIDGE_URL)")
	token = fs.String("token", "", "admin token of the org (env SCIMBRIDGE_TOKEN)")
	org = fs.String("org", "default", "org")
	asJSON = fs.Bool("json", false, "print the server's JSON answer, for scripts")
	return
}

func newAdminClient(rawURL, token, org string, getenv func(string) string) (*adminClient, error) {
	if rawURL == "" {
		rawURL = getenv("SCIMBRIDGE_URL")
	}
	if token == "" {
		token = getenv("SCIMBRIDGE_TOKEN")
	}
	if rawURL == "" || token == "" {
		return nil, &exitError{code: 2, msg: "give --url and --token (or SCIMBRIDGE_URL and SCIMBRIDGE_TOKEN)"}
	}
	return &adminClient{base: strings.TrimRight(rawURL, "/"), org: org, token: token, http: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// do calls the admin API and returns the status and the raw JSON body.
func (c *adminClient) do(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/admin/v1/orgs/"+url.PathEscape(c.org)+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	return res.StatusCode, raw, err
}

// expect calls the admin API and returns the body when the status is
// want, or the server's error rendered for a person.
func (c *adminClient) expect(ctx context.Context, want int, method, path, contentType string, body []byte) ([]byte, error) {
	status, raw, err := c.do(ctx, method, path, contentType, body)
	if err != nil {
		return nil, err
	}
	if status != want {
		return nil, apiErr(status, raw)
	}
	return raw, nil
}

// apiErr renders an admin API error body for a person.
func apiErr(status int, raw []byte) error {
	var body struct {
		Error struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Problems []struct {
				Rule, Field, Message string
				Line                 int
			}
			Violations []struct{ Guard, Message string }
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
		return &exitError{code: 1, msg: fmt.Sprintf("server answered %d: %s", status, strings.TrimSpace(string(raw)))}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d)", body.Error.Code, status)
	if len(body.Error.Problems) == 0 && len(body.Error.Violations) == 0 {
		fmt.Fprintf(&b, ": %s", body.Error.Message)
	}
	for _, p := range body.Error.Problems {
		where := p.Field
		if p.Rule != "" {
			where = p.Rule + ": " + p.Field
		}
		if p.Line > 0 {
			where += fmt.Sprintf(" (line %d)", p.Line)
		}
		fmt.Fprintf(&b, "\n  %s: %s", where, p.Message)
	}
	for _, v := range body.Error.Violations {
		fmt.Fprintf(&b, "\n  guard %s: %s", v.Guard, v.Message)
	}
	if len(body.Error.Violations) > 0 {
		b.WriteString("\n  to override, publish again with --force --reason \"why\"")
	}
	return &exitError{code: 1, msg: b.String()}
}

func rulesContentType(file string) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return "application/json"
	}
	return "application/yaml"
}

// createDraft uploads FILE as a draft and returns its id, printing the
// warnings.
func (c *adminClient) createDraft(ctx context.Context, file string, stderr io.Writer) (string, error) {
	doc, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	raw, err := c.expect(ctx, http.StatusCreated, "POST", "/rules/drafts", rulesContentType(file), doc)
	if err != nil {
		return "", err
	}
	var d struct {
		ID       string `json:"id"`
		Warnings []struct{ Rule, Field, Message string }
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", err
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(stderr, "warning: %s %s: %s\n", w.Rule, w.Field, w.Message)
	}
	return d.ID, nil
}

func printSimulation(w io.Writer, raw []byte) {
	var s struct {
		ByRole []struct {
			Workspace, Role string
			Gained, Lost    int
		} `json:"by_role"`
		Guards []struct{ Guard, Message string } `json:"guards"`
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	_ = json.Unmarshal(raw, &s)
	num := func(k string) int { f, _ := m[k].(float64); return int(f) }
	fmt.Fprintf(w, "%d grants gained, %d revoked, %d role changes; people with access: %d before, %d after; org admins: %d before, %d after\n",
		num("gains"), num("losses"), num("role_changes"), num("people_with_access_before"), num("people_with_access_after"),
		num("org_admins_before"), num("org_admins_after"))
	for _, t := range s.ByRole {
		ws := t.Workspace
		if ws == "" {
			ws = "(org-wide)"
		}
		fmt.Fprintf(w, "  %-20s %-16s +%d -%d\n", ws, t.Role, t.Gained, t.Lost)
	}
	for _, g := range s.Guards {
		fmt.Fprintf(w, "  guard %s would refuse: %s\n", g.Guard, g.Message)
	}
}

// rulesCommand runs "scimbridge rules validate|simulate|publish FILE".
func rulesCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := "usage: scimbridge rules validate|simulate|publish FILE [--url URL] [--token TOKEN] [--org ORG] [--json] [--force --reason WHY]"
	if len(args) < 1 {
		return &exitError{code: 2, msg: usage}
	}
	sub := args[0]
	fs := flag.NewFlagSet("rules "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, tok, org, asJSON := adminFlags(fs)
	force := fs.Bool("force", false, "publish: override the guards (needs --reason)")
	reason := fs.String("reason", "", "publish: why the guards are overridden (recorded)")
	// Accept FILE before or after the flags.
	rest := args[1:]
	var file string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" || (sub != "validate" && sub != "simulate" && sub != "publish") {
		return &exitError{code: 2, msg: usage}
	}
	c, err := newAdminClient(*u, *tok, *org, getenv)
	if err != nil {
		return err
	}
	id, err := c.createDraft(ctx, file, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "validate":
		if *asJSON {
			fmt.Fprintf(stdout, "{\"valid\": true, \"draft\": %q}\n", id)
		} else {
			fmt.Fprintf(stdout, "%s is valid (draft %s)\n", file, id)
		}
		return nil
	case "simulate":
		raw, err := c.expect(ctx, http.StatusOK, "POST", "/rules/drafts/"+id+"/simulate", "", nil)
		if err != nil {
			return err
		}
		if *asJSON {
			stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return nil
		}
		printSimulation(stdout, raw)
		return nil
	}
	body, _ := json.Marshal(map[string]any{"force": *force, "reason": *reason})
	raw, err := c.expect(ctx, http.StatusCreated, "POST", "/rules/drafts/"+id+"/publish", "application/json", body)
	if err != nil {
		return err
	}
	if *asJSON {
		stdout.Write(append(bytes.TrimSpace(raw), '\n'))
		return nil
	}
	var v struct {
		Version    int             `json:"version"`
		Simulation json.RawMessage `json:"simulation"`
	}
	_ = json.Unmarshal(raw, &v)
	fmt.Fprintf(stdout, "published version %d\n", v.Version)
	printSimulation(stdout, v.Simulation)
	return nil
}

// accessCommand runs "scimbridge access USER": USER is a userName or a
// SCIM id.
func accessCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("access", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, tok, org, asJSON := adminFlags(fs)
	var who string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		who, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if who == "" && fs.NArg() == 1 {
		who = fs.Arg(0)
	}
	if who == "" {
		return &exitError{code: 2, msg: "usage: scimbridge access USER [--url URL] [--token TOKEN] [--org ORG] [--json]"}
	}
	c, err := newAdminClient(*u, *tok, *org, getenv)
	if err != nil {
		return err
	}
	id := who
	if strings.Contains(who, "@") || len(who) != 36 {
		raw, err := c.expect(ctx, http.StatusOK, "GET", "/users?userName="+url.QueryEscape(who), "", nil)
		if err != nil {
			return err
		}
		var found struct {
			Users []struct{ ID, Directory string }
		}
		_ = json.Unmarshal(raw, &found)
		switch len(found.Users) {
		case 0:
			return &exitError{code: 1, msg: fmt.Sprintf("no user %q in org %s", who, *org)}
		case 1:
			id = found.Users[0].ID
		default:
			var ids []string
			for _, u := range found.Users {
				ids = append(ids, u.ID+" ("+u.Directory+")")
			}
			return &exitError{code: 1, msg: fmt.Sprintf("%q names several people; give one id: %s", who, strings.Join(ids, ", "))}
		}
	}
	raw, err := c.expect(ctx, http.StatusOK, "GET", "/users/"+url.PathEscape(id)+"/access", "", nil)
	if err != nil {
		return err
	}
	if *asJSON {
		stdout.Write(append(bytes.TrimSpace(raw), '\n'))
		return nil
	}
	type grant struct {
		Workspace, Role string
		Reasons         []struct {
			Rule             string `json:"rule"`
			GroupDisplayName string `json:"group_display_name"`
			Directory        string `json:"directory"`
		} `json:"reasons"`
	}
	var a struct {
		UserName   string  `json:"user_name"`
		Directory  string  `json:"directory"`
		Active     bool    `json:"active"`
		OrgRoles   []grant `json:"org_roles"`
		Workspaces []grant `json:"workspaces"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	state := "active"
	if !a.Active {
		state = "deactivated"
	}
	fmt.Fprintf(stdout, "%s (%s, directory %s)\n", a.UserName, state, a.Directory)
	if len(a.OrgRoles)+len(a.Workspaces) == 0 {
		fmt.Fprintln(stdout, "  no access")
	}
	all := append(a.OrgRoles, a.Workspaces...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Workspace < all[j].Workspace })
	for _, g := range all {
		ws := g.Workspace
		if ws == "" {
			ws = "(org-wide)"
		}
		var why []string
		for _, r := range g.Reasons {
			if r.GroupDisplayName != "" {
				why = append(why, fmt.Sprintf("rule %s, group %s", r.Rule, r.GroupDisplayName))
			} else {
				why = append(why, "rule "+r.Rule)
			}
		}
		fmt.Fprintf(stdout, "  %-20s %-16s because %s\n", ws, g.Role, strings.Join(why, "; "))
	}
	return nil
}
