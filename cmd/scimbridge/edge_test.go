package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hcall sends a request with a bearer token and extra headers (name,
// value pairs); it returns the status, the headers and the body.
func hcall(t *testing.T, method, url, token, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// events lists the types of org default's events (as the super token
// sees them), with their data.
func eventsOf(t *testing.T, root, token string) []map[string]any {
	t.Helper()
	status, _, body := hcall(t, "GET", root+"/admin/v1/orgs/default/events?limit=1000", token, "")
	if status != http.StatusOK {
		t.Fatalf("GET events = %d %s", status, body)
	}
	var page struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func countEvents(evs []map[string]any, typ, reason string) int {
	n := 0
	for _, e := range evs {
		if e["type"] != typ {
			continue
		}
		if d, _ := e["data"].(map[string]any); reason == "" || (d != nil && d["reason"] == reason) {
			n++
		}
	}
	return n
}

func TestEdgeRateLimitAllowlistsAuditMetrics(t *testing.T) {
	settingsTTL = 0
	t.Cleanup(func() { settingsTTL = 2e9 })
	out, _ := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "db"), "--listen", "127.0.0.1:0",
		"--rate=5", "--burst=5", "--trusted-proxies=127.0.0.1/32")
	banner := out.String()
	base := urlRe.FindString(banner)
	tokens := tokenRe.FindAllString(banner, -1)
	scimTok, adminTok, superTok := tokens[0], tokens[1], tokens[2]
	root := strings.TrimSuffix(base, "/scim/v2/default/default")

	// Rate limit: the burst passes, the next gets 429 with Retry-After
	// and a SCIM error; another token is not affected.
	for i := range 5 {
		if status, _, body := hcall(t, "GET", base+"/Users", scimTok, ""); status != http.StatusOK {
			t.Fatalf("request %d = %d %s", i, status, body)
		}
	}
	status, hdr, body := hcall(t, "GET", base+"/Users", scimTok, "")
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(body, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Fatalf("6th request = %d, Retry-After %q, %s; want 429 with a SCIM error", status, hdr.Get("Retry-After"), body)
	}
	if status, _, _ := hcall(t, "GET", root+"/admin/v1/orgs/default/directories", adminTok, ""); status != http.StatusOK {
		t.Fatalf("admin token after the SCIM token was limited = %d", status)
	}

	// A directory's own rate replaces the default.
	if status, _, body := hcall(t, "PATCH", root+"/admin/v1/orgs/default/directories/default/settings", adminTok, `{"rate_limit": 1000, "rate_burst": 1000}`); status != http.StatusOK {
		t.Fatalf("PATCH directory settings = %d %s", status, body)
	}
	if status, _, _ := hcall(t, "GET", base+"/Users", scimTok, ""); status != http.StatusOK {
		t.Fatalf("after raising the directory's rate = %d", status)
	}

	// Allowlist of the directory: loopback is outside 10.0.0.0/8; behind
	// the trusted proxy (loopback here), X-Forwarded-For decides.
	if status, _, body := hcall(t, "PATCH", root+"/admin/v1/orgs/default/directories/default/settings", adminTok, `{"allow_cidrs": ["10.0.0.0/8", "2001:db8::/32"]}`); status != http.StatusOK {
		t.Fatalf("PATCH allow_cidrs = %d %s", status, body)
	}
	if status, _, body := hcall(t, "GET", base+"/Users", scimTok, ""); status != http.StatusForbidden || !strings.Contains(body, `"status":"403"`) {
		t.Fatalf("from outside the allowlist = %d %s; want 403", status, body)
	}
	if status, _, _ := hcall(t, "GET", base+"/Users", scimTok, "", "X-Forwarded-For", "10.1.2.3"); status != http.StatusOK {
		t.Fatalf("from 10.1.2.3 via the proxy = %d; want 200", status)
	}
	if status, _, _ := hcall(t, "GET", base+"/Users", scimTok, "", "X-Forwarded-For", "10.1.2.3, 192.0.2.7"); status != http.StatusForbidden {
		t.Fatalf("X-Forwarded-For whose last hop is outside = %d; want 403", status)
	}
	if status, _, body := hcall(t, "PATCH", root+"/admin/v1/orgs/default/directories/default/settings", adminTok, `{"allow_cidrs": ["not-a-cidr"]}`); status != http.StatusBadRequest {
		t.Fatalf("PATCH a bad CIDR = %d %s; want 400", status, body)
	}

	// The org's admin allowlist binds its admin tokens, not super tokens.
	if status, _, body := hcall(t, "PATCH", root+"/admin/v1/orgs/default/settings", adminTok, `{"admin_allow_cidrs": ["192.0.2.0/24"]}`); status != http.StatusOK {
		t.Fatalf("PATCH org settings = %d %s", status, body)
	}
	if status, _, _ := hcall(t, "GET", root+"/admin/v1/orgs/default/directories", adminTok, ""); status != http.StatusForbidden {
		t.Fatalf("admin token from outside the org's allowlist = %d; want 403", status)
	}
	if status, _, _ := hcall(t, "GET", root+"/admin/v1/orgs/default/directories", superTok, ""); status != http.StatusOK {
		t.Fatalf("super token from outside the org's allowlist = %d; want 200", status)
	}
	if status, _, _ := hcall(t, "PATCH", root+"/admin/v1/orgs/default/settings", superTok, `{"admin_allow_cidrs": []}`); status != http.StatusOK {
		t.Fatal("super token could not clear the org's allowlist")
	}
	if status, _, _ := hcall(t, "PATCH", root+"/admin/v1/orgs/default/directories/default/settings", superTok, `{"allow_cidrs": []}`); status != http.StatusOK {
		t.Fatal("could not clear the directory's allowlist")
	}

	// Guessing tokens is braked per address; a valid token still works.
	for range maxBadAuth {
		hcall(t, "GET", base+"/Users", "scb_guess", "")
	}
	if status, hdr, _ := hcall(t, "GET", base+"/Users", "scb_guess", ""); status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("after %d bad tokens = %d; want 429", maxBadAuth, status)
	}
	if status, _, _ := hcall(t, "GET", base+"/Users", scimTok, ""); status != http.StatusOK {
		t.Fatalf("a valid token from a braked address = %d; want 200", status)
	}

	// Audit: refusals (once a minute per kind and address) and admin
	// actions are events of the org.
	evs := eventsOf(t, root, superTok)
	// ip_refused: SCIM from loopback, SCIM from 192.0.2.7, admin from loopback.
	for reason, want := range map[string]int{"rate_limited": 1, "ip_refused": 3, "bad_token": 1} {
		if got := countEvents(evs, "admin.request_refused", reason); got != want {
			t.Errorf("%d admin.request_refused events with reason %s; want %d", got, reason, want)
		}
	}
	if got := countEvents(evs, "admin.action", ""); got < 5 {
		t.Errorf("%d admin.action events; want one per successful admin write (5)", got)
	}
	for _, e := range evs {
		raw, _ := json.Marshal(e)
		for _, secret := range []string{scimTok, adminTok, superTok} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("event %v carries a token", e["type"])
			}
		}
	}

	// Metrics: loopback may read them; routes are patterns, not ids.
	status, _, metricsBody := hcall(t, "GET", root+"/metrics", "", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics = %d", status)
	}
	for _, want := range []string{
		`scimbridge_http_requests_total{method="GET",route="/scim/v2/{org}/{directory}/Users",status="200",surface="scim"}`,
		`scimbridge_rate_limited_total{directory="default/default",surface="scim"}`,
		`scimbridge_requests_refused_total{reason="ip_refused",surface="scim"}`,
		`scimbridge_requests_refused_total{reason="bad_token",surface="scim"}`,
		`scimbridge_store_transaction_seconds_bucket{kind="write"`,
		`scimbridge_outbox_last_seq{org="default"}`,
		`route="/admin/v1/orgs/{org}/directories/{dir}/settings"`,
	} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metricsBody, scimTok) {
		t.Fatal("/metrics carries a token")
	}
	if status, _, _ := hcall(t, "GET", root+"/readyz", "", ""); status != http.StatusOK {
		t.Fatalf("/readyz = %d", status)
	}
}

