package loadtest

import (
	"testing"
	"time"
)

// TestNamesScattered checks that the names a run creates are all
// different and do not sort in the order they are created, so that the
// server's indexes see inserts all over their key range, as from an IdP.
func TestNamesScattered(t *testing.T) {
	b := &bench{cfg: Config{Prefix: "p-"}}
	const n = 200000
	seen := make(map[string]bool, 2*n)
	inOrder := 0
	for i := range n {
		u, g := b.userName(i), b.groupName(i)
		if seen[u] || seen[g] {
			t.Fatalf("name %d repeats an earlier one: %s, %s", i, u, g)
		}
		seen[u], seen[g] = true, true
		if i > 0 && b.userName(i-1) < u {
			inOrder++
		}
	}
	// Random order puts about half of the neighbours in order.
	if inOrder < n*2/5 || inOrder > n*3/5 {
		t.Errorf("%d of %d consecutive userNames sort in creation order; want about half", inOrder, n-1)
	}
}

// TestRunTimeout: an hour-long timed phase is not cut by the default bound
// of the whole run (a one-hour soak once ended with its last 8 requests
// cut at the hour).
func TestRunTimeout(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}, DefaultTimeout},
		{Config{Duration: time.Hour}, DefaultTimeout + time.Hour},
		{Config{Duration: time.Hour, Timeout: time.Minute}, time.Minute},
	} {
		if got := runTimeout(tc.cfg); got != tc.want {
			t.Errorf("runTimeout(%+v) = %v; want %v", tc.cfg, got, tc.want)
		}
	}
}
