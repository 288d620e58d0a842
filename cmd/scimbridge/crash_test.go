package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the server in a child process, so
// the crash test can kill a real server with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("SCIMBRIDGE_TEST_CHILD") == "serve" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "serve" {
				args = args[i:]
				break
			}
		}
		os.Exit(run(context.Background(), args, os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type child struct {
	cmd  *exec.Cmd
	base string // SCIM base URL
	root string // http://host:port
}

// startChild runs "scimbridge serve" in a child process on data and waits
// for its banner. On the first start it returns the printed tokens too.
func startChild(t *testing.T, data string) (*child, []string) {
	t.Helper()
	// TestMain hands the arguments from "serve" on to run.
	cmd := exec.Command(os.Args[0], "-test.run=^$", "serve", "--data="+data, "--listen=127.0.0.1:0", "--log-level=error", "--rate=1000000", "--burst=1000000")
	cmd.Env = append(os.Environ(), "SCIMBRIDGE_TEST_CHILD=serve")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	var tokens []string
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for lines.Scan() {
		l := strings.TrimSpace(lines.Text())
		if m := urlRe.FindString(l); m != "" && c.base == "" {
			c.base = m
			c.root = strings.TrimSuffix(m, "/scim/v2/default/default")
		}
		if tok := tokenRe.FindString(l); tok != "" {
			tokens = append(tokens, tok)
		}
		if strings.HasPrefix(l, "Tokens are shown only") || len(tokens) == 2 {
			break
		}
	}
	if c.base == "" {
		t.Fatalf("child printed no base URL")
	}
	go io.Copy(io.Discard, out)
	return c, tokens
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// The crash test's size: short in the default run; a soak run sets them,
// e.g. -crash.cycles=200 -crash.writers=16 -crash.maxuptime=5s.
var (
	crashCycles    = flag.Int("crash.cycles", 5, "kill-and-restart cycles of TestCrashLosesNothing")
	crashWriters   = flag.Int("crash.writers", 8, "concurrent SCIM writers of TestCrashLosesNothing")
	crashMaxUptime = flag.Duration("crash.maxuptime", 800*time.Millisecond, "longest time the server runs before each kill")
)

// TestCrashLosesNothing drives SCIM writes at a server that is killed with
// SIGKILL at random moments and restarted on the same file. Every write
// that got a 2xx must be there afterwards with its event, and the outbox
// sequence must have no gap and no duplicate.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server several times")
	}
	data := filepath.Join(t.TempDir(), "crash.db")
	c, tokens := startChild(t, data)
	if len(tokens) != 2 {
		t.Fatalf("first start printed %d tokens", len(tokens))
	}
	scimToken, adminToken := tokens[0], tokens[1]
	client := &http.Client{Timeout: 5 * time.Second}

	var mu sync.Mutex
	acked := map[string]string{} // userName → id, for every 201
	attempts := 0
	cycles := *crashCycles
	for cycle := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range *crashWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					name := fmt.Sprintf("c%d-w%d-%d@example.com", cycle, w, i)
					body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `"}`
					req, _ := http.NewRequestWithContext(ctx, "POST", c.base+"/Users", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+scimToken)
					req.Header.Set("Content-Type", "application/scim+json")
					mu.Lock()
					attempts++
					mu.Unlock()
					res, err := client.Do(req)
					if err != nil {
						continue // the server died under us: the outcome is unknown, not acknowledged
					}
					var out map[string]any
					json.NewDecoder(res.Body).Decode(&out)
					res.Body.Close()
					if res.StatusCode == http.StatusCreated {
						mu.Lock()
						acked[name] = out["id"].(string)
						mu.Unlock()
					}
				}
			}()
		}
		up := 200 * time.Millisecond
		if *crashMaxUptime > up {
			up += time.Duration(rand.Int64N(int64(*crashMaxUptime - up)))
		}
		time.Sleep(up)
		c.kill()
		cancel()
		wg.Wait()
		c, _ = startChild(t, data)
	}
	defer c.kill()
	if len(acked) < cycles {
		t.Fatalf("only %d acknowledged writes in %d attempts; the load did not run", len(acked), attempts)
	}

	// Every acknowledged user is there.
	get := func(url, token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	for name, id := range acked {
		if status, body := get(c.base+"/Users/"+id, scimToken); status != http.StatusOK || body["userName"] != name {
			t.Errorf("acknowledged user %s (%s) after crashes: %d %v", name, id, status, body)
		}
	}
	// And found by userName, as an IdP's probe finds it: creates stage
	// their index keys (store/bolt/staged.go), and the store rebuilds what
	// it keeps of them in memory at each start.
	for name, id := range acked {
		status, page := get(c.base+"/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), scimToken)
		res, _ := page["Resources"].([]any)
		if status != http.StatusOK || len(res) != 1 || res[0].(map[string]any)["id"] != id {
			t.Errorf("acknowledged user %s (%s) by userName after crashes: %d %v", name, id, status, page)
		}
	}
	// Its userName stays taken.
	tried := 0
	for name := range acked {
		if tried++; tried > 20 {
			break
		}
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + strings.ToUpper(name) + `"}`
		req, _ := http.NewRequest("POST", c.base+"/Users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+scimToken)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusConflict {
			t.Errorf("create of acknowledged userName %s after crashes: %d; want 409", name, res.StatusCode)
		}
	}

	// The outbox: gap-free, no duplicate, a user.created for every acknowledged user.
	created := map[string]bool{}
	seen := map[string]bool{}
	var after, want uint64
	for {
		status, page := get(fmt.Sprintf("%s/admin/v1/orgs/default/events?after=%d&limit=1000", c.root, after), adminToken)
		if status != http.StatusOK {
			t.Fatalf("events: %d %v", status, page)
		}
		for _, x := range page["events"].([]any) {
			e := x.(map[string]any)
			want++
			if seq := uint64(e["seq"].(float64)); seq != want {
				t.Fatalf("event seq %d; want %d (gap or duplicate)", seq, want)
			}
			if id := e["id"].(string); seen[id] {
				t.Fatalf("event id %s twice", id)
			} else {
				seen[id] = true
			}
			if e["type"] == "user.created" {
				created[e["resource"].(map[string]any)["id"].(string)] = true
			}
		}
		next := uint64(page["next"].(float64))
		if next == uint64(page["last"].(float64)) {
			break
		}
		after = next
	}
	for name, id := range acked {
		if !created[id] {
			t.Errorf("acknowledged user %s (%s) has no user.created event", name, id)
		}
	}
	t.Logf("%d cycles: %d writes attempted, %d acknowledged, all present with their events; %d events, gap-free", cycles, attempts, len(acked), want)
}
