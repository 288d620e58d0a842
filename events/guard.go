package events

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrBlockedAddress means a connection was refused by the egress guard:
// the address is internal (loopback, private, link-local, ...) and
// Config.AllowPrivateNetworks is not set.
var ErrBlockedAddress = errors.New("events: address is not allowed for webhooks")

// ErrInvalidURL means a subscription URL was refused by ValidateURL.
var ErrInvalidURL = errors.New("events: invalid subscription URL")

// MaxURLLength caps subscription URLs.
const MaxURLLength = 2048

// reserved are the ranges refused besides what netip's predicates cover:
// "this network", CGNAT, IETF protocol assignments, benchmarking, the old
// class E and broadcast, documentation, and IPv6 site-local.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fec0::/10"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	// IPv6 forms that can carry an internal IPv4 address: local-use NAT64
	// (RFC 8215), IPv4-compatible addresses, Teredo. No webhook needs them.
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("2001::/32"),
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// internal reports whether ip is an address a webhook must not reach, and
// whether it is loopback (which AllowInsecureHTTP allows).
func internal(ip netip.Addr) (blocked, loopback bool) {
	ip = ip.Unmap().WithZone("")
	// IPv4 carried inside IPv6 (NAT64, 6to4) is judged as that IPv4.
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		return internal(netip.AddrFrom4([4]byte(b[12:16])))
	}
	if ip.Is6() && sixToFour.Contains(ip) {
		b := ip.As16()
		return internal(netip.AddrFrom4([4]byte(b[2:6])))
	}
	if ip.IsLoopback() {
		return true, true
	}
	if !ip.IsValid() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true, false
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return true, false
		}
	}
	return false, false
}

// allowed reports whether cfg lets a connection reach ip.
func (c Config) allowed(ip netip.Addr) bool {
	blocked, loopback := internal(ip)
	return !blocked || c.AllowPrivateNetworks || loopback && c.AllowInsecureHTTP
}

// control is the net.Dialer.Control of the delivery client: it sees the
// resolved address of every connection, so DNS rebinding cannot get past
// it.
func (c Config) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBlockedAddress, address, err)
	}
	if !c.allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s is an internal address", ErrBlockedAddress, ap.Addr())
	}
	return nil
}

// newClient returns the HTTP client of deliveries: egress guard at dial
// time, no proxy, no redirects, timeouts.
func newClient(cfg Config) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second, Control: cfg.control}
	tr := &http.Transport{
		Proxy:                  nil, // an environment proxy would be dialed instead of the target
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.ConnectTimeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ValidateURL checks a subscription URL when it is saved: an absolute
// https URL with a host and without user info or fragment; http only to a
// loopback host (localhost, 127.0.0.0/8, ::1) with cfg.AllowInsecureHTTP.
// A literal IP address (in any of the forms that resolvers accept, such
// as 2130706433 or 0x7f.1) must be allowed by the egress guard, and so
// must "localhost". Other names are checked when dialing, every time,
// on the address they resolve to. Errors wrap ErrInvalidURL and say what
// is wrong; they are fit to show the administrator.
func ValidateURL(raw string, cfg Config) (*url.URL, error) {
	bad := func(format string, args ...any) (*url.URL, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidURL, fmt.Sprintf(format, args...))
	}
	if raw == "" {
		return bad("the URL is empty")
	}
	if len(raw) > MaxURLLength {
		return bad("the URL is longer than %d bytes", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("the URL does not parse")
	}
	switch {
	case !u.IsAbs() || u.Opaque != "":
		return bad("the URL must be absolute, as https://host/path")
	case u.User != nil:
		return bad("the URL must not carry a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("the URL must not have a fragment")
	case u.Hostname() == "":
		return bad("the URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || n.Port() == 0 {
			return bad("the port %q is not valid", p)
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	ip, isIP := hostIP(host)
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if isIP {
		if !ip.IsValid() {
			return bad("the host %q is not a valid address or name", u.Hostname())
		}
		var blocked bool
		blocked, loopback = internal(ip)
		if blocked && !cfg.allowed(ip) {
			return bad("the host %s is an internal address; webhooks may only reach public addresses", ip)
		}
	} else if loopback && !cfg.AllowPrivateNetworks && !cfg.AllowInsecureHTTP {
		return bad("the host %q is the local machine; webhooks may only reach public addresses", host)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !cfg.AllowInsecureHTTP {
			return bad("the scheme must be https")
		}
		if !loopback {
			return bad("plain http is only allowed to a loopback host (development); use https")
		}
	default:
		return bad("the scheme must be https, not %q", u.Scheme)
	}
	return u, nil
}

// hostIP tells whether host is an IP address, in standard form or in one
// of the forms inet_aton accepts (decimal, octal or hex parts, fewer than
// four parts). Such a host is an address, never a DNS name: a name's last
// label is never numeric. isIP with an invalid ip means a numeric host
// that is no valid address.
func hostIP(host string) (ip netip.Addr, isIP bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if last == "" || !numeric(last) {
		return netip.Addr{}, false
	}
	if len(labels) > 4 {
		return netip.Addr{}, true
	}
	var parts []uint64
	for _, l := range labels {
		n, ok := parseInetPart(l)
		if !ok {
			return netip.Addr{}, true
		}
		parts = append(parts, n)
	}
	var v uint64
	for i, p := range parts[:len(parts)-1] {
		if p > 255 {
			return netip.Addr{}, true
		}
		v |= p << (24 - 8*i)
	}
	rest := parts[len(parts)-1]
	if rest >= 1<<(32-8*(len(parts)-1)) {
		return netip.Addr{}, true
	}
	v |= rest
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func numeric(s string) bool {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return true
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseInetPart(s string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var n uint64
	for _, r := range strings.ToLower(s) {
		var d uint64
		switch {
		case r >= '0' && r <= '9':
			d = uint64(r - '0')
		case r >= 'a' && r <= 'f':
			d = uint64(r-'a') + 10
		default:
			return 0, false
		}
		if d >= uint64(base) {
			return 0, false
		}
		n = n*uint64(base) + d
		if n > 1<<32 {
			return 0, false
		}
	}
	return n, true
}
