package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTokenCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "db")
	out, stop := startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	banner := out.String()
	base := urlRe.FindString(banner)
	printed := tokenRe.FindAllString(banner, -1)
	if base == "" || len(printed) != 3 {
		t.Fatalf("banner lacks the base URL or the three tokens:\n%s", banner)
	}
	scimToken, adminToken := printed[0], printed[1]
	root := strings.TrimSuffix(base, "/scim/v2/default/default")
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		var so, se bytes.Buffer
		code := run(context.Background(), args, func(string) string { return "" }, &so, &se)
		return code, so.String(), se.String()
	}
	online := func(args ...string) []string {
		return append(args, "--url", root, "--token", adminToken)
	}

	// list: the admin token of org default, then the SCIM token of its directory.
	code, so, se := cli(online("token", "list")...)
	if code != 0 || !strings.Contains(so, "first start") || !strings.Contains(so, "LAST USED") || !strings.Contains(so, adminToken[:10]) {
		t.Fatalf("token list = %d %q %q", code, so, se)
	}
	if strings.Contains(so, adminToken) || strings.Contains(so, scimToken) {
		t.Errorf("token list printed a secret: %q", so)
	}
	if status, _ := get(t, base+"/Users", scimToken); status != http.StatusOK {
		t.Fatalf("SCIM token = %d", status)
	}
	var list struct {
		Tokens []struct {
			ID, Name, Prefix, Token string
			LastUsed                *time.Time `json:"last_used"`
			ReplacedBy              string     `json:"replaced_by"`
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, so, se = cli(online("token", "list", "--directory", "default", "--json")...)
		if code != 0 || json.Unmarshal([]byte(so), &list) != nil || len(list.Tokens) != 1 {
			t.Fatalf("token list --directory default --json = %d %q %q", code, so, se)
		}
		if list.Tokens[0].LastUsed != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SCIM token's last use never showed: %q", so)
		}
		time.Sleep(20 * time.Millisecond)
	}
	scimID := list.Tokens[0].ID
	if list.Tokens[0].Token != "" || !strings.HasPrefix(scimToken, list.Tokens[0].Prefix) {
		t.Errorf("listed SCIM token = %+v", list.Tokens[0])
	}

	// rotate: the new secret alone on stdout; both work during the overlap.
	code, so, se = cli(online("token", "rotate", scimID, "--directory", "default", "--overlap", "1h", "--expires", "90d")...)
	newSCIM := strings.TrimSpace(so)
	if code != 0 || !tokenRe.MatchString(newSCIM) || strings.Count(so, "\n") != 1 || !strings.Contains(se, "keeps working until") {
		t.Fatalf("token rotate = %d %q %q; want the new secret alone on stdout", code, so, se)
	}
	for name, secret := range map[string]string{"old": scimToken, "new": newSCIM} {
		if status, _ := get(t, base+"/Users", secret); status != http.StatusOK {
			t.Errorf("%s SCIM token during the overlap = %d", name, status)
		}
	}
	code, so, _ = cli(online("token", "list", "--directory", "default")...)
	if code != 0 || !strings.Contains(so, "replaced by ") || strings.Count(so, "\n") != 3 {
		t.Errorf("token list after rotate = %d %q; want a header and two tokens, one replaced", code, so)
	}
	if code, _, se := cli(online("token", "rotate", scimID, "--directory", "default")...); code != 1 || !strings.Contains(se, "already_rotated") {
		t.Errorf("rotating twice = %d %q; want 1 already_rotated", code, se)
	}

	// revoke the replacement: it stops at once.
	code, so, _ = cli(online("token", "list", "--directory", "default", "--json")...)
	json.Unmarshal([]byte(so), &list)
	var newID string
	for _, tok := range list.Tokens {
		if tok.ID != scimID {
			newID = tok.ID
		}
	}
	if code, so, se := cli(online("token", "revoke", newID, "--directory", "default")...); code != 0 || !strings.Contains(so, "revoked") {
		t.Errorf("token revoke = %d %q %q", code, so, se)
	}
	if status, _ := get(t, base+"/Users", newSCIM); status != http.StatusUnauthorized {
		t.Errorf("revoked token = %d; want 401", status)
	}
	if code, _, se := cli(online("token", "revoke", newID, "--directory", "default")...); code != 1 || !strings.Contains(se, "not_found") {
		t.Errorf("revoking again = %d %q", code, se)
	}
	// Another org is not there for this token; super routes neither.
	if code, _, se := cli(online("token", "list", "--org", "globex")...); code != 1 || !strings.Contains(se, "not_found") {
		t.Errorf("token list --org globex = %d %q", code, se)
	}
	if code, _, se := cli(online("token", "list", "--super")...); code != 1 || !strings.Contains(se, "super token") {
		t.Errorf("token list --super with an admin token = %d %q", code, se)
	}

	// Usage errors exit 2 before any request.
	for _, args := range [][]string{
		{"token", "rotate"},
		{"token", "revoke", "--directory", "default"},
		{"token", "list", "some-id"},
		{"token", "list", "--super", "--directory", "default"},
		{"token", "list", "--overlap", "1h"},
		{"token", "rotate", "x", "--expires", "soon"},
		{"token", "frob"},
		{"token"},
	} {
		if code, _, _ := cli(online(args...)...); code != 2 {
			t.Errorf("%v = %d; want 2", args, code)
		}
	}
	if code, _, se := cli("token", "list"); code != 2 || !strings.Contains(se, "--url") {
		t.Errorf("token list without --url = %d %q", code, se)
	}

	// Super tokens: made offline, then managed online with themselves.
	stop()
	code, so, se = cli("token", "create", "--data", data, "--super", "--name", "ops")
	super := strings.TrimSpace(so)
	if code != 0 || !tokenRe.MatchString(super) {
		t.Fatalf("token create --super = %d %q %q", code, so, se)
	}
	out, _ = startServe(t, nil, "--data", data, "--listen", "127.0.0.1:0")
	root = strings.TrimSuffix(urlRe.FindString(out.String()), "/scim/v2/default/default")
	asSuper := func(args ...string) []string { return append(args, "--url", root, "--token", super, "--super") }
	code, so, se = cli(asSuper("token", "list", "--json")...)
	// The first start made one super token, the offline command "ops".
	if code != 0 || json.Unmarshal([]byte(so), &list) != nil || len(list.Tokens) != 2 || list.Tokens[1].Name != "ops" {
		t.Fatalf("token list --super = %d %q %q", code, so, se)
	}
	list.Tokens = list.Tokens[1:]
	code, so, se = cli(asSuper("token", "rotate", list.Tokens[0].ID, "--overlap", "0s", "--json")...)
	var rotated struct {
		Token    string
		Replaces struct {
			ID         string
			ReplacedBy string `json:"replaced_by"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(so), &rotated) != nil || !tokenRe.MatchString(rotated.Token) || rotated.Replaces.ReplacedBy == "" {
		t.Fatalf("token rotate --super --json = %d %q %q", code, so, se)
	}
	if code, _, _ := cli(asSuper("token", "list")...); code != 1 {
		t.Errorf("old super token after a 0s overlap = %d; want refused", code)
	}
	super = rotated.Token
	if code, so, se := cli(asSuper("token", "list")...); code != 0 || !strings.Contains(so, "expired") {
		t.Errorf("token list --super with the new super token = %d %q %q", code, so, se)
	}
	// A super token manages any org's tokens.
	if code, so, se := cli("token", "list", "--url", root, "--token", super, "--org", "default"); code != 0 || !strings.Contains(so, "first start") {
		t.Errorf("super token listing org default = %d %q %q", code, so, se)
	}
}
