package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

const (
	userURN  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	entURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	errURN   = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// env is a real scimbridge SCIM server on loopback over a real bbolt file.
type env struct {
	t     testing.TB
	st    store.Store
	srv   *httptest.Server
	token string // SCIM token of acme/okta
	base  string // SCIM base URL of acme/okta
	// tokens by "org/dir"
	tokens map[string]string
}

func newEnv(t testing.TB, cfg scim.Config) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scimbridge.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	e := &env{t: t, st: st, tokens: map[string]string{}}
	for _, d := range []store.Directory{
		{Org: "acme", Name: "okta", Profile: "okta"},
		{Org: "acme", Name: "entra", Profile: "entra"},
		{Org: "other", Name: "main", Profile: "generic"},
	} {
		if _, err := st.CreateOrg(ctx, d.Org); err != nil && !strings.Contains(err.Error(), "already") {
			if _, err2 := st.Directories(ctx, d.Org); err2 != nil {
				t.Fatalf("CreateOrg(%s): %v", d.Org, err)
			}
		}
		if _, err := st.CreateDirectory(ctx, d); err != nil {
			t.Fatalf("CreateDirectory(%v): %v", d, err)
		}
		e.tokens[d.Org+"/"+d.Name] = e.newToken(store.TokenSCIM, d.Org, d.Name, time.Time{})
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	if _, bench := t.(*testing.B); bench {
		log = zerolog.Nop() // a log line per request would be the benchmark
	}
	e.srv = httptest.NewServer(reqlog.Wrap(log, scim.New(st, cfg), scim.WritePanic))
	t.Cleanup(e.srv.Close)
	e.token = e.tokens["acme/okta"]
	e.base = e.srv.URL + "/scim/v2/acme/okta"
	return e
}

func (e *env) newToken(kind store.TokenKind, org, dir string, expires time.Time) string {
	e.t.Helper()
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := store.NewID()
	if err := e.st.CreateToken(context.Background(), store.Token{
		ID: id, Kind: kind, Org: org, Directory: dir, Name: "test", Prefix: prefix, Hash: hash,
		Created: time.Now().UTC(), Expires: expires,
	}); err != nil {
		e.t.Fatalf("CreateToken: %v", err)
	}
	return secret
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// req sends a request to the acme/okta directory. path is relative to the
// SCIM base URL unless it starts with "http". body may be a string (sent
// as is), []byte, or any value (JSON-encoded). hdr are header name/value
// pairs; "Authorization" overrides the default token.
func (e *env) req(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.base + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			r.Header.Del(hdr[i])
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// must checks the status and returns the response.
func (e *env) must(status int, r resp) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status = %d; want %d\n%s", r.status, status, r.raw)
	}
	return r
}

// wantError checks a SCIM error response: status, scimType, the error
// schema, status as a string, and a detail.
func (e *env) wantError(r resp, status int, scimType string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status = %d; want %d\n%s", r.status, status, r.raw)
	}
	if got := r.str("scimType"); got != scimType {
		e.t.Errorf("scimType = %q; want %q (%s)", got, scimType, r.raw)
	}
	if got := r.str("status"); got != strconv.Itoa(status) {
		e.t.Errorf("error status = %v; want the string %q", r.body["status"], strconv.Itoa(status))
	}
	if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != errURN {
		e.t.Errorf("error schemas = %v; want [%s]", r.body["schemas"], errURN)
	}
	if status != http.StatusInternalServerError && r.str("detail") == "" {
		e.t.Errorf("error without detail: %s", r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		e.t.Errorf("Content-Type = %q; want application/scim+json", ct)
	}
}

func user(userName string, extra ...map[string]any) map[string]any {
	u := map[string]any{
		"schemas":  []string{userURN},
		"userName": userName,
		"name":     map[string]any{"givenName": "Given", "familyName": "Family"},
		"emails":   []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"active":   true,
	}
	for _, x := range extra {
		for k, v := range x {
			u[k] = v
		}
	}
	return u
}

func (e *env) createUser(userName string, extra ...map[string]any) resp {
	e.t.Helper()
	return e.must(http.StatusCreated, e.req("POST", "/Users", user(userName, extra...)))
}

func (e *env) createGroup(name string, members ...string) resp {
	e.t.Helper()
	var ms []any
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	body := map[string]any{"schemas": []string{groupURN}, "displayName": name}
	if ms != nil {
		body["members"] = ms
	}
	return e.must(http.StatusCreated, e.req("POST", "/Groups", body))
}

func patchOps(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchURN}, "Operations": list}
}

func op(o, path string, value any) map[string]any {
	m := map[string]any{"op": o}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

// ids returns the ids of a ListResponse's Resources, in order.
func ids(r resp) []string {
	var out []string
	list, _ := r.body["Resources"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["id"].(string)
		out = append(out, id)
	}
	return out
}

// userCount is the number of users of acme/okta, read from the store.
func (e *env) userCount() int {
	e.t.Helper()
	p, err := e.st.ListUsers(context.Background(), store.DirKey{Org: "acme", Directory: "okta"}, store.Query{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Total
}

// snapshot is the JSON of a resource read back, to prove a refused
// request changed nothing.
func (e *env) snapshot(path string) string {
	e.t.Helper()
	r := e.must(http.StatusOK, e.req("GET", path, nil))
	return string(r.raw)
}
