package loadtest

import (
	"io"
	"testing"
	"time"
)

// TestPhaseByMethod checks that each method's figures are its own
// requests' and the phase's are all of them.
func TestPhaseByMethod(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	b := &bench{out: io.Discard}
	p := b.begin("users", "users")
	record := func(method string, d []time.Duration) {
		for _, v := range d {
			p.sample(method, v)
		}
	}
	record("DELETE", ms(7))
	record("POST", ms(30, 10, 20))
	record("GET", ms(5, 1, 3, 2))
	got := b.end(p)
	if got.Requests != 8 || got.P50 != 5*time.Millisecond || got.Max != 30*time.Millisecond {
		t.Errorf("phase: %d requests, p50 %v, max %v; want 8, 5ms, 30ms", got.Requests, got.P50, got.Max)
	}
	want := []MethodLatency{
		{Method: "GET", Requests: 4, P50: 2 * time.Millisecond, P95: 5 * time.Millisecond, P99: 5 * time.Millisecond, Max: 5 * time.Millisecond},
		{Method: "POST", Requests: 3, P50: 20 * time.Millisecond, P95: 30 * time.Millisecond, P99: 30 * time.Millisecond, Max: 30 * time.Millisecond},
		{Method: "DELETE", Requests: 1, P50: 7 * time.Millisecond, P95: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond},
	}
	if len(got.ByMethod) != len(want) {
		t.Fatalf("by method: %+v; want %+v", got.ByMethod, want)
	}
	for i := range want {
		if got.ByMethod[i] != want[i] {
			t.Errorf("by method [%d]: %+v; want %+v", i, got.ByMethod[i], want[i])
		}
	}

	p = b.begin("memberships", "memberships")
	record("PATCH", ms(4, 2, 9))
	if got := b.end(p); got.ByMethod != nil || got.P50 != 4*time.Millisecond || got.Max != 9*time.Millisecond {
		t.Errorf("one method: by method %+v, p50 %v, max %v; want none, 4ms, 9ms", got.ByMethod, got.P50, got.Max)
	}
}
