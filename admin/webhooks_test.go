package admin_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func (e *env) raw(method, path, token, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestWebhooks(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["admin:acme"]
	base := "/admin/v1/orgs/acme/webhooks"
	_, first := e.do("GET", "/admin/v1/orgs/acme/events?limit=1", tok, "")
	last := first["last"].(float64)

	status, created := e.do("POST", base, tok, `{"url":"https://hooks.example.com/scim","types":["user.created","user.deactivated","user.created"],"directory":"okta"}`)
	if status != 201 {
		t.Fatalf("POST webhooks = %d %v", status, created)
	}
	secret, _ := created["secret"].(string)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(secret, "whsec_") || id == "" || created["state"] != "active" || created["cursor"] != last ||
		created["kind"] != "webhook" || !strings.HasPrefix(secret, created["secret_prefix"].(string)) ||
		len(created["types"].([]any)) != 2 || created["lag"] != float64(0) {
		t.Errorf("created = %v", created)
	}
	// The secret is never shown again.
	for _, path := range []string{base, base + "/" + id} {
		status, body := e.raw("GET", path, tok, "")
		if status != 200 || strings.Contains(body, secret) || strings.Contains(body, `"secret"`) || !strings.Contains(body, id) {
			t.Errorf("GET %s = %d %s; want the webhook without its secret", path, status, body)
		}
	}
	// The store has it, to sign with.
	sub, err := e.st.(store.Subscriptions).Subscription(context.Background(), "acme", id)
	if err != nil || string(sub.Secret) != secret {
		t.Fatalf("stored subscription = %+v, %v", sub, err)
	}

	// Splunk: the token is never echoed.
	status, body := e.raw("POST", base, tok, `{"kind":"splunk","url":"https://splunk.example.com:8088","splunk_token":"hec-0123456789","sourcetype":"scim:events"}`)
	if status != 201 || strings.Contains(body, "hec-0123456789") || strings.Contains(body, `"secret"`) || !strings.Contains(body, `"sourcetype":"scim:events"`) {
		t.Errorf("POST splunk webhook = %d %s", status, body)
	}

	for name, c := range map[string]string{
		"http":              `{"url":"http://hooks.example.com/"}`,
		"metadata address":  `{"url":"https://169.254.169.254/latest"}`,
		"loopback decimal":  `{"url":"https://2130706433/"}`,
		"mapped loopback":   `{"url":"https://[::ffff:127.0.0.1]/"}`,
		"private":           `{"url":"https://10.0.0.8/"}`,
		"localhost":         `{"url":"https://localhost:8443/"}`,
		"file":              `{"url":"file:///etc/passwd"}`,
		"userinfo":          `{"url":"https://a:b@hooks.example.com/"}`,
		"bad type":          `{"url":"https://hooks.example.com/","types":["User Created"]}`,
		"unknown directory": `{"url":"https://hooks.example.com/","directory":"nope"}`,
		"bad kind":          `{"url":"https://hooks.example.com/","kind":"email"}`,
		"splunk no token":   `{"url":"https://splunk.example.com/","kind":"splunk"}`,
		"token on webhook":  `{"url":"https://hooks.example.com/","splunk_token":"x"}`,
		"unknown field":     `{"url":"https://hooks.example.com/","secret":"mine"}`,
	} {
		if status, body := e.do("POST", base, tok, c); status != 400 || errCode(body) != "invalid_request" {
			t.Errorf("%s: POST = %d %v; want 400 invalid_request", name, status, body)
		}
	}

	// Tenancy: another org's admin sees nothing of it.
	other := e.tokens["admin:other"]
	for _, c := range []struct{ method, path, body string }{
		{"GET", base, ""}, {"GET", base + "/" + id, ""}, {"DELETE", base + "/" + id, ""},
		{"POST", base + "/" + id + "/replay", `{"from_seq":1}`},
	} {
		if status, _ := e.do(c.method, c.path, other, c.body); status != 404 {
			t.Errorf("other org's admin: %s %s = %d; want 404", c.method, c.path, status)
		}
	}
	if status, _ := e.do("GET", "/admin/v1/orgs/other/webhooks/"+id, other, ""); status != 404 {
		t.Errorf("GET acme's webhook under org other = %d; want 404", status)
	}

	// Lag grows with events; replay moves the cursor back.
	e.scimCreate("lag@acme.example")
	_, got := e.do("GET", base+"/"+id, tok, "")
	if got["lag"] != float64(1) {
		t.Errorf("lag after one event = %v; want 1", got["lag"])
	}
	if status, got := e.do("POST", base+"/"+id+"/replay", tok, `{"from_seq":2}`); status != 200 || got["cursor"] != float64(1) || got["state"] != "active" {
		t.Errorf("replay from 2 = %d %v", status, got)
	}
	for body, code := range map[string]string{`{"from_seq":0}`: "invalid_request", `{}`: "invalid_request", `{"from_seq":99999}`: "invalid_request"} {
		if _, got := e.do("POST", base+"/"+id+"/replay", tok, body); errCode(got) != code {
			t.Errorf("replay %s = %v; want %s", body, got, code)
		}
	}
	if _, err := e.st.PruneEvents(context.Background(), "acme", time.Now().Add(time.Hour), 2); err != nil {
		t.Fatal(err)
	}
	if status, got := e.do("POST", base+"/"+id+"/replay", tok, `{"from_seq":1}`); status != 410 || errCode(got) != "cursor_expired" {
		t.Errorf("replay from a pruned seq = %d %v; want 410 cursor_expired", status, got)
	}

	// Resume clears a failing state.
	if _, err := e.st.(store.Subscriptions).UpdateSubscription(context.Background(), "acme", id, func(s *store.Subscription) error {
		s.State, s.Failures, s.LastError, s.NextAttempt = store.SubscriptionPaused, 40, "HTTP 500", time.Now().Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, got = e.do("GET", base+"/"+id, tok, "")
	if got["state"] != "paused" || got["failures"] != float64(40) || got["last_error"] != "HTTP 500" {
		t.Errorf("paused webhook = %v", got)
	}
	if status, got := e.do("POST", base+"/"+id+"/resume", tok, ""); status != 200 || got["state"] != "active" || got["failures"] != float64(0) || got["next_attempt"] != nil {
		t.Errorf("resume = %d %v", status, got)
	}

	if status, _ := e.do("DELETE", base+"/"+id, tok, ""); status != 204 {
		t.Errorf("DELETE = %d", status)
	}
	if status, _ := e.do("GET", base+"/"+id, tok, ""); status != 404 {
		t.Errorf("GET deleted = %d", status)
	}
}

func TestWebhookLimit(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["admin:acme"]
	for i := range 20 {
		if status, body := e.do("POST", "/admin/v1/orgs/acme/webhooks", tok, `{"url":"https://hooks.example.com/`+string(rune('a'+i))+`"}`); status != 201 {
			t.Fatalf("webhook %d = %d %v", i, status, body)
		}
	}
	if status, body := e.do("POST", "/admin/v1/orgs/acme/webhooks", tok, `{"url":"https://hooks.example.com/x"}`); status != 409 || errCode(body) != "limit_reached" {
		t.Errorf("21st webhook = %d %v; want 409 limit_reached", status, body)
	}
}
