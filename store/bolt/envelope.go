package bolt

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The event envelope is written by hand rather than by encoding/json: a
// group delete can append 100,000 events in one transaction. The output is
// byte for byte what encode(eventRecord) gives (TestEnvelopeMatchesEncode
// holds them equal), so readers decode it with encoding/json.

// appendHead appends the fields every event of the write shares:
// ,"occurred_at":…,"org":…
func (o *outbox) appendHead(b []byte) []byte {
	b = append(b, `,"occurred_at":"`...)
	b = o.now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","org":`...)
	return appendString(b, o.org)
}

// appendEvent appends the envelope of one event.
func (o *outbox) appendEvent(b []byte, seq uint64, directory, typ string, res resourceRecord, data eventData, changes []byte) []byte {
	b = append(b, `{"id":"`...)
	b = appendID(b)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	b = append(b, o.head...)
	if directory != "" {
		b = append(b, `,"directory":`...)
		b = appendString(b, directory)
	}
	b = append(b, `,"actor":{"type":`...)
	b = appendString(b, o.actor.Type)
	if o.actor.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, o.actor.ID)
	}
	if o.actor.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, o.actor.Name)
	}
	b = append(b, `},"resource":{"type":`...)
	b = appendString(b, res.Type)
	b = append(b, `,"id":`...)
	b = appendString(b, res.ID)
	b = append(b, '}')
	if data != nil {
		b = append(b, `,"data":`...)
		b = data.appendJSON(b)
	}
	if len(changes) > 0 {
		b = append(b, `,"changes":`...)
		b = append(b, changes...)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does
// without HTML escaping: control characters, U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
