package conformance

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// replayDir holds the corpus: one folder per IdP profile, one file per
// sequence.
const replayDir = "testdata/replay"

// replayPending lists the sequences (by path under testdata/replay) that
// our server does not pass yet, with the reason. A pending sequence is
// still replayed: while it fails the test is skipped with the reason and
// the difference; once it passes the test fails until the entry is
// removed, so that the list cannot go stale.
var replayPending = map[string]string{}

// replayServer starts a fresh scimbridge over a new bbolt file in
// t.TempDir(), with one directory of the given profile and a SCIM token
// for it, served over loopback, and returns the directory's target.
func replayServer(t *testing.T, profile string) ReplayTarget {
	t.Helper()
	st, handler := replayHandler(t, profile)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return ReplayTarget{
		BaseURL: srv.URL + scim.PathPrefix + "replay/" + profile,
		Token:   replayToken(t, st, profile),
		Client:  srv.Client(),
	}
}

// replayInProcess is replayServer without the network: requests go to the
// handler directly.
func replayInProcess(t *testing.T, profile string) ReplayTarget {
	t.Helper()
	st, handler := replayHandler(t, profile)
	return ReplayTarget{
		BaseURL: "http://scimbridge.test" + scim.PathPrefix + "replay/" + profile,
		Token:   replayToken(t, st, profile),
		Handler: handler,
	}
}

