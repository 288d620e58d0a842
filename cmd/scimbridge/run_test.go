package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs "scimbridge serve" in-process on a free loopback port
// and waits for its banner.
func startServe(t *testing.T, env map[string]string, args ...string) (stdout *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	getenv := func(k string) string { return env[k] }
	go func() { done <- run(ctx, append([]string{"serve"}, args...), getenv, stdout, stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	// The banner is written in several writes (the existing-database one
	// reads the store between its lines): wait for its last line.
	complete := func(out string) bool {
		return strings.Contains(out, "OIDC redirect URI") || strings.Contains(out, "Tokens are shown only when created")
	}
	for !complete(stdout.String()) {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before serving: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner; stderr: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return stdout, stop
}

var (
	urlRe   = regexp.MustCompile(`(http://\S+/scim/v2/default/default)`)
	tokenRe = regexp.MustCompile(`(scb_[A-Za-z0-9_-]{43})`)
)

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return res.StatusCode, body
}

func TestServeFirstStartAndTokenCreate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "scimbridge.db")
	out, stop := startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	banner := out.String()
	base := urlRe.FindString(banner)
	tokens := tokenRe.FindAllString(banner, -1)
	if base == "" || len(tokens) != 3 {
		t.Fatalf("banner lacks the base URL or the three tokens:\n%s", banner)
	}
	status, body := get(t, base+"/Users", tokens[0])
	if status != http.StatusOK || body["totalResults"] != float64(0) {
		t.Fatalf("GET /Users with the printed SCIM token = %d %v", status, body)
	}
	if status, _ := get(t, base+"/Users", tokens[1]); status != http.StatusUnauthorized {
		t.Errorf("admin token on SCIM = %d; want 401", status)
	}
	root := strings.Replace(base, "/scim/v2/default/default", "", 1)
	if status, _ := get(t, root+"/healthz", ""); status != http.StatusOK {
		t.Errorf("/healthz = %d", status)
	}
	if status, _ := get(t, root+"/readyz", ""); status != http.StatusOK {
		t.Errorf("/readyz = %d", status)
	}
	if status, _ := get(t, root+"/admin/v1/orgs", tokens[2]); status != http.StatusOK {
		t.Errorf("GET /admin/v1/orgs with the printed super token = %d", status)
	}
	if status, _ := get(t, root+"/admin/v1/orgs", tokens[1]); status == http.StatusOK {
		t.Errorf("GET /admin/v1/orgs with the org admin token = 200; want refused")
	}

	// While the server runs, the database is locked: token create fails fast.
	var so, se bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"token", "create", "--data", data, "--org", "default", "--directory", "default"}, func(string) string { return "" }, &so, &se)
	if code == 0 || !strings.Contains(se.String(), "in use by another scimbridge process") {
		t.Errorf("token create on a locked database: code %d, stderr %q", code, se.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("locked database took %v to fail", d)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}

	// Offline: a new SCIM token, printed alone on stdout.
	so.Reset()
	se.Reset()
	code = run(context.Background(), []string{"token", "create", "--data", data, "--org", "default", "--directory", "default", "--name", "okta", "--expires", "90d"}, func(string) string { return "" }, &so, &se)
	if code != 0 {
		t.Fatalf("token create = %d: %s", code, se.String())
	}
	newToken := strings.TrimSpace(so.String())
	if !tokenRe.MatchString(newToken) || strings.Count(so.String(), "\n") != 1 {
		t.Fatalf("token create printed %q; want one token line", so.String())
	}
	so.Reset()
	if code := run(context.Background(), []string{"token", "create", "--data", data, "--org", "default", "--admin"}, func(string) string { return "" }, &so, &se); code != 0 || !tokenRe.MatchString(so.String()) {
		t.Errorf("token create --admin = %d %q %q", code, so.String(), se.String())
	}
	if code := run(context.Background(), []string{"token", "create", "--data", data, "--org", "default", "--directory", "nope"}, func(string) string { return "" }, &so, &se); code == 0 {
		t.Errorf("token create for a missing directory succeeded")
	}

	// Restart: the data and the new token work, and the banner does not
	// print old tokens again.
	out, _ = startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	if tokenRe.MatchString(out.String()) {
		t.Errorf("restart banner prints a token:\n%s", out.String())
	}
	base = urlRe.FindString(out.String())
	if status, _ := get(t, base+"/Users", newToken); status != http.StatusOK {
		t.Errorf("offline token = %d; want 200", status)
	}
	if status, _ := get(t, base+"/Users", tokens[0]); status != http.StatusOK {
		t.Errorf("first-start token after restart = %d; want 200", status)
	}
}

func TestConfigSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "scimbridge.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:0\ndata: "+filepath.Join(dir, "file.db")+"\nscim:\n  max_page_size: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envData := filepath.Join(dir, "env.db")
	out, _ := startServe(t, map[string]string{"SCIMBRIDGE_CONFIG": file, "SCIMBRIDGE_DATA": envData})
	if _, err := os.Stat(envData); err != nil {
		t.Errorf("environment did not override the file's data path: %v", err)
	}
	base := urlRe.FindString(out.String())
	token := tokenRe.FindString(out.String())
	_, spc := get(t, base+"/ServiceProviderConfig", token)
	if got := spc["filter"].(map[string]any)["maxResults"]; got != float64(7) {
		t.Errorf("filter.maxResults = %v; want 7 from the file", got)
	}

	c := defaultConfig()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("lisen: x\n"), 0o600)
	if err := c.load(bad, func(string) string { return "" }, nil); err == nil || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("typo in config file: %v; want unknown setting", err)
	}
	if err := c.load("", func(k string) string {
		if k == "SCIMBRIDGE_SCIM_MAX_PAGE_SIZE" {
			return "-1"
		}
		return ""
	}, nil); err == nil {
		t.Errorf("negative page size accepted")
	}
}

func TestDirectoryCreate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "scimbridge.db")
	out, stop := startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	_ = out
	stop()
	var so, se bytes.Buffer
	none := func(string) string { return "" }
	if code := run(context.Background(), []string{"directory", "create", "--data", data, "--name", "entra-hq", "--profile", "entra"}, none, &so, &se); code != 0 {
		t.Fatalf("directory create = %d: %s", code, se.String())
	}
	if !strings.Contains(so.String(), "/scim/v2/default/entra-hq") {
		t.Errorf("directory create printed %q", so.String())
	}
	for _, args := range [][]string{
		{"directory", "create", "--data", data, "--name", "entra-hq"},                  // exists
		{"directory", "create", "--data", data, "--name", "x", "--profile", "azure"},   // unknown profile
		{"directory", "create", "--data", data, "--name", "a/b"},                       // not URL-safe
		{"directory", "create", "--data", data, "--name", "y", "--org", "no-such-org"}, // no org
	} {
		if code := run(context.Background(), args, none, &so, &se); code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}
	so.Reset()
	if code := run(context.Background(), []string{"token", "create", "--data", data, "--org", "default", "--directory", "entra-hq"}, none, &so, &se); code != 0 {
		t.Fatalf("token for the new directory: %s", se.String())
	}
	token := strings.TrimSpace(so.String())
	out, _ = startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	var base string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "/entra-hq") {
			base = strings.TrimSpace(line)
		}
	}
	if status, _ := get(t, base+"/Users", token); status != http.StatusOK {
		t.Errorf("new directory's token on %s = %d", base, status)
	}
}

func TestConformanceCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "scimbridge.db")
	out, _ := startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	base := urlRe.FindString(out.String())
	token := tokenRe.FindString(out.String())
	var so, se bytes.Buffer
	none := func(string) string { return "" }
	code := run(context.Background(), []string{"conformance", "--url", base, "--token", token}, none, &so, &se)
	lines := strings.Split(strings.TrimSpace(so.String()), "\n")
	last := lines[len(lines)-1]
	if code != 0 || !regexp.MustCompile(`^\d+ passed, 0 failed(, \d+ skipped)?$`).MatchString(last) {
		t.Fatalf("conformance = %d, last line %q\n%s\n%s", code, last, so.String(), se.String())
	}
	for _, l := range lines[:len(lines)-1] {
		if !regexp.MustCompile(`^(PASS|SKIP) `).MatchString(l) {
			t.Errorf("line %q", l)
		}
	}
	if strings.Contains(so.String()+se.String(), token) {
		t.Errorf("conformance printed the token")
	}
	so.Reset()
	if code := run(context.Background(), []string{"conformance", "--url", base, "--token", "scb_wrong"}, none, &so, &se); code == 0 {
		t.Errorf("conformance with a wrong token exited 0")
	}
}

