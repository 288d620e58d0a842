package edge

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type allowResult struct {
	ok    bool
	retry time.Duration
}

func allow(t *testing.T, l *Limiter, key string, rate float64, burst int, want allowResult) {
	t.Helper()
	ok, retry := l.Allow(key, rate, burst)
	if ok != want.ok || retry != want.retry {
		t.Fatalf("Allow(%q, %v, %d) = %v, %v; want %v, %v", key, rate, burst, ok, retry, want.ok, want.retry)
	}
}

func TestLimiterBurstThenRefusal(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	for i := range 3 {
		if ok, _ := l.Allow("tok", 1, 3); !ok {
			t.Fatalf("call %d of a burst of 3 refused", i+1)
		}
	}
	allow(t, l, "tok", 1, 3, allowResult{false, time.Second})
	// A refused call takes nothing: the wait does not grow.
	allow(t, l, "tok", 1, 3, allowResult{false, time.Second})
	// Other keys have their own bucket.
	allow(t, l, "other", 1, 3, allowResult{true, 0})
}

func TestLimiterRefill(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	allow(t, l, "tok", 2, 2, allowResult{true, 0})
	allow(t, l, "tok", 2, 2, allowResult{true, 0})
	allow(t, l, "tok", 2, 2, allowResult{false, 500 * time.Millisecond})
	clk.Advance(200 * time.Millisecond)
	allow(t, l, "tok", 2, 2, allowResult{false, 300 * time.Millisecond})
	clk.Advance(300 * time.Millisecond)
	allow(t, l, "tok", 2, 2, allowResult{true, 0})
	allow(t, l, "tok", 2, 2, allowResult{false, 500 * time.Millisecond})
	// Refill stops at burst.
	clk.Advance(time.Hour)
	allow(t, l, "tok", 2, 2, allowResult{true, 0})
	allow(t, l, "tok", 2, 2, allowResult{true, 0})
	allow(t, l, "tok", 2, 2, allowResult{false, 500 * time.Millisecond})
}

