package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

type command func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// call runs a command function as run does, and returns its exit status
// and output. (The dispatch in run.go reaches the same functions.)
func call(fn command, args ...string) (code int, stdout, stderr string) {
	var so, se bytes.Buffer
	err := fn(context.Background(), args, func(string) string { return "" }, &so, &se)
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
		se.WriteString(ee.msg)
	default:
		code = 1
		se.WriteString(err.Error())
	}
	return code, so.String(), se.String()
}

func scimPost(t *testing.T, base, token, userName string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("POST /Users %s = %d", userName, res.StatusCode)
	}
}

// userNames lists the users of a SCIM base URL.
func userNames(t *testing.T, base, token string) []string {
	t.Helper()
	status, body := get(t, base+"/Users?count=1000", token)
	if status != http.StatusOK {
		t.Fatalf("GET /Users = %d %v", status, body)
	}
	var names []string
	for _, r := range body["Resources"].([]any) {
		names = append(names, r.(map[string]any)["userName"].(string))
	}
	sort.Strings(names)
	return names
}

func TestBackupRestoreCompact(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "scimbridge.db")
	out, stop := startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	base := urlRe.FindString(out.String())
	tokens := tokenRe.FindAllString(out.String(), -1)
	scimToken, adminToken := tokens[0], tokens[1]
	for i := range 20 {
		scimPost(t, base, scimToken, fmt.Sprintf("user%02d@example.com", i))
	}
	want := userNames(t, base, scimToken)

	// Offline backup while the server runs: refused, with the way out.
	code, _, stderr := call(backupCommand, "--data", data, "--out", filepath.Join(tmp, "refused.db"))
	if code == 0 || !strings.Contains(stderr, "in use by a running scimbridge server") || !strings.Contains(stderr, "--url") {
		t.Errorf("offline backup of a served file = %d %q", code, stderr)
	}
	stop()

	// A super token, made offline.
	st, err := openStore(data)
	if err != nil {
		t.Fatal(err)
	}
	superToken, err := newToken(context.Background(), st, store.TokenSuper, "", "", "backups", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Offline backup, restore into a new path, serve it with the old tokens.
	offline := filepath.Join(tmp, "offline.db")
	code, stdout, stderr := call(backupCommand, "--data", data, "--out", offline)
	if code != 0 || !strings.Contains(stdout, "20 users") || !strings.Contains(stdout, "verified") {
		t.Fatalf("offline backup = %d %q %q", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	if code, _, stderr := call(backupCommand, "--data", data, "--out", offline); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Errorf("backup onto an existing file = %d %q", code, stderr)
	}
	restored := filepath.Join(tmp, "restored.db")
	code, stdout, stderr = call(restoreCommand, "--in", offline, "--data", restored)
	if code != 0 || !strings.Contains(stdout, "1 orgs") || !strings.Contains(stdout, "20 users") {
		t.Fatalf("restore = %d %q %q", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	out, stopRestored := startServe(t, nil, "--data", restored, "--listen", "127.0.0.1:0")
	rbase := urlRe.FindString(out.String())
	if got := userNames(t, rbase, scimToken); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("restored server serves %v; want %v", got, want)
	}
	// Restore over a served file is refused even with --force.
	if code, _, stderr := call(restoreCommand, "--in", offline, "--data", restored, "--force"); code == 0 || !strings.Contains(stderr, "in use") {
		t.Errorf("restore --force over a served file = %d %q", code, stderr)
	}
	stopRestored()
	if code, _, stderr := call(restoreCommand, "--in", offline, "--data", restored); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Errorf("restore over an existing file = %d %q", code, stderr)
	}
	if code, stdout, stderr := call(restoreCommand, "--in", offline, "--data", restored, "--force"); code != 0 {
		t.Errorf("restore --force = %d %q %q", code, stdout, stderr)
	}
	raw, _ := os.ReadFile(offline)
	corrupt := filepath.Join(tmp, "corrupt.db")
	os.WriteFile(corrupt, raw[:len(raw)-4096], 0o600)
	if code, _, stderr := call(restoreCommand, "--in", corrupt, "--data", filepath.Join(tmp, "r2.db")); code == 0 || !strings.Contains(stderr, "not a usable backup") {
		t.Errorf("restore of a corrupt backup = %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(tmp, "r2.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore created the file: %v", err)
	}

	// Online backup while the server takes writes.
	out, stop = startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	base = urlRe.FindString(out.String())
	server := strings.TrimSuffix(base, "/scim/v2/default/default")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 30 {
			scimPost(t, base, scimToken, fmt.Sprintf("during%02d@example.com", i))
		}
	}()
	if !backupRouted() {
		t.Log("admin.New does not route " + admin.BackupPath + " yet: online backup not tested")
	} else {
		online := filepath.Join(tmp, "online.db")
		code, stdout, stderr = call(backupCommand, "--url", server, "--token", superToken, "--out", online)
		if code != 0 || !strings.Contains(stdout, "verified") {
			t.Fatalf("online backup = %d %q %q", code, stdout, stderr)
		}
		t.Log(strings.TrimSpace(stdout))
		info, err := bolt.Verify(online)
		if err != nil || info.Users < 20 || info.Users > 50 {
			t.Errorf("Verify(online backup) = %+v, %v", info, err)
		}
		if code, _, stderr := call(backupCommand, "--url", server, "--token", adminToken, "--out", filepath.Join(tmp, "admin.db")); code == 0 || !strings.Contains(stderr, "super token") {
			t.Errorf("online backup with an org admin token = %d %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(tmp, "admin.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused backup created the file: %v", err)
		}
	}
	wg.Wait()
	want = userNames(t, base, scimToken)
	if code, _, stderr := call(compactCommand, "--data", data); code == 0 || !strings.Contains(stderr, "in use") {
		t.Errorf("compact of a served file = %d %q", code, stderr)
	}
	stop()

	// Compact; the server starts on the result.
	code, stdout, stderr = call(compactCommand, "--data", data)
	if code != 0 || !strings.Contains(stdout, "compacted") || !strings.Contains(stdout, " to ") || !strings.Contains(stdout, data+".bak") {
		t.Fatalf("compact = %d %q %q", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	if code, _, stderr := call(compactCommand, "--data", data); code == 0 || !strings.Contains(stderr, ".bak exists") {
		t.Errorf("second compact with the .bak in place = %d %q", code, stderr)
	}
	out, _ = startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	base = urlRe.FindString(out.String())
	if got := userNames(t, base, scimToken); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("compacted server serves %d users; want %d", len(got), len(want))
	}
	scimPost(t, base, scimToken, "after-compact@example.com")
}

// backupRouted reports whether admin.New serves admin.BackupPath (an
// unauthenticated GET gets 401 there, and 404 where nothing is routed).
func backupRouted() bool {
	rec := httptest.NewRecorder()
	admin.New(nil, admin.Config{}).ServeHTTP(rec, httptest.NewRequest("GET", admin.BackupPath, nil))
	return rec.Code == http.StatusUnauthorized
}

func TestBackupUsage(t *testing.T) {
	for _, c := range []struct {
		fn   command
		args []string
	}{
		{backupCommand, nil},
		{backupCommand, []string{"--out", "x.db"}},
		{backupCommand, []string{"--out", "x.db", "--data", "a.db", "--url", "http://x"}},
		{backupCommand, []string{"--out", "x.db", "--url", "http://x"}},
		{restoreCommand, []string{"--data", "x.db"}},
		{compactCommand, []string{"extra"}},
	} {
		if code, _, _ := call(c.fn, c.args...); code != 2 {
			t.Errorf("%v: exit %d; want 2", c.args, code)
		}
	}
}
