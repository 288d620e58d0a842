package edge

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Allowlist is a set of IPv4 and IPv6 prefixes a client address must be
// in. The zero Allowlist is empty and allows every address.
type Allowlist struct {
	prefixes []netip.Prefix
}

// ParseAllowlist parses CIDR prefixes ("10.0.0.0/8", "2001:db8::/32") and
// bare addresses ("192.0.2.7" as a /32, "2001:db8::7" as a /128).
// Surrounding spaces are ignored and host bits after the prefix length
// are cleared ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped IPv6 entry
// ("::ffff:192.0.2.0/120") is stored as the IPv4 prefix it maps
// (192.0.2.0/24). An empty entry, an address with a zone ("fe80::1%eth0")
// or anything else that is not an address or prefix is an error naming
// the entry and its position.
func ParseAllowlist(cidrs []string) (Allowlist, error) {
	ps, err := parsePrefixes(cidrs)
	if err != nil {
		return Allowlist{}, err
	}
	return Allowlist{prefixes: ps}, nil
}

// Allows reports whether addr may connect: true when the list is empty or
// addr is in one of its prefixes. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.7) is matched as the IPv4 address it maps, and a zone is
// ignored. An invalid (zero) addr is allowed only by the empty list.
func (a Allowlist) Allows(addr netip.Addr) bool {
	if len(a.prefixes) == 0 {
		return true
	}
	return contains(a.prefixes, addr)
}

// Len returns the number of prefixes in the list.
func (a Allowlist) Len() int { return len(a.prefixes) }

// Proxies is the set of reverse proxies whose X-Forwarded-For header is
// trusted. The zero Proxies trusts none: the client address is then the
// TCP peer.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies parses the addresses of trusted proxies, in the syntax of
// ParseAllowlist.
func ParseProxies(cidrs []string) (Proxies, error) {
	ps, err := parsePrefixes(cidrs)
	if err != nil {
		return Proxies{}, err
	}
	return Proxies{prefixes: ps}, nil
}

// ClientIP returns the address of the client that sent r.
//
// It starts from the TCP peer (r.RemoteAddr). Only when the peer is a
// trusted proxy does it read X-Forwarded-For (all of its header lines as
// one list, in order), from right to left: each trusted proxy is skipped
// and the first untrusted address is the client. When every address is a
// trusted proxy, the leftmost one is returned. An entry that is not an
// address (empty, "unknown", garbage) stops the walk: the last good
// address is returned, so a client cannot hide behind junk. The header of
// an untrusted peer is ignored, since anyone can write it. Entries may
// carry a port ("192.0.2.7:4711", "[2001:db8::7]:4711") or brackets
// ("[2001:db8::7]"), which are dropped.
//
// The result is unmapped (an IPv4-mapped IPv6 address becomes IPv4) and
// has no zone. It is the zero Addr only when r.RemoteAddr is not an
// address (a Unix socket, a test request built by hand).
func (p Proxies) ClientIP(r *http.Request) netip.Addr {
	client, ok := parseHost(r.RemoteAddr)
	if !ok || !contains(p.prefixes, client) {
		return client
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for {
			j := strings.LastIndexByte(line, ',') // -1: line is one entry
			a, ok := parseHost(strings.TrimSpace(line[j+1:]))
			if !ok {
				return client
			}
			client = a
			if !contains(p.prefixes, a) {
				return a
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return client
}

// parseHost parses "addr", "[addr]", "addr:port" or "[addr]:port" into an
// unmapped address without zone.
func parseHost(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(s)
		if splitErr != nil {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}

func contains(prefixes []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	ps := make([]netip.Prefix, 0, len(cidrs))
	for i, raw := range cidrs {
		p, err := parsePrefix(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("entry %d %q: %w", i+1, raw, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty entry: want an IP address or CIDR prefix")
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("an address with a zone cannot be allowed")
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix: %w", err)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
