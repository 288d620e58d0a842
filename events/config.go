package events

import (
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Config holds the delivery settings. The zero value gives the defaults
// below, with the egress guard fully on.
type Config struct {
	// BatchSize is how many events one request carries at most (default
	// DefaultBatchSize, at most MaxBatchSize).
	BatchSize int
	// Timeout bounds one request, from dial to the end of the response
	// (default 10 s); ConnectTimeout bounds the TCP connect (default 5 s).
	Timeout        time.Duration
	ConnectTimeout time.Duration
	// BackoffBase and BackoffCap shape the retry delay after the n-th
	// failure in a row: random in (0, min(BackoffCap, BackoffBase·2^(n-1))]
	// (defaults 1 s and 1 h).
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// FailingAfter is how many failures in a row mark a subscription
	// failing (default 8: about four minutes of retries).
	FailingAfter int
	// MaxRetryAge is how long a streak of failures is retried before the
	// subscription is paused (default 72 h). Negative: never pause.
	MaxRetryAge time.Duration
	// PollInterval is how often Run looks for new or deleted subscriptions
	// and a delivery goroutine re-reads its subscription (default 5 s).
	PollInterval time.Duration
	// Retention is how long events are kept (default
	// store.DefaultEventRetention), and PruneInterval how often Run prunes
	// (default 1 h).
	Retention     time.Duration
	PruneInterval time.Duration
	// SplunkSourceType is the sourcetype of Splunk subscriptions that set
	// none (default "scimbridge:event").
	SplunkSourceType string
	// AllowInsecureHTTP allows http:// URLs whose host is loopback, and
	// dialing loopback addresses, for development. Off in production.
	AllowInsecureHTTP bool
	// AllowPrivateNetworks allows subscription URLs that are or resolve to
	// loopback, private, link-local and other internal addresses. Off
	// unless webhooks really must reach the internal network.
	AllowPrivateNetworks bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults and limits.
const (
	DefaultBatchSize = 20
	MaxBatchSize     = 100
	// MaxResponseBody is how much of a response is read (then the
	// connection is dropped rather than drained further).
	MaxResponseBody = 64 << 10
	// DefaultSplunkSourceType is the sourcetype when none is configured.
	DefaultSplunkSourceType = "scimbridge:event"
)

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	c.BatchSize = min(c.BatchSize, MaxBatchSize)
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	c.ConnectTimeout = min(c.ConnectTimeout, c.Timeout)
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = time.Hour
	}
	c.BackoffCap = max(c.BackoffCap, c.BackoffBase)
	if c.FailingAfter <= 0 {
		c.FailingAfter = 8
	}
	if c.MaxRetryAge == 0 {
		c.MaxRetryAge = 72 * time.Hour
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = store.DefaultEventRetention
	}
	if c.PruneInterval <= 0 {
		c.PruneInterval = time.Hour
	}
	if c.SplunkSourceType == "" {
		c.SplunkSourceType = DefaultSplunkSourceType
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
