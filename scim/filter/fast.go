package filter

import (
	"encoding/json"
	"strings"

	scimfilter "github.com/scim2/filter-parser/v2"
)

// fastParse builds the AST of a filter that is a single comparison
// ("attrPath op value" or "attrPath pr") straight from the pre-scan's
// tokens, without the PEG parser, which spends some 2 000 allocations on
// userName eq "…", the request every IdP sends most. It accepts exactly
// what the parser accepts for that shape and yields the same AST
// (FuzzParse and TestFastParse check both against the parser); anything
// else returns ok=false and goes to the parser.
func fastParse(toks []token) (scimfilter.Expression, bool) {
	switch {
	case len(toks) == 3 && toks[0].kind == tkWord && toks[1].kind == tkSpace && toks[2].kind == tkWord && strings.EqualFold(toks[2].text, "pr"):
		p, ok := fastAttrPath(toks[0].text)
		if !ok {
			return nil, false
		}
		return &scimfilter.AttributeExpression{AttributePath: p, Operator: scimfilter.PR}, true
	case len(toks) == 5 && toks[0].kind == tkWord && toks[1].kind == tkSpace && isCompareOp(toks[2]) && toks[3].kind == tkSpace && toks[4].value:
		p, ok := fastAttrPath(toks[0].text)
		if !ok {
			return nil, false
		}
		v, ok := fastValue(toks[4])
		if !ok {
			return nil, false
		}
		op := scimfilter.CompareOperator(strings.ToLower(toks[2].text))
		return &scimfilter.AttributeExpression{AttributePath: p, Operator: op, CompareValue: v}, true
	}
	return nil, false
}

// fastValue converts a compare value token as ParseFilterNumber does.
func fastValue(t token) (any, bool) {
	switch t.kind {
	case tkString:
		content := t.text[1 : len(t.text)-1]
		if _, err := ParseValueString(content); err != nil {
			return nil, false // let the parser report it
		}
		return content, true
	case tkWord:
		switch strings.ToLower(t.text) {
		case "true":
			return true, true
		case "false":
			return false, true
		case "null":
			return nil, true
		}
		if isJSONNumber(t.text) {
			return json.Number(strings.Replace(t.text, "E", "e", 1)), true
		}
	}
	return nil, false
}

// fastAttrPath parses attrPath = [URI ":"] ATTRNAME ["." ATTRNAME] as the
// parser's PEG does: the URI is every leading run of [A-Za-z0-9.-]
// followed by a colon, taken greedily.
func fastAttrPath(w string) (scimfilter.AttributePath, bool) {
	var p scimfilter.AttributePath
	uriEnd := 0
	for {
		j := uriEnd
		for j < len(w) && isURIChar(w[j]) {
			j++
		}
		if j == uriEnd || j >= len(w) || w[j] != ':' {
			break
		}
		uriEnd = j + 1
	}
	rest := w[uriEnd:]
	n := attrNameLen(rest)
	if n == 0 {
		return p, false
	}
	p.AttributeName = rest[:n]
	rest = rest[n:]
	if rest != "" {
		m := 0
		if rest[0] == '.' {
			m = attrNameLen(rest[1:])
		}
		if m == 0 || 1+m != len(rest) {
			return p, false
		}
		sub := rest[1:]
		p.SubAttribute = &sub
	}
	if uriEnd > 0 {
		uri := w[:uriEnd-1]
		p.URIPrefix = &uri
	}
	return p, true
}

func isURIChar(c byte) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// attrNameLen returns the length of the ATTRNAME ("$"? ALPHA *nameChar) at
// the start of s, or 0.
func attrNameLen(s string) int {
	i := 0
	if i < len(s) && s[i] == '$' {
		i++
	}
	if i >= len(s) || !isAlpha(s[i]) {
		return 0
	}
	i++
	for i < len(s) && (isAlpha(s[i]) || s[i] >= '0' && s[i] <= '9' || s[i] == '-' || s[i] == '_') {
		i++
	}
	return i
}
