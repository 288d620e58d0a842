// Package jsonscan finds where values end in JSON that scimbridge wrote
// itself (compact, valid), without decoding them. It is shared by the SCIM
// renderer, which splices stored documents into responses, and the bolt
// store, which reads its user records without encoding/json; neither may
// import the other.
package jsonscan

// SkipValue returns the end of the compact JSON value that starts at i.
// It trusts the document to be valid JSON (it was written by marshal) and
// only finds where the value ends.
func SkipValue(doc []byte, i int) (int, bool) {
	if i >= len(doc) {
		return 0, false
	}
	switch doc[i] {
	case '"':
		return SkipString(doc, i)
	case '{', '[':
		depth := 0
		for i < len(doc) {
			switch doc[i] {
			case '"':
				end, ok := SkipString(doc, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default: // number, true, false, null
		for i < len(doc) && doc[i] != ',' && doc[i] != '}' {
			if doc[i] == ' ' || doc[i] == '\n' || doc[i] == '\t' || doc[i] == '\r' {
				return 0, false
			}
			i++
		}
		return i, true
	}
}

// SkipString returns the index after the string that starts at doc[i].
func SkipString(doc []byte, i int) (int, bool) {
	for i++; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}