func replayHandler(t *testing.T, profile string) (store.Store, http.Handler) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scimbridge.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.CreateOrg(ctx, "replay"); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	if _, err := st.CreateDirectory(ctx, store.Directory{Org: "replay", Name: profile, Profile: profile}); err != nil {
		t.Fatalf("CreateDirectory: %v", err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	return st, reqlog.Wrap(log, scim.New(st, scim.Config{}), scim.WritePanic)
}

func replayToken(t *testing.T, st store.Store, dir string) string {
	t.Helper()
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, err := store.NewID()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(context.Background(), store.Token{
		ID: id, Kind: store.TokenSCIM, Org: "replay", Directory: dir, Name: "replay",
		Prefix: prefix, Hash: hash, Created: time.Now().UTC(),
	}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return secret
}

// replayFiles lists the corpus, as paths relative to replayDir.
func replayFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(replayDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			rel, err := filepath.Rel(replayDir, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no sequence under %s", replayDir)
	}
	return files
}

// TestReplay replays every sequence of the corpus against a fresh server
// over loopback.
func TestReplay(t *testing.T) {
	files := replayFiles(t)
	for name := range replayPending {
		if !slices.Contains(files, name) {
			t.Errorf("replayPending names %s, which is not in %s", name, replayDir)
		}
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			seq, err := ReadReplaySequence(filepath.Join(replayDir, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			err = Replay(context.Background(), replayServer(t, seq.Profile), seq)
			reason, pending := replayPending[name]
			switch {
			case pending && err != nil:
				t.Skipf("pending: %s\n%v", reason, err)
			case pending:
				t.Errorf("%s passes now: remove it from replayPending (%s)", name, reason)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

// TestReplayInProcess replays the corpus once more through the handler
// itself (ReplayTarget.Handler), without a listener.
func TestReplayInProcess(t *testing.T) {
	for _, name := range replayFiles(t) {
		if _, pending := replayPending[name]; pending {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(replayDir, filepath.FromSlash(name))
			seq, err := ReadReplaySequence(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := ReplayFile(context.Background(), replayInProcess(t, seq.Profile), path); err != nil {
				t.Error(err)
			}
		})
	}
}

// Lifecycles of the issue that every IdP folder must cover, by folder.
// Okta never deletes users (it deactivates them), so "delete" is not asked
// of it.
var (
	replayLifecycles = []string{
		"test-connection", "create", "update", "rename", "deactivate", "reactivate", "delete",
		"group-create", "member-add", "member-remove", "group-rename", "membership-push",
	}
	replayExtraCovers = []string{"group-delete", "manager", "email-upsert", "address-upsert"}
	replayFolders     = map[string]string{
		"entra-default": "entra",
		"entra-flag":    "entra",
		"okta-oin":      "okta",
		"okta-aiw":      "okta",
		"google":        "google",
	}
)

// TestReplayCorpus checks the corpus itself: every file reads, sits in a
// known IdP folder whose profile it names, each folder covers every
// lifecycle, and the rules of each IdP (as the issue states them) hold for
// every request.
func TestReplayCorpus(t *testing.T) {
	covered := map[string]map[string]bool{}
	for _, name := range replayFiles(t) {
		folder, _, ok := strings.Cut(name, "/")
		profile, known := replayFolders[folder]
		if !ok || !known {
			t.Errorf("%s: not in one of the IdP folders %v", name, replayFolders)
			continue
		}
		seq, err := ReadReplaySequence(filepath.Join(replayDir, filepath.FromSlash(name)))
		if err != nil {
			t.Error(err)
			continue
		}
		if seq.Profile != profile {
			t.Errorf("%s: profile %q; the folder %s is %q", name, seq.Profile, folder, profile)
		}
		if len(seq.Covers) == 0 {
			t.Errorf("%s: \"covers\" is empty", name)
		}
		if covered[folder] == nil {
			covered[folder] = map[string]bool{}
		}
		for _, c := range seq.Covers {
			if !slices.Contains(replayLifecycles, c) && !slices.Contains(replayExtraCovers, c) {
				t.Errorf("%s: covers %q, which is not a known lifecycle", name, c)
			}
			covered[folder][c] = true
		}
		for i, st := range append(slices.Clone(seq.Steps), seq.State...) {
			for _, problem := range replayRuleViolations(profile, st.Request) {
				t.Errorf("%s: request %d (%s %s): %s", name, i+1, st.Request.Method, st.Request.Path, problem)
			}
		}
	}
	for folder, profile := range replayFolders {
		for _, lc := range replayLifecycles {
			if lc == "delete" && profile == "okta" {
				continue
			}
			if !covered[folder][lc] {
				t.Errorf("%s: no sequence covers %q", folder, lc)
			}
		}
	}
}

// replayRuleViolations checks one request against what the IdP is known to
// send (testdata/replay/README.md).
func replayRuleViolations(profile string, rq ReplayRequest) []string {
	var out []string
	users := strings.HasPrefix(rq.Path, "/Users")
	groups := strings.HasPrefix(rq.Path, "/Groups")
	var body map[string]any
	if len(rq.Body) > 0 {
		if err := json.Unmarshal(rq.Body, &body); err != nil {
			return []string{"body is not a JSON object"}
		}
	}
	ops, _ := body["Operations"].([]any)
	switch profile {
	case "okta":
		if users && rq.Method == http.MethodDelete {
			out = append(out, "Okta never sends DELETE /Users (it deactivates)")
		}
	case "google":
		if users && (rq.Method == http.MethodPost || rq.Method == http.MethodPut) {
			if _, ok := body["groups"]; ok {
				out = append(out, "Google sends users without groups")
			}
		}
		if groups && rq.Method == http.MethodPatch {
			if len(ops) > 2 {
				out = append(out, "Google sends at most two operations per group PATCH")
			}
			for _, o := range ops {
				m, _ := o.(map[string]any)
				op, _ := m["op"].(string)
				path, _ := m["path"].(string)
				if strings.EqualFold(op, "remove") && !strings.HasPrefix(path, "members[value eq ") {
					out = append(out, `Google removes members only through members[value eq "…"]`)
				}
			}
		}
	}
	return out
}

// TestReplayCatchesWrongExpectations proves that the runner fails: each
// sequence below is right except for one expectation, and must fail at
// that step with a message that says what differed.
func TestReplayCatchesWrongExpectations(t *testing.T) {
	const create = `{"note": "create", "request": {"method": "POST", "path": "/Users", "body": {
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ana@example.test",
		"emails": [{"type": "work", "value": "ana@example.test"}, {"type": "home", "value": "ana@home.test"}]}},
		"expect": {"status": 201, "capture": {"ana.id": "/id"}}}`
	const group = `{"note": "group", "request": {"method": "POST", "path": "/Groups", "body": {
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g", "members": [{"value": "${ana.id}"}]}},
		"expect": {"status": 201, "capture": {"g.id": "/id"}}}`
	seq := func(state string) string {
		return `{"source": "test", "profile": "generic", "covers": ["create"], "steps": [` + create + `,` + group +
			`], "state": [` + state + `]}`
	}
	get := func(path, expect string) string {
		return `{"note": "check", "request": {"method": "GET", "path": "` + path + `"}, "expect": ` + expect + `}`
	}
	cases := []struct {
		name, file, want string // want: a fragment of the error
	}{
		{"control", seq(get("/Users/${ana.id}", `{"status": 200, "body": {
			"userName": "ana@example.test", "active": true, "id": "${ana.id}", "meta": {"location": "${base}/Users/${ana.id}"},
			"emails": [{"value": "ana@home.test"}, {"type": "work"}], "nickName": {"@absent": true},
			"groups": {"@contains": [{"value": "${g.id}"}]}, "name": {"@absent": true}, "schemas": {"@present": true}},
			"headers": {"Content-Type": "application/scim+json"}}`) + `,` +
			// A loose element listed first must not take the only element a
			// stricter one matches (the set match is a bipartite matching).
			get("/Users/${ana.id}", `{"status": 200, "body": {"emails": [{}, {"type": "work"}]}}`)), ""},
		{"wrong status", seq(get("/Users/${ana.id}", `{"status": 404}`)), "status = 200; want 404"},
		{"wrong value", seq(get("/Users/${ana.id}", `{"status": 200, "body": {"active": false}}`)), "at /active: got true; want false"},
		{"missing key", seq(get("/Users/${ana.id}", `{"status": 200, "body": {"nickName": "ana"}}`)), "at /nickName: missing"},
		{"exact set with a missing element", seq(get("/Users/${ana.id}", `{"status": 200, "body": {
			"emails": [{"value": "ana@example.test"}]}}`)), "got 2 elements"},
		{"exact set with a wrong element", seq(get("/Users/${ana.id}", `{"status": 200, "body": {
			"emails": [{"value": "ana@example.test"}, {"value": "ana@other.test"}]}}`)), "no element left to match"},
		{"set where one loose element would take the strict one's match", seq(get("/Users/${ana.id}", `{"status": 200, "body": {
			"emails": [{"type": "work"}, {"type": "work", "value": "ana@example.test"}]}}`)), "no element left to match"},
		{"contains a missing element", seq(get("/Groups/${g.id}", `{"status": 200, "body": {
			"members": {"@contains": [{"value": "00000000-0000-4000-8000-000000000000"}]}}}`)), "/members: no element left to match"},
		{"absent but present", seq(get("/Groups/${g.id}", `{"status": 200, "body": {"members": {"@absent": true}}}`)), "want it absent"},
		{"present but absent", seq(get("/Users/${ana.id}", `{"status": 200, "body": {"title": {"@present": true}}}`)), "at /title: missing; want a value"},
		{"present but an empty list", seq(get("/Groups?filter=displayName%20eq%20%22nope%22", `{"status": 200, "body": {"Resources": {"@present": true}}}`)), "at /Resources: got []; want a value"},
		{"wrong header", seq(get("/Users/${ana.id}", `{"status": 200, "body": {"id": "${ana.id}"}, "headers": {"Content-Type": "text/json"}}`)), "header Content-Type"},
		{"undefined variable", seq(get("/Users/${bob.id}", `{"status": 200, "body": {"id": "x"}}`)), "undefined variable ${bob.id}"},
		{"capture of nothing", seq(`{"request": {"method": "GET", "path": "/Users/${ana.id}"}, "expect": {"status": 200, "body": {"id": "${ana.id}"}, "capture": {"x": "/nickName"}}}`), `nothing at "/nickName"`},
		{"array where an object is", seq(get("/Users/${ana.id}", `{"status": 200, "body": {"emails": {"value": "ana@example.test"}}}`)), "want an object"},
		{"number", seq(get("/Users?filter=userName%20eq%20%22ANA%40EXAMPLE.TEST%22", `{"status": 200, "body": {"totalResults": 2}}`)), "at /totalResults: got 1; want 2"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			target := replayServer(t, "generic")
			if i%2 == 1 {
				target = replayInProcess(t, "generic")
			}
			err := ReplayFile(context.Background(), target, path)
			if c.want == "" {
				if err != nil {
					t.Fatalf("control sequence failed: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReplayFile(%s) = nil; want an error containing %q", c.name, c.want)
			}
			t.Logf("reported as: %v", err)
			msg := err.Error()
			for _, frag := range []string{path, "state check 1", c.want} {
				if !strings.Contains(msg, frag) {
					t.Errorf("ReplayFile(%s) = %v; want it to contain %q", c.name, err, frag)
				}
			}
		})
	}
}

// TestReadReplaySequenceRefuses checks that a sequence that could pass
// without checking anything is refused when it is read.
func TestReadReplaySequenceRefuses(t *testing.T) {
	step := `{"request": {"method": "GET", "path": "/Users"}, "expect": {"status": 200, "body": {"totalResults": 0}}}`
	cases := map[string]string{
		"unknown key":                `{"source": "s", "profile": "generic", "steps": [` + step + `], "state": [` + step + `], "expected": 1}`,
		"misspelt expect":            `{"source": "s", "profile": "generic", "steps": [{"request": {"method": "GET", "path": "/Users"}, "expected": {"status": 200}}], "state": [` + step + `]}`,
		"no source":                  `{"profile": "generic", "steps": [` + step + `], "state": [` + step + `]}`,
		"unknown profile":            `{"source": "s", "profile": "onelogin", "steps": [` + step + `], "state": [` + step + `]}`,
		"no state checks":            `{"source": "s", "profile": "generic", "steps": [` + step + `]}`,
		"state check that PUTs":      `{"source": "s", "profile": "generic", "steps": [` + step + `], "state": [{"request": {"method": "PUT", "path": "/Users/x"}, "expect": {"status": 200, "body": {}}}]}`,
		"state check without a body": `{"source": "s", "profile": "generic", "steps": [` + step + `], "state": [{"request": {"method": "GET", "path": "/Users"}, "expect": {"status": 200}}]}`,
		"no status":                  `{"source": "s", "profile": "generic", "steps": [{"request": {"method": "GET", "path": "/Users"}, "expect": {}}], "state": [` + step + `]}`,
		"relative path":              `{"source": "s", "profile": "generic", "steps": [{"request": {"method": "GET", "path": "Users"}, "expect": {"status": 200}}], "state": [` + step + `]}`,
		"unknown directive":          `{"source": "s", "profile": "generic", "steps": [{"request": {"method": "GET", "path": "/Users"}, "expect": {"status": 200, "body": {"x": {"@gone": true}}}}], "state": [` + step + `]}`,
		"directive beside a key":     `{"source": "s", "profile": "generic", "steps": [{"request": {"method": "GET", "path": "/Users"}, "expect": {"status": 200, "body": {"@absent": true, "x": 1}}}], "state": [` + step + `]}`,
		"capture that is no pointer": `{"source": "s", "profile": "generic", "steps": [{"request": {"method": "GET", "path": "/Users"}, "expect": {"status": 200, "capture": {"x": "id"}}}], "state": [` + step + `]}`,
	}
	dir := t.TempDir()
	for name, file := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadReplaySequence(path); err == nil {
			t.Errorf("ReadReplaySequence(%s) = nil error; want it refused", name)
		}
	}
}

// TestReplayRuleViolations checks the IdP rules of TestReplayCorpus on
// requests that break them.
func TestReplayRuleViolations(t *testing.T) {
	patch := func(ops string) json.RawMessage {
		return json.RawMessage(`{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [` + ops + `]}`)
	}
	cases := []struct {
		name, profile string
		rq            ReplayRequest
		bad           bool
	}{
		{"okta deletes a user", "okta", ReplayRequest{Method: "DELETE", Path: "/Users/${a.id}"}, true},
		{"okta deletes a group", "okta", ReplayRequest{Method: "DELETE", Path: "/Groups/${g.id}"}, false},
		{"entra deletes a user", "entra", ReplayRequest{Method: "DELETE", Path: "/Users/${a.id}"}, false},
		{"google user with groups", "google", ReplayRequest{Method: "POST", Path: "/Users", Body: json.RawMessage(`{"userName": "a", "groups": []}`)}, true},
		{"google user without groups", "google", ReplayRequest{Method: "POST", Path: "/Users", Body: json.RawMessage(`{"userName": "a"}`)}, false},
		{"google three operations", "google", ReplayRequest{Method: "PATCH", Path: "/Groups/${g.id}", Body: patch(
			`{"op": "add", "path": "members", "value": [{"value": "a"}]}, {"op": "add", "path": "members", "value": [{"value": "b"}]}, {"op": "replace", "path": "displayName", "value": "x"}`)}, true},
		{"google two operations", "google", ReplayRequest{Method: "PATCH", Path: "/Groups/${g.id}", Body: patch(
			`{"op": "remove", "path": "members[value eq \"a\"]"}, {"op": "add", "path": "members", "value": [{"value": "b"}]}`)}, false},
		{"google removal with a value list", "google", ReplayRequest{Method: "PATCH", Path: "/Groups/${g.id}", Body: patch(
			`{"op": "remove", "path": "members", "value": [{"value": "a"}]}`)}, true},
	}
	for _, c := range cases {
		got := replayRuleViolations(c.profile, c.rq)
		if (len(got) > 0) != c.bad {
			t.Errorf("replayRuleViolations(%s) = %q; want a violation: %v", c.name, got, c.bad)
		}
	}
}
