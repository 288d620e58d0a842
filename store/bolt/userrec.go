package bolt

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/internal/jsonscan"
)

// fastDecodeUser decodes a user record as encode writes it, without
// encoding/json: every userName lookup, probe and membership change reads
// one, and json.Unmarshal (which scans a record twice, the attributes
// included) was a tenth of a lookup's CPU. It accepts only the exact form
// encode gives (fields in order, no whitespace, strings without escapes,
// valid UTF-8) and returns false on anything else, for decode to use
// encoding/json; a fuzz test holds it to json.Unmarshal. The attributes
// are checked with json.Valid, as Unmarshal checks a RawMessage.
func fastDecodeUser(v []byte, r *userRecord) bool {
	p := recParser{b: v}
	var out userRecord
	if !p.lit(`{"userName":`) || !p.str(&out.UserName) {
		return false
	}
	if p.opt(`,"externalId":`) && !p.str(&out.ExternalID) {
		return false
	}
	if p.opt(`,"displayName":`) && !p.str(&out.DisplayName) {
		return false
	}
	if p.opt(`,"active":true`) {
		out.Active = true
	}
	if p.opt(`,"emails":[`) {
		for {
			var e string
			if !p.str(&e) {
				return false
			}
			out.Emails = append(out.Emails, e)
			if p.opt(`]`) {
				break
			}
			if !p.lit(`,`) {
				return false
			}
		}
	}
	if p.opt(`,"attributes":`) {
		if p.i >= len(p.b) || p.b[p.i] != '{' {
			return false
		}
		end, ok := jsonscan.SkipValue(p.b, p.i)
		if !ok || !json.Valid(p.b[p.i:end]) {
			return false
		}
		out.Attributes = bytes.Clone(p.b[p.i:end])
		p.i = end
	}
	if !p.lit(`,"version":`) || !p.uint(&out.Version) ||
		!p.lit(`,"created":`) || !p.time(&out.Created) ||
		!p.lit(`,"modified":`) || !p.time(&out.Modified) ||
		!p.lit(`}`) || p.i != len(p.b) {
		return false
	}
	*r = out
	return true
}

// recParser reads a record left to right; every method reports whether
// what it expected was there.
type recParser struct {
	b []byte
	i int
}

func (p *recParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// opt is lit for an optional field: false (and nothing read) when absent.
func (p *recParser) opt(s string) bool { return p.lit(s) }

// str reads a string without escapes or control characters, in valid UTF-8.
func (p *recParser) str(dst *string) bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[start:j]
			if !utf8.Valid(s) {
				return false
			}
			*dst = string(s)
			p.i = j + 1
			return true
		case c == '\\' || c < 0x20:
			return false
		}
	}
	return false
}

func (p *recParser) uint(dst *uint64) bool {
	j := p.i
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if j == p.i || (j-p.i > 1 && p.b[p.i] == '0') {
		return false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		return false
	}
	*dst, p.i = n, j
	return true
}

// time reads a time as encoding/json writes and reads it (RFC 3339).
func (p *recParser) time(dst *time.Time) bool {
	var s string
	if !p.str(&s) {
		return false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false
	}
	*dst = t
	return true
}
