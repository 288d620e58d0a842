package store

import (
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

var folder = cases.Fold()

// Fold is the one canonical form used for every case-insensitive index and
// comparison in scimbridge: userName, emails, group displayName, and the
// case-insensitive filter operators. It is NFC normalisation, then Unicode
// full case folding (cases.Fold), then NFC again, so that "Alice" and
// "ALICE", "straße" and "STRASSE", the Kelvin sign and "K", and a composed
// and a decomposed "é" fold alike. Turkish dotted capital I folds to "i̇"
// (with the combining dot), not to "i", as Unicode full folding says.
//
// The same function is applied at write time (index keys) and at read time
// (lookups and filter evaluation), so an index lookup and a full scan always
// agree. Changing it requires a migration that rebuilds the indexes.
func Fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return norm.NFC.String(folder.String(norm.NFC.String(s)))
		}
	}
	// ASCII: NFC changes nothing and full folding is lower-casing.
	return asciiLower(s)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
