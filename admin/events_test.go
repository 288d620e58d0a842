package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func (e *env) scimCreate(userName string) string {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/scim/v2/acme/okta/Users",
		strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`"}`))
	req.Header.Set("Authorization", "Bearer "+e.tokens["scim:acme/okta"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 201 {
		e.t.Fatalf("SCIM create = %d %v", res.StatusCode, body)
	}
	return body["id"].(string)
}

func TestEventsPull(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["admin:acme"]
	// The setup wrote directory.created and token.created events already.
	_, first := e.do("GET", "/admin/v1/orgs/acme/events?after=0&limit=1000", tok, "")
	start := uint64(first["next"].(float64))
	id := e.scimCreate("tess@acme.example")
	_, page := e.do("GET", "/admin/v1/orgs/acme/events?after="+itoa(start)+"&type=user.created", tok, "")
	events := page["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("events = %v", page)
	}
	ev := events[0].(map[string]any)
	actor := ev["actor"].(map[string]any)
	if ev["type"] != "user.created" || ev["resource"].(map[string]any)["id"] != id || actor["type"] != "token" || actor["id"] == "" ||
		ev["org"] != "acme" || ev["directory"] != "okta" || ev["seq"] != float64(start+1) {
		t.Errorf("event = %v", ev)
	}
	if page["next"] != page["last"] {
		t.Errorf("next %v != last %v after reading everything", page["next"], page["last"])
	}
	// Another org sees none of it; its admin cannot read acme's outbox.
	if status, _ := e.do("GET", "/admin/v1/orgs/acme/events", e.tokens["admin:other"], ""); status != 404 {
		t.Errorf("other org's admin reading acme's events = %d", status)
	}
	if _, body := e.do("GET", "/admin/v1/orgs/acme/events?after=999999", tok, ""); errCode(body) != "cursor_ahead" {
		t.Errorf("cursor past the end: %v", body)
	}
	if _, body := e.do("GET", "/admin/v1/orgs/acme/events?after=x", tok, ""); errCode(body) != "invalid_request" {
		t.Errorf("bad cursor: %v", body)
	}
	// Pruned events give a clear error, not a silent gap.
	if _, err := e.st.PruneEvents(context.Background(), "acme", time.Now().Add(time.Hour), start+1); err != nil {
		t.Fatal(err)
	}
	if status, body := e.do("GET", "/admin/v1/orgs/acme/events?after=0", tok, ""); status != 410 || errCode(body) != "cursor_expired" {
		t.Errorf("expired cursor = %d %v", status, body)
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestEventsStream(t *testing.T) {
	e := newEnv(t)
	_, first := e.do("GET", "/admin/v1/orgs/acme/events?after=0&limit=1000", e.tokens["admin:acme"], "")
	start := uint64(first["next"].(float64))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/admin/v1/orgs/acme/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["admin:acme"])
	req.Header.Set("Last-Event-ID", itoa(start))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	lines := bufio.NewScanner(res.Body)
	next := func(prefix string) string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	// Events committed after the stream started arrive, in order, with
	// their seq as the SSE id.
	for i, name := range []string{"a@acme.example", "b@acme.example"} {
		e.scimCreate(name)
		if id := next("id: "); id != itoa(start+uint64(i)+1) {
			t.Errorf("event id = %s; want %d", id, start+uint64(i)+1)
		}
		var ev store.Event
		if err := json.Unmarshal([]byte(next("data: ")), &ev); err != nil || ev.Type != store.EventUserCreated {
			t.Errorf("event = %+v, %v", ev, err)
		}
	}
}

func TestEventsStreamEndsWhenTokenRevoked(t *testing.T) {
	e := newEnv(t)
	secret := e.token(store.TokenAdmin, "acme", "", time.Time{})
	tok, err := e.st.TokenByHash(context.Background(), store.HashToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	_, first := e.do("GET", "/admin/v1/orgs/acme/events?after=0&limit=1000", secret, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/admin/v1/orgs/acme/events/stream?after="+itoa(uint64(first["next"].(float64))), nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := e.st.DeleteToken(context.Background(), tok.ID); err != nil {
		t.Fatal(err)
	}
	e.scimCreate("after-revocation@acme.example")
	rest, _ := io.ReadAll(res.Body) // the stream must end by itself
	if strings.Contains(string(rest), "after-revocation") {
		t.Errorf("a revoked token's stream delivered an event written after the revocation:\n%s", rest)
	}
	if !strings.Contains(string(rest), "event: end") {
		t.Errorf("stream ended without saying so:\n%s", rest)
	}
}

func TestAdminBodyTrailingData(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`{"name":"x"}}`, `{"name":"x"}]`, `{"name":"x"} 1`} {
		if status, got := e.do("POST", "/admin/v1/orgs/acme/directories", e.tokens["admin:acme"], body); status != 400 || errCode(got) != "invalid_request" {
			t.Errorf("POST %s = %d %v; want 400 invalid_request", body, status, got)
		}
	}
}
