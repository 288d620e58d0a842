package store

import (
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestFold(t *testing.T) {
	same := [][2]string{
		{"alice@example.com", "ALICE@EXAMPLE.COM"},
		{"kate@x", "\u212Aate@x"}, // Kelvin sign
		{"strasse@x", "straße@x"},
		{"STRASSE@x", "straße@x"},
		{"josé", "jose\u0301"}, // NFC and NFD
		{"ﬁle", "file"},        // ligature
	}
	for _, p := range same {
		if Fold(p[0]) != Fold(p[1]) {
			t.Errorf("Fold(%q) = %q, Fold(%q) = %q; want equal", p[0], Fold(p[0]), p[1], Fold(p[1]))
		}
	}
	differ := [][2]string{
		{"admin@x", "admin\u200b@x"},
		{"admin@x", "аdmin@x"}, // Cyrillic a
		{"istanbul", "İstanbul"},
	}
	for _, p := range differ {
		if Fold(p[0]) == Fold(p[1]) {
			t.Errorf("Fold(%q) == Fold(%q); want different", p[0], p[1])
		}
	}
}

// TestFoldASCIIFastPath proves the ASCII shortcut equals the full fold for
// every ASCII byte.
func TestFoldASCIIFastPath(t *testing.T) {
	full := func(s string) string { return norm.NFC.String(cases.Fold().String(norm.NFC.String(s))) }
	var all []byte
	for b := 0; b < 0x80; b++ {
		all = append(all, byte(b))
	}
	for _, s := range []string{string(all), "Alice@Example.COM", "already lower", "", "ZZ"} {
		if got, want := Fold(s), full(s); got != want {
			t.Errorf("Fold(%q) = %q; want %q", s, got, want)
		}
	}
}

func BenchmarkFold(b *testing.B) {
	for _, s := range []string{"Alice.Smith@Example.com", "Jürgen.Straße@example.de"} {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				Fold(s)
			}
		})
	}
}
