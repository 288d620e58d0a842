package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// config is every setting of the server. Each setting can come from the
// config file (YAML, keys as in settingTable), from an environment
// variable SCIMBRIDGE_<KEY> (dots and dashes as underscores), or from a
// flag; a flag beats the environment, which beats the file, which beats
// the default.
type config struct {
	Data      string
	Listen    string
	PublicURL string
	LogLevel  string

	MaxBodyBytes       int
	MaxPageSize        int
	MaxPatchOperations int
	MaxFilterLength    int
	MaxFilterDepth     int
	MaxFilterTerms     int

	EventRetention       time.Duration
	EventBatchSize       int
	EventMaxRetryAge     time.Duration
	SplunkSourceType     string
	AllowInsecureHTTP    bool
	AllowPrivateNetworks bool
	MaxRevokePercent     int

	SSOKeyFile string

	TLSCertFile  string
	TLSKeyFile   string
	InsecureHTTP bool

	RateLimit             int
	RateBurst             int
	MaxConcurrentRequests int
	TrustedProxies        string
	MetricsAllowCIDRs     string
	Pprof                 bool

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
}

type setting struct {
	key   string // file key; flag name is the last part with _ as -
	usage string
	str   *string
	num   *int
	dur   *time.Duration
	flag  *bool
}

func (c *config) settings() []setting {
	return []setting{
		{key: "data", usage: "path of the bbolt database file", str: &c.Data},
		{key: "listen", usage: "address to listen on (host:port)", str: &c.Listen},
		{key: "public_url", usage: "external URL of the server, for SCIM locations (default http://LISTEN)", str: &c.PublicURL},
		{key: "tls.cert_file", usage: "PEM certificate (chain) to serve HTTPS with; reloaded when it changes", str: &c.TLSCertFile},
		{key: "tls.key_file", usage: "PEM private key of tls.cert_file", str: &c.TLSKeyFile},
		{key: "insecure_http", usage: "serve plain HTTP on a non-loopback address (only behind a proxy that terminates TLS)", flag: &c.InsecureHTTP},
		{key: "limits.rate", usage: "requests per second per token (SCIM and admin) and per address (SSO); directories can set their own", num: &c.RateLimit},
		{key: "limits.burst", usage: "requests a token may send at once above limits.rate", num: &c.RateBurst},
		{key: "limits.max_concurrent_requests", usage: "requests served at once; more wait up to 100 ms, then get 503 (event streams are not counted)", num: &c.MaxConcurrentRequests},
		{key: "trusted_proxies", usage: "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default none)", str: &c.TrustedProxies},
		{key: "pprof", usage: "serve Go profiles under /debug/pprof/ to metrics_allow_cidrs (for profiling; off by default)", flag: &c.Pprof},
		{key: "metrics_allow_cidrs", usage: "comma-separated CIDRs that may read /metrics", str: &c.MetricsAllowCIDRs},
		{key: "http.read_header_timeout", usage: "longest time to read a request's headers", dur: &c.ReadHeaderTimeout},
		{key: "http.read_timeout", usage: "longest time to read a whole request", dur: &c.ReadTimeout},
		{key: "http.write_timeout", usage: "longest time to write a response (a 100,000-member group streams for a while)", dur: &c.WriteTimeout},
		{key: "http.idle_timeout", usage: "how long an idle keep-alive connection is kept", dur: &c.IdleTimeout},
		{key: "http.shutdown_timeout", usage: "how long a stop waits for requests in flight", dur: &c.ShutdownTimeout},
		{key: "log_level", usage: "log level: debug, info, warn, error", str: &c.LogLevel},
		{key: "scim.max_body_bytes", usage: "largest SCIM request body, in bytes (413 above)", num: &c.MaxBodyBytes},
		{key: "scim.max_page_size", usage: "largest page of a SCIM listing (count is clamped to it)", num: &c.MaxPageSize},
		{key: "scim.max_patch_operations", usage: "most operations in one SCIM PATCH", num: &c.MaxPatchOperations},
		{key: "scim.max_filter_length", usage: "longest SCIM filter, in bytes", num: &c.MaxFilterLength},
		{key: "scim.max_filter_depth", usage: "deepest nesting of a SCIM filter", num: &c.MaxFilterDepth},
		{key: "scim.max_filter_terms", usage: "most comparisons in one SCIM filter", num: &c.MaxFilterTerms},
		{key: "events.retention", usage: "how long events are kept (and at least until every subscriber has them), like 30d", dur: &c.EventRetention},
		{key: "events.batch_size", usage: "most events in one webhook or Splunk request", num: &c.EventBatchSize},
		{key: "events.max_retry_age", usage: "how long a failing subscription is retried before it is paused, like 72h", dur: &c.EventMaxRetryAge},
		{key: "events.splunk_sourcetype", usage: "sourcetype of events sent to Splunk", str: &c.SplunkSourceType},
		{key: "events.allow_insecure_http", usage: "development only: allow http:// webhooks to loopback", flag: &c.AllowInsecureHTTP},
		{key: "events.allow_private_networks", usage: "allow webhooks to private, loopback and link-local addresses", flag: &c.AllowPrivateNetworks},
		{key: "sso.sealing_key_file", usage: "file with the key that seals SSO secrets (SAML SP keys, OIDC client secrets); created on first start; back it up beside the database (default DATA.sso-key)", str: &c.SSOKeyFile},
		{key: "rules.max_revoke_percent", usage: "mass-revocation guard: most people (in percent) a rules publish may take access from without force", num: &c.MaxRevokePercent},
	}
}