// A stop finishes in-flight requests and ends open event streams, so the
// server exits cleanly instead of waiting out the shutdown timeout.
func TestGracefulShutdownEndsEventStreams(t *testing.T) {
	out, stop := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "db"), "--listen", "127.0.0.1:0", "--shutdown-timeout=20s")
	tokens := tokenRe.FindAllString(out.String(), -1)
	root := strings.TrimSuffix(urlRe.FindString(out.String()), "/scim/v2/default/default")
	req, _ := http.NewRequest("GET", root+"/admin/v1/orgs/default/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream = %d", resp.StatusCode)
	}
	body := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	start := time.Now()
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("stop took %v with a stream open", d)
	}
	select {
	case b := <-body:
		if !strings.Contains(b, "event: end") {
			t.Fatalf("stream ended without an end event: %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}

// Requests to orgs and directories that do not exist never become metric
// labels or audit keys, and spelling a token differently does not buy a
// fresh rate-limit bucket.
func TestEdgeUnknownNamesAndTokenSpelling(t *testing.T) {
	out, _ := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "db"), "--listen", "127.0.0.1:0", "--rate=1", "--burst=3")
	tokens := tokenRe.FindAllString(out.String(), -1)
	base := urlRe.FindString(out.String())
	root := strings.TrimSuffix(base, "/scim/v2/default/default")
	for i := range 20 {
		hcall(t, "GET", root+"/scim/v2/junk"+strconv.Itoa(i)+"/x"+strconv.Itoa(i)+"/Users", "scb_junk", "")
		hcall(t, "GET", root+"/admin/v1/orgs/junk"+strconv.Itoa(i)+"/directories", "scb_junk", "")
	}
	_, _, metricsBody := hcall(t, "GET", root+"/metrics", "", "")
	if strings.Contains(metricsBody, "junk") {
		t.Fatal("/metrics carries names from unauthenticated paths")
	}
	limited := 0
	for i := range 10 {
		status, _, _ := hcall(t, "GET", base+"/Users", "", "", "Authorization", "Bearer"+strings.Repeat(" ", i+1)+tokens[0])
		if status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 6 {
		t.Fatalf("%d of 10 requests limited with the token spelled ten ways at burst 3; want at least 6", limited)
	}
}
