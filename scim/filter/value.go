package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseValueString decodes the content of a filter string literal (the text
// between the double quotes, as the parser returns it with its escapes left
// undecoded) per the JSON string rules of RFC 8259: \" \\ \/ \b \f \n \r \t
// and \uXXXX with upper- or lower-case hex digits, surrogate pairs combined.
// A lone surrogate, an unknown escape, a raw control character, a raw double
// quote or invalid UTF-8 is an error: such a literal could only ever match
// by accident.
func ParseValueString(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		if err := checkRaw(s); err != nil {
			return "", err
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i
			for j < len(s) && s[j] != '\\' {
				j++
			}
			if err := checkRaw(s[i:j]); err != nil {
				return "", err
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("string ends with a lone backslash")
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n, err := decodeU(s[i:])
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
			i += n
			continue
		default:
			return "", fmt.Errorf("unknown escape \\%c", e)
		}
		i += 2
	}
	return b.String(), nil
}

// checkRaw checks an unescaped run of a string literal.
func checkRaw(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("string is not valid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20:
			return fmt.Errorf("string contains the raw control character U+%04X; escape it", c)
		case c == '"':
			return errors.New("string contains an unescaped double quote")
		}
	}
	return nil
}

// decodeU decodes a \uXXXX escape (and the low half of a surrogate pair
// after it) at the start of s and returns the rune and the bytes used.
func decodeU(s string) (rune, int, error) {
	r1, ok := hex4(s)
	if !ok {
		return 0, 0, errors.New(`\u must be followed by four hex digits`)
	}
	switch {
	case utf16.IsSurrogate(r1) && r1 < 0xDC00:
		r2, ok := hex4(s[6:])
		if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
			return 0, 0, fmt.Errorf(`\u%04X is a lone surrogate`, r1)
		}
		return utf16.DecodeRune(r1, r2), 12, nil
	case utf16.IsSurrogate(r1):
		return 0, 0, fmt.Errorf(`\u%04X is a lone surrogate`, r1)
	}
	return r1, 6, nil
}

// hex4 reads `\uXXXX` at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// quote encodes s as a filter string literal that the parser accepts:
// double quotes, backslashes and control characters escaped (control
// characters as \u00XX with upper-case hex, which is all the parser takes).
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04X`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// number is a numeric value: exact when it is an integer that fits in an
// int64, else a float64.
type number struct {
	i     int64
	f     float64
	isInt bool
}

// numberOf converts a JSON-decoded or parser-produced value to a number.
// Strings, booleans and every other type are not numbers.
func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return number{}, false
		}
		if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			return number{i: int64(x), f: x, isInt: true}, true
		}
		return number{f: x}, true
	case float32:
		return numberOf(float64(x))
	case int:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case int64:
		return number{i: x, f: float64(x), isInt: true}, true
	case int32:
		return number{i: int64(x), f: float64(x), isInt: true}, true
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return number{i: i, f: float64(i), isInt: true}, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return number{}, false // out of range or not a number
		}
		return numberOf(f)
	}
	return number{}, false
}

// cmpNumber returns -1, 0 or +1.
func cmpNumber(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

// parseTime parses an RFC 3339 dateTime (fractional seconds optional).
func parseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		return t, err == nil
	case time.Time:
		return x, true
	}
	return time.Time{}, false
}

// isJSONNumber reports whether s is a number as JSON (and the filter
// grammar) writes it.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