func TestRulesAndAccessCommands(t *testing.T) {
	dir := t.TempDir()
	out, _ := startServe(t, nil, "--data", filepath.Join(dir, "db"), "--listen", "127.0.0.1:0")
	base := urlRe.FindString(out.String())
	tokens := tokenRe.FindAllString(out.String(), -1)
	root := strings.TrimSuffix(base, "/scim/v2/default/default")
	scimPost := func(path, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[0])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		if res.StatusCode != 201 {
			t.Fatalf("POST %s = %d %v", path, res.StatusCode, m)
		}
		return m
	}
	alice := scimPost("/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@acme.example"}`)["id"].(string)
	scimPost("/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"workspace_engineering","members":[{"value":"`+alice+`"}]}`)
	scimPost("/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"admins","externalId":"00gADMINS","members":[{"value":"`+alice+`"}]}`)

	good := filepath.Join(dir, "rules.yaml")
	os.WriteFile(good, []byte(`version: 1
workspaces: [engineering]
rules:
  - name: members
    match: {group: {displayNamePattern: "^workspace_(?P<ws>[a-z]+)$"}}
    grant: {workspace: "${ws}", role: member}
  - name: org-admins
    match: {group: {externalId: "00gADMINS"}}
    grant: {role: org_admin}
`), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nrules:\n  - name: x\n    match: {group: {displayName: admins}}\n    grant: {role: org_admin}\n"), 0o600)

	env := map[string]string{"SCIMBRIDGE_URL": root, "SCIMBRIDGE_TOKEN": tokens[1]}
	getenv := func(k string) string { return env[k] }
	cli := func(args ...string) (int, string, string) {
		var so, se bytes.Buffer
		code := run(context.Background(), args, getenv, &so, &se)
		return code, so.String(), se.String()
	}
	if code, so, se := cli("rules", "validate", good); code != 0 || !strings.Contains(so, "is valid") {
		t.Errorf("validate good = %d %q %q", code, so, se)
	}
	if code, _, se := cli("rules", "validate", bad); code == 0 || !strings.Contains(se, "invalid_rules") || !strings.Contains(se, "rules[0].grant.role") && !strings.Contains(se, "x: ") {
		t.Errorf("validate bad = %d %q", code, se)
	}
	if code, so, se := cli("rules", "simulate", good); code != 0 || !strings.Contains(so, "2 grants gained") {
		t.Errorf("simulate = %d %q %q", code, so, se)
	}
	if code, so, se := cli("rules", "publish", good); code != 0 || !strings.Contains(so, "published version 1") {
		t.Errorf("publish = %d %q %q", code, so, se)
	}
	code, so, se := cli("access", "alice@acme.example")
	if code != 0 || !strings.Contains(so, "org_admin") || !strings.Contains(so, "rule org-admins, group admins") || !strings.Contains(so, "engineering") {
		t.Errorf("access = %d %q %q", code, so, se)
	}
	code, so, _ = cli("access", alice, "--json")
	var a map[string]any
	if code != 0 || json.Unmarshal([]byte(so), &a) != nil || a["user_id"] != alice {
		t.Errorf("access --json = %d %q", code, so)
	}
	if code, _, se := cli("access", "nobody@acme.example"); code == 0 || !strings.Contains(se, "no user") {
		t.Errorf("access of nobody = %d %q", code, se)
	}
}

func TestTokenCreateSuper(t *testing.T) {
	data := filepath.Join(t.TempDir(), "db")
	_, stop := startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	stop()
	var so, se bytes.Buffer
	none := func(string) string { return "" }
	if code := run(context.Background(), []string{"token", "create", "--data", data, "--super", "--name", "ops"}, none, &so, &se); code != 0 || !tokenRe.MatchString(so.String()) {
		t.Fatalf("token create --super = %d %q %q", code, so.String(), se.String())
	}
	if code := run(context.Background(), []string{"token", "create", "--data", data, "--super", "--org", "default"}, none, &so, &se); code != 2 {
		t.Errorf("--super with --org = %d; want 2", code)
	}
}

func TestBenchCommand(t *testing.T) {
	out, _ := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "db"), "--listen", "127.0.0.1:0")
	base := urlRe.FindString(out.String())
	token := tokenRe.FindString(out.String())
	var so, se bytes.Buffer
	code := run(context.Background(), []string{"bench", "--url", base, "--token", token, "--workload", "sync",
		"--users", "60", "--groups", "3", "--concurrency", "4", "--members-per-patch", "10"}, func(string) string { return "" }, &so, &se)
	if code != 0 || !strings.Contains(so.String(), "workload sync") || !strings.Contains(so.String(), "errors 0") {
		t.Errorf("bench = %d\n%s\n%s", code, so.String(), se.String())
	}
	if strings.Contains(so.String()+se.String(), token) {
		t.Errorf("bench printed the token")
	}
}