func defaultConfig() config {
	return config{
		Data:               "scimbridge.db",
		Listen:             "127.0.0.1:8080",
		LogLevel:           "info",
		MaxBodyBytes:       4 << 20,
		MaxPageSize:        1000,
		MaxPatchOperations: 1000,
		MaxFilterLength:    4096,
		MaxFilterDepth:     16,
		MaxFilterTerms:     64,
		EventRetention:     30 * 24 * time.Hour,
		EventBatchSize:     20,
		EventMaxRetryAge:   72 * time.Hour,
		SplunkSourceType:   "scimbridge:event",
		MaxRevokePercent:   10,

		RateLimit:             100,
		RateBurst:             200,
		MaxConcurrentRequests: 512,
		MetricsAllowCIDRs:     "127.0.0.0/8,::1/128",

		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   30 * time.Second,
	}
}

func flagName(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		key = key[i+1:]
	}
	return strings.ReplaceAll(key, "_", "-")
}

func envName(key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "SCIMBRIDGE_" + strings.ToUpper(r.Replace(key))
}

func (s setting) set(v string) error {
	switch {
	case s.str != nil:
		*s.str = v
		return nil
	case s.dur != nil:
		d, err := parseExpiry(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s must be a duration like 30d or 12h, not %q", s.key, v)
		}
		*s.dur = d
		return nil
	case s.flag != nil:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s must be true or false, not %q", s.key, v)
		}
		*s.flag = b
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return fmt.Errorf("%s must be a positive integer, not %q", s.key, v)
	}
	*s.num = n
	return nil
}

// registerFlags adds a flag per setting to fs. Flags are applied after the
// file and the environment by applyFlags.
func (c *config) registerFlags(fs *flag.FlagSet) map[string]*string {
	vals := map[string]*string{}
	for _, s := range c.settings() {
		vals[s.key] = fs.String(flagName(s.key), "", s.usage+" (env "+envName(s.key)+")")
	}
	return vals
}

// load applies the config file (if any), the environment and then the
// flags that were set.
func (c *config) load(file string, getenv func(string) string, flags map[string]*string) error {
	byKey := map[string]setting{}
	for _, s := range c.settings() {
		byKey[s.key] = s
	}
	if file == "" {
		file = getenv("SCIMBRIDGE_CONFIG")
	}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("config: %s: %w", file, err)
		}
		flat := map[string]string{}
		flatten("", doc, flat)
		keys := make([]string, 0, len(flat))
		for k := range flat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, ok := byKey[k]
			if !ok {
				return fmt.Errorf("config: %s: unknown setting %q", file, k)
			}
			if err := s.set(flat[k]); err != nil {
				return fmt.Errorf("config: %s: %w", file, err)
			}
		}
	}
	for _, s := range c.settings() {
		if v := getenv(envName(s.key)); v != "" {
			if err := s.set(v); err != nil {
				return fmt.Errorf("config: %s: %w", envName(s.key), err)
			}
		}
	}
	for _, s := range c.settings() {
		if v := flags[s.key]; v != nil && *v != "" {
			if err := s.set(*v); err != nil {
				return fmt.Errorf("config: --%s: %w", flagName(s.key), err)
			}
		}
	}
	return nil
}

func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, cv := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, cv, out)
		}
	default:
		out[prefix] = fmt.Sprint(x)
	}
}
