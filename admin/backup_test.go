package admin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// noBackup hides the store's Backup method.
type noBackup struct{ store.Store }

func TestBackup(t *testing.T) {
	e := newEnv(t)
	e.scimCreate("ada@acme.test")
	e.scimCreate("bob@acme.test")
	mux := http.NewServeMux()
	mux.Handle("GET "+admin.BackupPath, admin.BackupHandler(e.st, admin.Config{}))
	mux.Handle("GET /nobackup", admin.BackupHandler(noBackup{e.st}, admin.Config{}))
	srv := httptest.NewServer(reqlog.Wrap(zerolog.New(zerolog.NewTestWriter(t)), mux, nil))
	defer srv.Close()

	fetch := func(path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, c := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"no token", admin.BackupPath, "", http.StatusUnauthorized, "unauthorized"},
		{"bad token", admin.BackupPath, "scb_nope", http.StatusUnauthorized, "unauthorized"},
		{"org admin", admin.BackupPath, e.tokens["admin:acme"], http.StatusForbidden, "forbidden"},
		{"scim token", admin.BackupPath, e.tokens["scim:acme/okta"], http.StatusUnauthorized, "unauthorized"},
		{"expired admin", admin.BackupPath, e.tokens["expired:acme"], http.StatusUnauthorized, "unauthorized"},
		{"store without backups", "/nobackup", e.tokens["super"], http.StatusNotImplemented, "not_implemented"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := fetch(c.path, c.token)
			defer res.Body.Close()
			var body struct{ Error struct{ Code string } }
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != c.status || body.Error.Code != c.code {
				t.Errorf("GET %s = %d %q; want %d %q", c.path, res.StatusCode, body.Error.Code, c.status, c.code)
			}
		})
	}

	res := fetch(admin.BackupPath, e.tokens["super"])
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/octet-stream" || res.Header.Get("Content-Disposition") == "" {
		t.Fatalf("super token: %d %v", res.StatusCode, res.Header)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), res.Body)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if size := res.Header.Get(admin.HeaderBackupSize); size != strconv.FormatInt(n, 10) {
		t.Errorf("%s = %q; got %d bytes", admin.HeaderBackupSize, size, n)
	}
	if schema := res.Header.Get(admin.HeaderBackupSchema); schema != strconv.Itoa(bolt.SchemaVersion()) {
		t.Errorf("%s = %q; want %d", admin.HeaderBackupSchema, schema, bolt.SchemaVersion())
	}
	if got, want := res.Trailer.Get(admin.TrailerBackupHash), hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("hash trailer = %q; want %q", got, want)
	}
	info, err := bolt.Verify(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Orgs != 2 || info.Directories != 2 || info.Users != 2 || info.Size != n {
		t.Errorf("Verify(backup) = %+v; want 2 orgs, 2 directories, 2 users, %d bytes", info, n)
	}
	db, err := bolt.Open(out, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page, err := db.ListUsers(context.Background(), store.DirKey{Org: "acme", Directory: "okta"}, store.Query{Count: 10})
	if err != nil || page.Total != 2 {
		t.Errorf("users in the backup: %+v, %v", page, err)
	}
}
