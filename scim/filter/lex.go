package filter

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The pre-scan runs over the raw filter before the parser sees it. It is a
// single linear pass that never recurses, so that a hostile filter (50 000
// nested parentheses, 10 000 or-terms) is refused in microseconds instead of
// the seconds the PEG parser takes. It also applies the lenient rewrites
// documented in doc.go, each on an exact token shape only.

type tokKind uint8

const (
	tkSpace  tokKind = iota // a run of spaces (tabs and line breaks count as spaces)
	tkWord                  // anything else between delimiters: names, operators, keywords, bare literals
	tkString                // a double-quoted literal, quotes included
	tkLParen
	tkRParen
	tkLBrack
	tkRBrack
)

type token struct {
	kind tokKind
	text string
	// value marks a compare value: the word or string after an operator.
	value bool
}

// scanResult is what the pre-scan learned about a filter.
type scanResult struct {
	toks     []token
	keywords int // and/or keywords outside values
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDelim(c byte) bool {
	return isSpace(c) || c == '"' || c == '(' || c == ')' || c == '[' || c == ']'
}

// scan splits s (valid UTF-8: every delimiter is ASCII, so multi-byte
// runes never split) into tokens. It fails on an unterminated string literal, on
// unbalanced or mismatched ( ) [ ], as soon as the nesting exceeds
// maxDepth, and as soon as the words "and" and "or" are too many for
// maxTerms comparisons (in a valid filter there is one comparison more than
// and/or keywords, and at most one value spelled "and" or "or" per
// comparison, so more than 2*maxTerms+1 such words cannot fit). The reason
// is a complete sentence for an error detail.
func scan(s string, maxDepth, maxTerms int) (scanResult, string) {
	r := scanResult{toks: make([]token, 0, min(len(s)/2+1, 256))}
	var open []byte // stack of '(' and '['; never longer than maxDepth
	andOr := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			j := i
			for j < len(s) && isSpace(s[j]) {
				j++
			}
			r.toks = append(r.toks, token{kind: tkSpace, text: " "})
			i = j
		case c == '"':
			j, text, ok := scanString(s, i)
			if !ok {
				return r, "the filter has an unterminated string literal (a \" without its closing \")"
			}
			r.toks = append(r.toks, token{kind: tkString, text: text})
			i = j
		case c == '(' || c == '[':
			if len(open) >= maxDepth {
				return r, "the filter nests parentheses, brackets and not() deeper than the limit of " + strconv.Itoa(maxDepth)
			}
			open = append(open, c)
			kind := tkLParen
			if c == '[' {
				kind = tkLBrack
			}
			r.toks = append(r.toks, token{kind: kind, text: string(c)})
			i++
		case c == ')' || c == ']':
			want := byte('(')
			kind := tkRParen
			if c == ']' {
				want, kind = '[', tkRBrack
			}
			if len(open) == 0 || open[len(open)-1] != want {
				return r, "the filter has unbalanced parentheses or brackets (an unexpected " + string(c) + ")"
			}
			open = open[:len(open)-1]
			r.toks = append(r.toks, token{kind: kind, text: string(c)})
			i++
		default:
			j := i
			for j < len(s) && !isDelim(s[j]) {
				j++
			}
			w := s[i:j]
			if strings.EqualFold(w, "and") || strings.EqualFold(w, "or") {
				andOr++
				if andOr > 2*maxTerms+1 {
					return r, tooManyTerms(maxTerms)
				}
			}
			r.toks = append(r.toks, token{kind: tkWord, text: w})
			i = j
		}
	}
	if len(open) > 0 {
		return r, "the filter has unbalanced parentheses or brackets (a " + string(open[len(open)-1]) + " is never closed)"
	}
	markValues(r.toks)
	for _, t := range r.toks {
		if isKeyword(t, "and") || isKeyword(t, "or") {
			r.keywords++
		}
	}
	return r, ""
}

func tooManyTerms(maxTerms int) string {
	return "the filter has more than " + strconv.Itoa(maxTerms) + " comparisons, the limit"
}

