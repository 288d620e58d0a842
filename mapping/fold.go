package mapping

import (
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// fold is the case-insensitive form of a displayName: NFC, then Unicode
// full case folding, then NFC again. It is the same definition as the
// store's Fold (which mapping may not import), so that a displayName rule
// matches exactly the groups that a displayName lookup in the store finds.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return norm.NFC.String(cases.Fold().String(norm.NFC.String(s)))
		}
	}
	// ASCII: NFC changes nothing and full folding is lower-casing.
	return lowerASCII(s)
}
