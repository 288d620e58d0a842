package filter

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseValueString(t *testing.T) {
	tests := []struct {
		in, want string
		err      string // fragment; "" for success
	}{
		{`plain`, "plain", ""},
		{``, "", ""},
		{`a\"b`, `a"b`, ""},
		{`a\\b`, `a\b`, ""},
		{`a\/b`, `a/b`, ""},
		{`\b\f\n\r\t`, "\b\f\n\r\t", ""},
		{`\u00E9`, "é", ""},
		{`\u00e9`, "é", ""},
		{`caf\u00e9!`, "café!", ""},
		{`\uD83D\uDE00`, "😀", ""},
		{`\ud83d\ude00`, "😀", ""},
		{`\u0000`, "\x00", ""},
		{`é`, "é", ""},
		{`\uD83D`, "", "lone surrogate"},
		{`\uD83Dx`, "", "lone surrogate"},
		{`\uDE00`, "", "lone surrogate"},
		{`\uD83D\u0041`, "", "lone surrogate"},
		{`\u00G9`, "", "four hex digits"},
		{`\u00`, "", "four hex digits"},
		{`\x`, "", "unknown escape"},
		{`a\`, "", "lone backslash"},
		{"a\tb", "", "control character"},
		{`a"b`, "", "unescaped double quote"},
		{"\xff", "", "not valid UTF-8"},
		{`x\` + "\xff", "", "unknown escape"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseValueString(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseValueString(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseValueString(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			// It agrees with encoding/json on everything JSON accepts.
			var j string
			if jerr := json.Unmarshal([]byte(`"`+tt.in+`"`), &j); jerr == nil && j != got {
				t.Errorf("ParseValueString(%q) = %q; encoding/json says %q", tt.in, got, j)
			}
		})
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", `a"b\c`, "tab\there", "nul\x00", "\x1f", "é😀", "\u2028", "/"} {
		q := quote(s)
		got, err := ParseValueString(q[1 : len(q)-1])
		if err != nil || got != s {
			t.Errorf("ParseValueString(quote(%q) = %s) = %q, %v; want %q", s, q, got, err, s)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "5": true, "-12": true, "1.5": true, "1e5": true, "1E+5": true, "1.5e-3": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "+1": false, "0x10": false,
		"3f2a9c1e": false, "1-2": false, "NaN": false, "Infinity": false,
	} {
		if got := isJSONNumber(s); got != want {
			t.Errorf("isJSONNumber(%q) = %v; want %v", s, got, want)
		}
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		a, b any
		want int
	}{
		{json.Number("9007199254740993"), json.Number("9007199254740992"), 1}, // exact beyond float64
		{json.Number("5"), 5.0, 0},
		{json.Number("1.5e3"), 1500, 0},
		{-1, json.Number("-0.5"), -1},
		{int64(3), float32(3), 0},
	}
	for _, tt := range tests {
		a, okA := numberOf(tt.a)
		b, okB := numberOf(tt.b)
		if !okA || !okB {
			t.Fatalf("numberOf(%v), numberOf(%v) = %v, %v; want numbers", tt.a, tt.b, okA, okB)
		}
		if got := cmpNumber(a, b); got != tt.want {
			t.Errorf("cmpNumber(%v, %v) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, v := range []any{"5", true, nil, json.Number("1e999"), json.Number("x")} {
		if _, ok := numberOf(v); ok {
			t.Errorf("numberOf(%#v) ok = true; want false", v)
		}
	}
}
