package edge

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAllowlist(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string // the parsed prefixes
		wantErr string   // a substring of the error
	}{
		{name: "nil", in: nil, want: []string{}},
		{name: "v4 cidr", in: []string{"10.0.0.0/8"}, want: []string{"10.0.0.0/8"}},
		{name: "v6 cidr", in: []string{"2001:db8::/32"}, want: []string{"2001:db8::/32"}},
		{name: "bare v4", in: []string{"192.0.2.7"}, want: []string{"192.0.2.7/32"}},
		{name: "bare v6", in: []string{"2001:db8::7"}, want: []string{"2001:db8::7/128"}},
		{name: "spaces", in: []string{" 192.0.2.0/24 ", "\t2001:db8::1\n"}, want: []string{"192.0.2.0/24", "2001:db8::1/128"}},
		{name: "host bits cleared", in: []string{"10.1.2.3/8", "2001:db8::1/32"}, want: []string{"10.0.0.0/8", "2001:db8::/32"}},
		{name: "mapped cidr", in: []string{"::ffff:192.0.2.0/120"}, want: []string{"192.0.2.0/24"}},
		{name: "mapped bare", in: []string{"::ffff:192.0.2.7"}, want: []string{"192.0.2.7/32"}},
		{name: "everything", in: []string{"0.0.0.0/0", "::/0"}, want: []string{"0.0.0.0/0", "::/0"}},
		{name: "garbage", in: []string{"10.0.0.0/8", "nope"}, wantErr: `entry 2 "nope"`},
		{name: "empty entry", in: []string{""}, wantErr: `entry 1 "": empty entry`},
		{name: "bad length", in: []string{"10.0.0.0/33"}, wantErr: `entry 1 "10.0.0.0/33": not a CIDR prefix`},
		{name: "bad v6 length", in: []string{"2001:db8::/129"}, wantErr: `"2001:db8::/129"`},
		{name: "octet out of range", in: []string{"256.0.0.1"}, wantErr: `"256.0.0.1"`},
		{name: "hostname", in: []string{"example.com"}, wantErr: `"example.com"`},
		{name: "with port", in: []string{"192.0.2.7:80"}, wantErr: `"192.0.2.7:80"`},
		{name: "zone", in: []string{"fe80::1%eth0"}, wantErr: `"fe80::1%eth0": an address with a zone`},
		{name: "two slashes", in: []string{"10.0.0.0/8/8"}, wantErr: `"10.0.0.0/8/8"`},
		{name: "slash only", in: []string{"/8"}, wantErr: `"/8"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAllowlist(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAllowlist(%q) error = %v; want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAllowlist(%q) error = %v", tt.in, err)
			}
			got := []string{}
			for _, p := range a.prefixes {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseAllowlist(%q) prefixes (-want +got):\n%s", tt.in, diff)
			}
			if a.Len() != len(tt.want) {
				t.Errorf("Len() = %d; want %d", a.Len(), len(tt.want))
			}
			// ParseProxies shares the syntax.
			p, err := ParseProxies(tt.in)
			if err != nil || !cmp.Equal(p.prefixes, a.prefixes, cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })) {
				t.Errorf("ParseProxies(%q) = %v, %v; want %v", tt.in, p.prefixes, err, a.prefixes)
			}
		})
	}
}

func TestParseProxiesError(t *testing.T) {
	_, err := ParseProxies([]string{"10.0.0.1", "10.0.0.x"})
	if err == nil || !strings.Contains(err.Error(), `entry 2 "10.0.0.x"`) {
		t.Fatalf("ParseProxies error = %v; want one naming entry 2", err)
	}
}

func TestAllowlistAllows(t *testing.T) {
	list, err := ParseAllowlist([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"11.0.0.1", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"2001:db8:1::5", true},
		{"2001:db9::5", false},
		{"::ffff:10.9.9.9", true},      // mapped address, v4 entry
		{"::ffff:11.0.0.1", false},     // mapped address, no entry
		{"198.51.100.20", true},        // v4 address, mapped entry
		{"::ffff:198.51.100.20", true}, // both mapped
		{"::a00:1", false},             // v4-compatible (not mapped) is not 10.0.0.1
		{"fe80::1%eth0", false},
		{"2001:db8::1%eth0", true}, // the zone is ignored
		{"::1", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		if got := list.Allows(addr); got != tt.want {
			t.Errorf("Allows(%s) = %v; want %v", tt.addr, got, tt.want)
		}
	}
	if list.Allows(netip.Addr{}) {
		t.Errorf("Allows(invalid) = true; want false")
	}
}

func TestEmptyAllowlistAllowsEveryone(t *testing.T) {
	empty, err := ParseAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), {}} {
		if !empty.Allows(a) {
			t.Errorf("empty Allows(%v) = false; want true", a)
		}
		if !(Allowlist{}).Allows(a) {
			t.Errorf("zero Allows(%v) = false; want true", a)
		}
	}
}

func TestClientIP(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		remote string
		xff    []string // one element per header line
		want   string   // "" for the zero Addr
	}{
		{name: "direct v4", remote: "203.0.113.5:51000", want: "203.0.113.5"},
		{name: "direct v6", remote: "[2001:db8::5]:51000", want: "2001:db8::5"},
		{name: "direct mapped", remote: "[::ffff:203.0.113.5]:51000", want: "203.0.113.5"},
		{name: "direct with zone", remote: "[fe80::5%eth0]:51000", want: "fe80::5"},
		{name: "no port", remote: "203.0.113.5", want: "203.0.113.5"},
		{name: "unix socket", remote: "@", want: ""},
		{name: "empty remote", remote: "", want: ""},

		// Spoofing: an untrusted peer's header is ignored entirely.
		{name: "untrusted peer spoofs", remote: "203.0.113.5:1", xff: []string{"10.0.0.1"}, want: "203.0.113.5"},
		{name: "untrusted peer spoofs client", remote: "203.0.113.5:1", xff: []string{"198.51.100.1, 10.0.0.2"}, want: "203.0.113.5"},
		{name: "untrusted mapped peer", remote: "[::ffff:203.0.113.5]:1", xff: []string{"198.51.100.1"}, want: "203.0.113.5"},

		// A trusted proxy.
		{name: "one proxy", remote: "10.0.0.1:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted proxy, no header", remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "two proxies", remote: "10.0.0.1:1", xff: []string{"198.51.100.1, 10.0.0.2"}, want: "198.51.100.1"},
		{name: "mapped trusted peer", remote: "[::ffff:10.0.0.1]:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "v6 proxies", remote: "[2001:db8:ffff::1]:1", xff: []string{"2001:db8:1::9, 2001:db8:ffff::2"}, want: "2001:db8:1::9"},
		{name: "mapped client", remote: "10.0.0.1:1", xff: []string{"::ffff:198.51.100.1"}, want: "198.51.100.1"},
		{name: "entries with ports", remote: "10.0.0.1:1", xff: []string{"198.51.100.1:4711, [2001:db8::9]:80"}, want: "2001:db8::9"},
		{name: "bracketed v6", remote: "10.0.0.1:1", xff: []string{"[2001:db8::9]"}, want: "2001:db8::9"},
		{name: "no spaces", remote: "10.0.0.1:1", xff: []string{"198.51.100.1,10.0.0.2"}, want: "198.51.100.1"},

		// Spoofing behind a trusted proxy: the client prepends entries,
		// the proxy appends the address it saw; the rightmost untrusted
		// one wins.
		{name: "client prepends", remote: "10.0.0.1:1", xff: []string{"1.2.3.4, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "client prepends a proxy address", remote: "10.0.0.1:1", xff: []string{"10.0.0.99, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "client prepends garbage", remote: "10.0.0.1:1", xff: []string{"garbage, 198.51.100.1"}, want: "198.51.100.1"},

		// Every hop trusted: the leftmost.
		{name: "all trusted", remote: "10.0.0.1:1", xff: []string{"10.0.0.3, 10.0.0.2"}, want: "10.0.0.3"},

		// Malformed entries stop the walk at the last good address.
		{name: "malformed right after peer", remote: "10.0.0.1:1", xff: []string{"198.51.100.1, unknown"}, want: "10.0.0.1"},
		{name: "malformed after a proxy", remote: "10.0.0.1:1", xff: []string{"198.51.100.1, garbage, 10.0.0.2"}, want: "10.0.0.2"},
		{name: "empty entry", remote: "10.0.0.1:1", xff: []string{"198.51.100.1,,10.0.0.2"}, want: "10.0.0.2"},
		{name: "trailing comma", remote: "10.0.0.1:1", xff: []string{"198.51.100.1,"}, want: "10.0.0.1"},
		{name: "empty header", remote: "10.0.0.1:1", xff: []string{""}, want: "10.0.0.1"},
		{name: "hostname", remote: "10.0.0.1:1", xff: []string{"evil.example"}, want: "10.0.0.1"},

		// Several header lines are one list, in order.
		{name: "two lines", remote: "10.0.0.1:1", xff: []string{"198.51.100.1", "10.0.0.2"}, want: "198.51.100.1"},
		{name: "two lines, client last", remote: "10.0.0.1:1", xff: []string{"1.2.3.4", "198.51.100.1, 10.0.0.2"}, want: "198.51.100.1"},
		{name: "two lines, all trusted", remote: "10.0.0.1:1", xff: []string{"10.0.0.4, 10.0.0.3", "10.0.0.2"}, want: "10.0.0.4"},
		{name: "two lines, malformed first", remote: "10.0.0.1:1", xff: []string{"bad", "10.0.0.2"}, want: "10.0.0.2"},
		{name: "two lines, empty last", remote: "10.0.0.1:1", xff: []string{"198.51.100.1", ""}, want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := proxies.ClientIP(r)
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %v; want %v", tt.remote, tt.xff, got, want)
			}
		})
	}
}

func TestClientIPNoProxies(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	for _, p := range []Proxies{{}, mustProxies(t)} {
		if got, want := p.ClientIP(r), netip.MustParseAddr("10.0.0.1"); got != want {
			t.Errorf("ClientIP with no trusted proxy = %v; want the peer %v", got, want)
		}
	}
}

func mustProxies(t *testing.T, cidrs ...string) Proxies {
	t.Helper()
	p, err := ParseProxies(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzClientIP checks that ClientIP never panics and returns either the
// peer or an address written in X-Forwarded-For, never anything else.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.1, 10.0.0.2")
	f.Add("10.0.0.1:1", "garbage,,[2001:db8::1]:80")
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:1.2.3.4%eth0")
	f.Add("203.0.113.5:1", "10.0.0.1")
	proxies := mustProxiesF(f, "10.0.0.0/8", "2001:db8::/32")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header["X-Forwarded-For"] = []string{xff}
		got := proxies.ClientIP(r)
		if !got.IsValid() {
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientIP = %v; want unmapped and without zone", got)
		}
		candidates := append([]string{remote}, strings.Split(xff, ",")...)
		for _, c := range candidates {
			if a, ok := parseHost(strings.TrimSpace(c)); ok && a == got {
				return
			}
		}
		t.Fatalf("ClientIP(%q, %q) = %v, which is neither the peer nor an entry", remote, xff, got)
	})
}

func mustProxiesF(f *testing.F, cidrs ...string) Proxies {
	p, err := ParseProxies(cidrs)
	if err != nil {
		f.Fatal(err)
	}
	return p
}

// FuzzParseAllowlist checks that an accepted entry always parses to a
// valid, masked, unmapped prefix that contains the address it was written
// with.
func FuzzParseAllowlist(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "2001:db8::1", "::ffff:1.2.3.0/120", "nope", "", "1.2.3.4/33", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAllowlist([]string{s})
		if err != nil {
			if !strings.Contains(err.Error(), "entry 1") {
				t.Fatalf("ParseAllowlist(%q) error %q does not name the entry", s, err)
			}
			return
		}
		p := a.prefixes[0]
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() && p.Bits() >= 96 {
			t.Fatalf("ParseAllowlist(%q) = %v; want a valid, masked, unmapped prefix", s, p)
		}
	})
}