// scanString scans the string literal that starts at s[i] (a double
// quote). It returns the index after the closing quote and the literal with
// the hex digits of \u escapes upper-cased: the parser refuses lower-case
// hex, JSON allows it.
func scanString(s string, i int) (int, string, bool) {
	var fixed []byte // a copy, made only when a lower-case hex digit is found
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '"':
			if fixed != nil {
				return j + 1, string(fixed[:j+1-i]), true
			}
			return j + 1, s[i : j+1], true
		case '\\':
			if j+1 < len(s) && s[j+1] == 'u' {
				for k := j + 2; k < j+6 && k < len(s); k++ {
					if c := s[k]; c >= 'a' && c <= 'f' {
						if fixed == nil {
							fixed = []byte(s[i:])
						}
						fixed[k-i] = c - 'a' + 'A'
					}
				}
			}
			j += 2
			continue
		}
		j++
	}
	return 0, "", false
}

var compareOps = map[string]bool{
	"eq": true, "ne": true, "co": true, "sw": true, "ew": true,
	"gt": true, "lt": true, "ge": true, "le": true,
}

func isCompareOp(t token) bool {
	return t.kind == tkWord && !t.value && compareOps[strings.ToLower(t.text)]
}

// isKeyword reports whether t is the logical keyword kw (and, or, not) and
// not a compare value that happens to be spelled like one.
func isKeyword(t token, kw string) bool {
	return t.kind == tkWord && !t.value && strings.EqualFold(t.text, kw)
}

func isAnyKeyword(t token) bool {
	return isKeyword(t, "and") || isKeyword(t, "or") || isKeyword(t, "not")
}

// markValues marks the compare values (the token after "attrPath op ") and
// quotes bare-word values: `externalId eq jyoung` becomes
// `externalId eq "jyoung"`. A bare word that is true, false, null or a JSON
// number stays a literal; one holding a quote or a backslash is left alone
// for the parser to refuse (`userName eq 'x'` must not silently become a
// search for the five characters 'x').
func markValues(toks []token) {
	for i := 4; i < len(toks); i++ {
		t := &toks[i]
		if t.kind != tkWord && t.kind != tkString {
			continue
		}
		if toks[i-1].kind != tkSpace || !isCompareOp(toks[i-2]) || toks[i-3].kind != tkSpace {
			continue
		}
		attr := toks[i-4]
		if attr.kind != tkWord || attr.value || isAnyKeyword(attr) {
			continue
		}
		t.value = true
		if t.kind == tkWord && bareString(t.text) {
			t.kind = tkString
			t.text = `"` + t.text + `"`
		}
	}
}

