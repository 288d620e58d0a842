package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

const tokensUsage = `usage: scimbridge token list|rotate|revoke [ID] --url URL --token TOKEN [--org ORG] [--directory DIR | --super] [--overlap 24h] [--expires 90d|never] [--json]

  list     the tokens of a scope: name, prefix, created, last used, expiry
  rotate   replace token ID; prints the new secret (shown once) on stdout; the old one keeps working for --overlap
  revoke   token ID stops working at once

  scope: the org's admin tokens (default), --directory DIR for its SCIM tokens, --super for the super tokens (needs a super token)`

// tokenJSON is a token as the admin API lists it.
type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Directory  string     `json:"directory"`
	Created    time.Time  `json:"created"`
	LastUsed   *time.Time `json:"last_used"`
	Expires    *time.Time `json:"expires"`
	ReplacedBy string     `json:"replaced_by"`
	Token      string     `json:"token"`
}

// tokensCommand runs "scimbridge token list|rotate|revoke" against a
// running server's admin API.
func tokensCommand(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, tok, org, asJSON := adminFlags(fs)
	dir := fs.String("directory", "", "the SCIM tokens of this directory (default: the org's admin tokens)")
	super := fs.Bool("super", false, "the super tokens (--token must be a super token)")
	overlap := fs.String("overlap", "", "rotate: how long the old token keeps working, like 24h or 7d (default 24h, at most 30d; 0s ends it at once)")
	expires := fs.String("expires", "", "rotate: lifetime of the new token, like 90d, or never (default: the old token's lifetime)")
	// Accept ID before or after the flags.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	switch {
	case fs.NArg() > 1 || (id != "" && fs.NArg() == 1 && fs.Arg(0) != id):
		return &exitError{code: 2, msg: tokensUsage}
	case sub == "list" && id != "":
		return &exitError{code: 2, msg: "token list takes no ID\n\n" + tokensUsage}
	case sub != "list" && id == "":
		return &exitError{code: 2, msg: "token " + sub + " needs the token ID (see token list)\n\n" + tokensUsage}
	case *super && *dir != "":
		return &exitError{code: 2, msg: "token " + sub + ": give --directory or --super, not both"}
	case sub != "rotate" && (*overlap != "" || *expires != ""):
		return &exitError{code: 2, msg: "token " + sub + ": --overlap and --expires are for rotate"}
	}
	body := map[string]string{}
	if *overlap != "" {
		body["overlap"] = *overlap
	}
	switch *expires {
	case "":
	case "never":
		body["expires"] = "never"
	default:
		d, err := parseExpiry(*expires)
		if err != nil {
			return &exitError{code: 2, msg: "token rotate: " + err.Error()}
		}
		body["expires"] = time.Now().Add(d).UTC().Format(time.RFC3339)
	}
	c, err := newAdminClient(*u, *tok, *org, getenv)
	if err != nil {
		return err
	}
	path := "/admin/v1/orgs/" + url.PathEscape(*org) + "/tokens"
	switch {
	case *super:
		path = "/admin/v1/super/tokens"
	case *dir != "":
		path = "/admin/v1/orgs/" + url.PathEscape(*org) + "/directories/" + url.PathEscape(*dir) + "/tokens"
	}
	hint := func(err error) error {
		var ee *exitError
		if errors.As(err, &ee) && *super && strings.HasPrefix(ee.msg, "not_found (404)") {
			ee.msg += " (is --token a super token?)"
		}
		return err
	}

	switch sub {
	case "list":
		raw, err := c.call(ctx, http.StatusOK, "GET", path, nil)
		if err != nil {
			return hint(err)
		}
		if *asJSON {
			stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return nil
		}
		var list struct {
			Tokens []tokenJSON `json:"tokens"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		printTokens(stdout, list.Tokens, time.Now())
		return nil
	case "rotate":
		in, _ := json.Marshal(body)
		raw, err := c.call(ctx, http.StatusCreated, "POST", path+"/"+url.PathEscape(id)+"/rotate", in)
		if err != nil {
			return hint(err)
		}
		if *asJSON {
			stdout.Write(append(bytes.TrimSpace(raw), '\n'))
			return nil
		}
		var out struct {
			tokenJSON
			Replaces tokenJSON `json:"replaces"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.Token == "" {
			return fmt.Errorf("token rotate: unexpected answer: %v", err)
		}
		// The secret alone on stdout, for scripts; the rest on stderr.
		fmt.Fprintln(stdout, out.Token)
		until := "at once"
		if out.Replaces.Expires != nil {
			until = "until " + out.Replaces.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stderr, "token %s rotated: the new token is %s (%s…, expires %s), shown once above; the old one keeps working %s\n",
			out.Replaces.ID, out.ID, out.Prefix, when(out.Expires, "never"), until)
		return nil
	default: // revoke
		if _, err := c.call(ctx, http.StatusNoContent, "DELETE", path+"/"+url.PathEscape(id), nil); err != nil {
			return hint(err)
		}
		fmt.Fprintf(stdout, "token %s revoked\n", id)
		return nil
	}
}

// call is adminClient.expect for a path from the server root (the super
// token's routes are not under an org).
func (c *adminClient) call(ctx context.Context, want int, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		return nil, apiErr(res.StatusCode, raw)
	}
	return raw, nil
}

func when(t *time.Time, zero string) string {
	if t == nil {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// printTokens prints a listing as a table, with a state that says what
// needs attention: expired, replaced (and until when it works), or
// expiring within 14 days.
func printTokens(w io.Writer, ts []tokenJSON, now time.Time) {
	if len(ts) == 0 {
		fmt.Fprintln(w, "no tokens")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tEXPIRES\tSTATE")
	for _, t := range ts {
		state := "active"
		switch {
		case t.Expires != nil && !now.Before(*t.Expires):
			state = "expired"
		case t.ReplacedBy != "":
			state = "replaced by " + t.ReplacedBy
		case t.Expires != nil && t.Expires.Sub(now) <= 14*24*time.Hour:
			state = fmt.Sprintf("expires in %s", left(t.Expires.Sub(now)))
		}
		name := t.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", t.ID, name, t.Prefix, when(&t.Created, ""), when(t.LastUsed, "never"), when(t.Expires, "never"), state)
	}
	tw.Flush()
}

// left renders a remaining time in days, or hours under two days.
func left(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}
