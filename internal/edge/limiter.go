package edge

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"
)

// Default limits for a key whose directory configures none.
//
// DefaultRate is well above what a well-behaved IdP sends: Entra ID's
// provisioning service is expected to send about 25 requests per second
// per tenant, so the default leaves it four times that, and the burst
// absorbs the start of a sync cycle. The limit is there to stop a runaway
// or hostile client, not to shape a well-behaved one.
const (
	DefaultRate  = 100.0 // tokens per second
	DefaultBurst = 200   // tokens
)

// MaxBuckets bounds the number of keys a Limiter remembers. Past it, the
// least recently used key is forgotten (so it starts again with a full
// bucket): a Limiter never refuses a request because it is full. The
// bound is kept per shard (MaxBuckets/64 keys each), so a key can be
// forgotten a little before the Limiter as a whole holds MaxBuckets.
const MaxBuckets = 100_000

// SweepInterval is how often each shard of a Limiter forgets the keys
// whose bucket is full again. A full bucket is the same as no bucket, so
// forgetting it changes no answer; the sweep only bounds memory. It runs
// inside Allow, amortised over calls: a Limiter starts no goroutine and
// needs no Close.
const SweepInterval = time.Minute

const shardCount = 64

// Limiter is a set of token buckets, one per key (the bearer token id).
// Each bucket holds up to burst tokens and gains rate tokens per second;
// a request takes one. Rate and burst are given on every call, so a
// change of configuration takes effect on the key's next call.
//
// A Limiter is safe for concurrent use. Its zero value is not usable;
// call NewLimiter.
type Limiter struct {
	now      func() time.Time
	seed     maphash.Seed
	perShard int // bucket cap of one shard
	shards   [shardCount]shard
}

type shard struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
	// Least recently used list: head is the most recent, tail the least.
	head, tail *bucket
	_          [64]byte // keeps shards apart on cache lines
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time // when tokens was computed
	rate   float64   // of the last call, for the sweep
	burst  float64
	// LRU links.
	prev, next *bucket
}

// NewLimiter returns an empty Limiter reading the time from clock
// (time.Now when nil).
func NewLimiter(clock func() time.Time) *Limiter {
	if clock == nil {
		clock = time.Now
	}
	return newLimiter(clock, MaxBuckets)
}

func newLimiter(clock func() time.Time, maxBuckets int) *Limiter {
	l := &Limiter{
		now:      clock,
		seed:     maphash.MakeSeed(),
		perShard: max(1, (maxBuckets+shardCount-1)/shardCount),
	}
	t := clock()
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
		l.shards[i].lastSweep = t
	}
	return l
}

// Allow takes one token from key's bucket. rate is in tokens per second
// and burst is the bucket's size; a rate that is not positive (or NaN)
// means DefaultRate, a burst below 1 means DefaultBurst, and an infinite
// rate admits every request. A key seen for the first time starts with a
// full bucket.
//
// When the bucket is empty Allow returns false and the time until one
// token is available at the current rate; RetryAfterSeconds turns it into
// a Retry-After header value. A refused call takes nothing, so a client
// that keeps retrying early is refused without being pushed further back.
func (l *Limiter) Allow(key string, rate float64, burst int) (ok bool, retryAfter time.Duration) {
	if !(rate > 0) {
		rate = DefaultRate
	}
	if math.IsInf(rate, 1) {
		return true, 0
	}
	if burst < 1 {
		burst = DefaultBurst
	}
	b := float64(burst)
	now := l.now()

	s := &l.shards[maphash.String(l.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) >= SweepInterval {
		s.sweep(now)
	}
	bk := s.buckets[key]
	if bk == nil {
		if len(s.buckets) >= l.perShard {
			s.remove(s.tail)
		}
		bk = &bucket{key: key, tokens: b, last: now}
		s.buckets[key] = bk
		s.pushFront(bk)
	} else {
		if elapsed := now.Sub(bk.last); elapsed > 0 {
			bk.tokens += elapsed.Seconds() * rate
			bk.last = now
		}
		bk.tokens = min(bk.tokens, b)
		s.moveToFront(bk)
	}
	bk.rate, bk.burst = rate, b
	if bk.tokens >= 1 {
		bk.tokens--
		return true, 0
	}
	wait := (1 - bk.tokens) / rate * float64(time.Second)
	if wait >= math.MaxInt64 {
		return false, time.Duration(math.MaxInt64)
	}
	return false, time.Duration(math.Ceil(wait))
}

// Len returns the number of keys the Limiter remembers.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// sweep forgets the buckets that are full again at now.
func (s *shard) sweep(now time.Time) {
	s.lastSweep = now
	for _, bk := range s.buckets {
		idle := now.Sub(bk.last).Seconds()
		if idle < 0 {
			continue
		}
		if bk.tokens+idle*bk.rate >= bk.burst {
			s.remove(bk)
		}
	}
}

func (s *shard) remove(bk *bucket) {
	delete(s.buckets, bk.key)
	s.unlink(bk)
}

func (s *shard) pushFront(bk *bucket) {
	bk.prev, bk.next = nil, s.head
	if s.head != nil {
		s.head.prev = bk
	}
	s.head = bk
	if s.tail == nil {
		s.tail = bk
	}
}

func (s *shard) unlink(bk *bucket) {
	if bk.prev != nil {
		bk.prev.next = bk.next
	} else {
		s.head = bk.next
	}
	if bk.next != nil {
		bk.next.prev = bk.prev
	} else {
		s.tail = bk.prev
	}
	bk.prev, bk.next = nil, nil
}

func (s *shard) moveToFront(bk *bucket) {
	if s.head == bk {
		return
	}
	s.unlink(bk)
	s.pushFront(bk)
}

// RetryAfterSeconds returns d rounded up to whole seconds, and at least
// 1, as the value of a Retry-After header.
func RetryAfterSeconds(d time.Duration) string {
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return strconv.FormatInt(max(secs, 1), 10)
}