func bareString(w string) bool {
	switch strings.ToLower(w) {
	case "true", "false", "null":
		return false
	}
	return !isJSONNumber(w) && !strings.ContainsAny(w, `'"\`)
}

// render renders the tokens back into the text the parser gets, applying
// (when rewriteSub is set) the one structural rewrite: the non-standard
// `emails[type eq "work"].value eq "x"` (Entra's portal and docs) becomes
// `emails[type eq "work" and value eq "x"]`, which means the same (one
// element satisfies both). It applies only when the brackets hold a single
// comparison (the parser allows two terms in brackets, so a two-term filter
// would not fit) and the suffix is ".name op value" or ".name pr".
func render(toks []token, rewriteSub bool) string {
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		if rewriteSub && toks[i].kind == tkRBrack {
			if n, sub := subAfterBracket(toks, i); n > 0 {
				b.WriteString(" and ")
				b.WriteString(sub)
				b.WriteString("]")
				i += n
				continue
			}
		}
		b.WriteString(toks[i].text)
	}
	return b.String()
}

// subAfterBracket checks the shape `[ attrExp ] .sub op value` around the
// ] at toks[i]. It returns how many tokens after the ] it consumes and the
// comparison to move inside ("value eq \"x\""), or 0.
func subAfterBracket(toks []token, i int) (int, string) {
	// Inside: a single comparison, no keywords, no nesting.
	j := i - 1
	for j >= 0 && toks[j].kind != tkLBrack {
		switch t := toks[j]; {
		case t.kind == tkLParen || t.kind == tkRParen || t.kind == tkRBrack:
			return 0, ""
		case isAnyKeyword(t):
			return 0, ""
		}
		j--
	}
	if j < 1 {
		return 0, ""
	}
	if k := prevNonSpace(toks, j); k < 0 || toks[k].kind != tkWord || toks[k].value || isAnyKeyword(toks[k]) {
		return 0, ""
	}
	// Outside: ".sub" SP op (SP value | "pr" ...).
	if i+3 >= len(toks) {
		return 0, ""
	}
	sub, sp, op := toks[i+1], toks[i+2], toks[i+3]
	if sub.kind != tkWord || !validSubSuffix(sub.text) || sp.kind != tkSpace || op.kind != tkWord {
		return 0, ""
	}
	name := sub.text[1:]
	if strings.EqualFold(op.text, "pr") {
		if i+4 < len(toks) && toks[i+4].kind != tkSpace && toks[i+4].kind != tkRParen {
			return 0, ""
		}
		return 3, name + " pr"
	}
	if !isCompareOp(op) || i+5 >= len(toks) || toks[i+4].kind != tkSpace {
		return 0, ""
	}
	val := toks[i+5]
	if !val.value {
		return 0, ""
	}
	return 5, name + " " + op.text + " " + val.text
}

// validSubSuffix reports whether w is "." followed by an attribute name.
func validSubSuffix(w string) bool {
	if len(w) < 2 || w[0] != '.' {
		return false
	}
	name := w[1:]
	if name[0] == '$' {
		name = name[1:]
	}
	if name == "" || !isAlpha(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// diagnose guesses, after the parser refused a filter, the most likely
// mistake, in words for an error detail.
func diagnose(toks []token) string {
	inBrack := false
	terms := 0
	for i, t := range toks {
		switch t.kind {
		case tkLBrack:
			inBrack, terms = true, 0
		case tkRBrack:
			inBrack = false
		case tkLParen:
			if inBrack && !(prevNonSpace(toks, i) >= 0 && isKeyword(toks[prevNonSpace(toks, i)], "not")) {
				return "a value filter in [...] cannot contain parentheses; write emails[type eq \"work\" and value co \"@example.com\"]"
			}
		case tkWord:
			if strings.ContainsRune(t.text, '\'') {
				return "string literals must be in double quotes, not single quotes"
			}
			if t.value {
				continue
			}
			if inBrack && (isKeyword(t, "and") || isKeyword(t, "or")) {
				terms++
				if terms > 1 {
					return "a value filter in [...] can hold at most two comparisons joined by and/or"
				}
			}
			if isKeyword(t, "not") {
				if k := nextNonSpace(toks, i); k < 0 || toks[k].kind != tkLParen {
					if k < 0 || !isCompareOp(toks[k]) && !strings.EqualFold(toks[k].text, "pr") {
						return "not must be followed by a filter in parentheses: not (title pr)"
					}
				}
			}
			if operatorPosition(toks, i) {
				lower := strings.ToLower(t.text)
				if !compareOps[lower] && lower != "pr" {
					return "unknown operator " + strconvQuote(t.text) + " after " + strconvQuote(toks[i-2].text) + "; use eq, ne, co, sw, ew, gt, ge, lt, le or pr"
				}
				if lower != "pr" && (i+2 >= len(toks) || toks[i+1].kind != tkSpace) {
					return "operator " + lower + " after " + strconvQuote(toks[i-2].text) + " needs a value, e.g. " + toks[i-2].text + " " + lower + " \"value\""
				}
			}
		}
	}
	return "the filter is not valid SCIM filter syntax (RFC 7644 section 3.4.2.2), e.g. userName eq \"bjensen\" and active eq true"
}

// operatorPosition reports whether toks[i] sits where an operator must be:
// after "attrPath " at the start of an expression.
func operatorPosition(toks []token, i int) bool {
	if i < 2 || toks[i-1].kind != tkSpace {
		return false
	}
	a := toks[i-2]
	if a.kind != tkWord || a.value || isAnyKeyword(a) || isCompareOp(a) || strings.EqualFold(a.text, "pr") {
		return false
	}
	k := prevNonSpace(toks, i-2)
	return k < 0 || toks[k].kind == tkLParen || toks[k].kind == tkLBrack || isKeyword(toks[k], "and") || isKeyword(toks[k], "or")
}

func prevNonSpace(toks []token, i int) int {
	for k := i - 1; k >= 0; k-- {
		if toks[k].kind != tkSpace {
			return k
		}
	}
	return -1
}

func nextNonSpace(toks []token, i int) int {
	for k := i + 1; k < len(toks); k++ {
		if toks[k].kind != tkSpace {
			return k
		}
	}
	return -1
}

// strconvQuote quotes a fragment of the filter for an error detail, cut to
// a readable length.
func strconvQuote(s string) string {
	if len(s) > 40 {
		n := 40
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return quote(s)
}