func TestLimiterRetryAfter(t *testing.T) {
	tests := []struct {
		rate      float64
		burst     int
		wantRetry time.Duration
		wantHdr   string
	}{
		{rate: 1, burst: 1, wantRetry: time.Second, wantHdr: "1"},
		{rate: 4, burst: 1, wantRetry: 250 * time.Millisecond, wantHdr: "1"},
		{rate: 0.1, burst: 1, wantRetry: 10 * time.Second, wantHdr: "10"},
		{rate: 0.4, burst: 1, wantRetry: 2500 * time.Millisecond, wantHdr: "3"},
		{rate: 3, burst: 1, wantRetry: 333333334 * time.Nanosecond, wantHdr: "1"}, // rounded up, never early
		{rate: 0, burst: 0, wantRetry: 10 * time.Millisecond, wantHdr: "1"},       // defaults: 100/s
		{rate: math.NaN(), burst: -5, wantRetry: 10 * time.Millisecond, wantHdr: "1"},
		{rate: 1e-300, burst: 1, wantRetry: time.Duration(math.MaxInt64), wantHdr: "9223372037"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("rate=%v,burst=%d", tt.rate, tt.burst), func(t *testing.T) {
			l := NewLimiter(newFakeClock().Now)
			burst := tt.burst
			if burst < 1 {
				burst = DefaultBurst
			}
			for range burst {
				if ok, _ := l.Allow("k", tt.rate, tt.burst); !ok {
					t.Fatal("refused within the burst")
				}
			}
			ok, retry := l.Allow("k", tt.rate, tt.burst)
			if ok || retry != tt.wantRetry {
				t.Fatalf("Allow after burst = %v, %v; want false, %v", ok, retry, tt.wantRetry)
			}
			if got := RetryAfterSeconds(retry); got != tt.wantHdr {
				t.Errorf("RetryAfterSeconds(%v) = %q; want %q", retry, got, tt.wantHdr)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "1"},
		{0, "1"},
		{time.Nanosecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{59 * time.Second, "59"},
		{90 * time.Second, "90"},
	}
	for _, tt := range tests {
		if got := RetryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestLimiterRateChangeTakesEffectOnNextCall(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	allow(t, l, "tok", 1, 1, allowResult{true, 0})
	allow(t, l, "tok", 1, 1, allowResult{false, time.Second})
	// The directory's rate goes up: the wait shrinks at once.
	allow(t, l, "tok", 10, 1, allowResult{false, 100 * time.Millisecond})
	clk.Advance(100 * time.Millisecond)
	allow(t, l, "tok", 10, 1, allowResult{true, 0})
	// And down again.
	allow(t, l, "tok", 0.5, 1, allowResult{false, 2 * time.Second})
}

func TestLimiterBurstChange(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	allow(t, l, "tok", 1, 10, allowResult{true, 0}) // 9 left
	// A smaller burst caps what is left: 2, then 1 after this call.
	allow(t, l, "tok", 1, 2, allowResult{true, 0})
	allow(t, l, "tok", 1, 2, allowResult{true, 0})
	allow(t, l, "tok", 1, 2, allowResult{false, time.Second})
	// A larger burst does not add tokens; it lets more accumulate.
	allow(t, l, "tok", 1, 10, allowResult{false, time.Second})
	clk.Advance(5 * time.Second)
	for range 5 {
		allow(t, l, "tok", 1, 10, allowResult{true, 0})
	}
	allow(t, l, "tok", 1, 10, allowResult{false, time.Second})
}

func TestLimiterInfiniteRate(t *testing.T) {
	l := NewLimiter(newFakeClock().Now)
	for range 1000 {
		allow(t, l, "tok", math.Inf(1), 1, allowResult{true, 0})
	}
}

func TestLimiterClockBackwards(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	allow(t, l, "tok", 1, 1, allowResult{true, 0})
	clk.Advance(-time.Hour)
	allow(t, l, "tok", 1, 1, allowResult{false, time.Second})
	clk.Advance(time.Hour + time.Second)
	allow(t, l, "tok", 1, 1, allowResult{true, 0})
}

// sameShardKeys returns n keys that fall in one shard of l.
func sameShardKeys(l *Limiter, n int) []string {
	var keys []string
	want := maphash.String(l.seed, "k0") % shardCount
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("k%d", i)
		if maphash.String(l.seed, k)%shardCount == want {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestLimiterEvictsLeastRecentlyUsedAtCap(t *testing.T) {
	clk := newFakeClock()
	l := newLimiter(clk.Now, 2*shardCount) // two keys per shard
	k := sameShardKeys(l, 3)
	allow(t, l, k[0], 1, 1, allowResult{true, 0})
	allow(t, l, k[1], 1, 1, allowResult{true, 0})
	allow(t, l, k[0], 1, 1, allowResult{false, time.Second}) // k[0] is now the most recent
	allow(t, l, k[2], 1, 1, allowResult{true, 0})            // evicts k[1]
	if got := l.Len(); got != 2 {
		t.Fatalf("Len() = %d; want 2", got)
	}
	allow(t, l, k[0], 1, 1, allowResult{false, time.Second}) // still remembered
	allow(t, l, k[1], 1, 1, allowResult{true, 0})            // forgotten: full again
}

func TestLimiterBoundedMemory(t *testing.T) {
	clk := newFakeClock()
	const maxBuckets = 10 * shardCount
	l := newLimiter(clk.Now, maxBuckets)
	for i := range 20 * maxBuckets {
		if ok, _ := l.Allow(fmt.Sprintf("key-%d", i), 1, 5); !ok {
			t.Fatalf("a new key was refused at %d keys", i)
		}
		if i%997 == 0 {
			if n := l.Len(); n > maxBuckets {
				t.Fatalf("Len() = %d after %d keys; want at most %d", n, i+1, maxBuckets)
			}
		}
	}
	if n := l.Len(); n > maxBuckets {
		t.Fatalf("Len() = %d; want at most %d", n, maxBuckets)
	}
	if MaxBuckets != 100_000 {
		t.Errorf("MaxBuckets = %d; want 100000", MaxBuckets)
	}
	if l := NewLimiter(nil); l.perShard*shardCount < MaxBuckets || (l.perShard-1)*shardCount >= MaxBuckets {
		t.Errorf("NewLimiter: %d keys per shard for MaxBuckets = %d", l.perShard, MaxBuckets)
	}
}

func TestLimiterSweepsFullBuckets(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	k := sameShardKeys(l, 3)
	allow(t, l, k[0], 1, 2, allowResult{true, 0})     // full again after 1 s
	allow(t, l, k[1], 0.001, 1, allowResult{true, 0}) // full again after 1000 s
	clk.Advance(SweepInterval - time.Second)
	allow(t, l, k[2], 0.001, 1, allowResult{true, 0}) // no sweep yet
	if got := l.Len(); got != 3 {
		t.Fatalf("Len() before the sweep interval = %d; want 3", got)
	}
	clk.Advance(time.Second)
	// The next call on the shard sweeps it: k[0] is full and goes; k[1]
	// and k[2] are still refilling and stay.
	allow(t, l, k[2], 0.001, 1, allowResult{false, 999 * time.Second})
	if got := l.Len(); got != 2 {
		t.Fatalf("Len() after the sweep = %d; want 2", got)
	}
	allow(t, l, k[1], 0.001, 1, allowResult{false, 1000*time.Second - SweepInterval})
	allow(t, l, k[0], 1, 2, allowResult{true, 0})
}

func TestLimiterConcurrent(t *testing.T) {
	clk := newFakeClock()
	l := NewLimiter(clk.Now)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				if ok, _ := l.Allow("shared", 1, 100); ok {
					granted.Add(1)
				}
				l.Allow(fmt.Sprintf("own-%d-%d", g, i%10), 1, 100)
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got != 100 {
		t.Errorf("%d calls granted on one key with a frozen clock and burst 100; want 100", got)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := NewLimiter(nil)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("token-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i%len(keys)], 1e9, 1<<30)
			i++
		}
	})
}

func BenchmarkLimiterAllowOneKey(b *testing.B) {
	l := NewLimiter(nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("one-token", DefaultRate, DefaultBurst)
		}
	})
}
