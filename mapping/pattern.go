package mapping

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pattern compiles a displayNamePattern into sel.
func (c *compiler) pattern(sel *selector, p, label, path string, line int) bool {
	if len(p) > MaxPatternBytes {
		c.errorf(label, path, line, "displayNamePattern is %d bytes, above the limit of %d", len(p), MaxPatternBytes)
		return false
	}
	invalid := func(err error) bool {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		hint := ""
		if strings.Contains(msg, "Perl syntax") {
			hint = " (RE2 has no lookahead, lookbehind or backreferences)"
		}
		c.errorf(label, path, line, "displayNamePattern is not a valid RE2 expression: %s%s", msg, hint)
		return false
	}
	// Measure the compiled program before regexp builds its own: a short
	// pattern with counted repetitions ([a-z]{1000}) can be huge, and
	// matching costs time in proportion to it.
	tree, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return invalid(err)
	}
	tree = tree.Simplify()
	prog, err := syntax.Compile(tree)
	if err != nil {
		return invalid(err)
	}
	n := len(prog.Inst)
	if n > MaxPatternSize {
		c.errorf(label, path, line, "displayNamePattern compiles to %d instructions, above the limit of %d: use fewer or smaller counted repetitions such as {100}", n, MaxPatternSize)
		return false
	}
	if c.patternSize += n; c.patternSize > MaxTotalPatternSize {
		if c.patternSize-n <= MaxTotalPatternSize { // report it once
			c.errorf(label, path, line, "the patterns of the document together compile to more than %d instructions, from here on: simplify them or use fewer", MaxTotalPatternSize)
		}
		return false
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return invalid(err)
	}
	sel.re = re
	subs := []*syntax.Regexp{tree}
	if tree.Op == syntax.OpConcat {
		subs = tree.Sub
	}
	if len(subs) > 0 && subs[0].Op == syntax.OpBeginText {
		sel.prefix = literalPrefix(subs[1:])
	}
	if n := len(subs); n > 0 && subs[n-1].Op == syntax.OpEndText {
		sel.suffix = literalSuffix(subs[:n-1])
	}
	sel.needle = requiredLiteral(tree)
	if !anchored(tree, syntax.OpBeginText) || !anchored(tree, syntax.OpEndText) {
		c.warnf(label, path, line,
			"displayNamePattern %q is not anchored with ^ and $: it matches every displayName that merely contains a match; write ^...$ to match whole names", clip(p))
	}
	return true
}

// anchored reports whether every match of re starts (op OpBeginText) or
// ends (OpEndText) at that end of the text.
func anchored(re *syntax.Regexp, op syntax.Op) bool {
	switch re.Op {
	case op:
		return true
	case syntax.OpCapture:
		return anchored(re.Sub[0], op)
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return false
		}
		if op == syntax.OpBeginText {
			return anchored(re.Sub[0], op)
		}
		return anchored(re.Sub[len(re.Sub)-1], op)
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if !anchored(s, op) {
				return false
			}
		}
		return len(re.Sub) > 0
	}
	return false
}

// literalPrefix returns, lower-cased (ASCII letters only), the literal that
// subs (the parts of a pattern after its leading ^) start with: every name
// the pattern matches, lower-cased likewise, starts with it. It covers
// case-insensitive literals ((?i)) too, as far as their letters fold only
// to ASCII letters (k and s do not: the Kelvin sign and the long s fold to
// them), and stops at the first rune that is not ASCII.
func literalPrefix(subs []*syntax.Regexp) string {
	var b strings.Builder
	for _, s := range subs {
		if s.Op != syntax.OpLiteral {
			break
		}
		for _, r := range s.Rune {
			if r >= utf8.RuneSelf || s.Flags&syntax.FoldCase != 0 && !asciiFolds(r) {
				return b.String()
			}
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		}
	}
	return b.String()
}

// requiredLiteral returns, lower-cased like literalPrefix, the longest
// literal that every match of re contains, as far as it can tell from the
// top of the expression (literals, concatenations and captures), or "".
func requiredLiteral(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpCapture:
		return requiredLiteral(re.Sub[0])
	case syntax.OpLiteral:
		return literalPrefix([]*syntax.Regexp{re})
	case syntax.OpConcat:
		best := ""
		for i := 0; i < len(re.Sub); {
			if re.Sub[i].Op != syntax.OpLiteral {
				if c := requiredLiteral(re.Sub[i]); len(c) > len(best) {
					best = c
				}
				i++
				continue
			}
			j := i
			for j < len(re.Sub) && re.Sub[j].Op == syntax.OpLiteral {
				j++
			}
			if run := literalPrefix(re.Sub[i:j]); len(run) > len(best) {
				best = run
			}
			i = j
		}
		return best
	}
	return ""
}

// literalSuffix is literalPrefix for the parts of a pattern before its
// trailing $: every name the pattern matches, lower-cased, ends with it.
func literalSuffix(subs []*syntax.Regexp) string {
	var rev []byte
	for i := len(subs) - 1; i >= 0; i-- {
		s := subs[i]
		if s.Op != syntax.OpLiteral {
			break
		}
		for j := len(s.Rune) - 1; j >= 0; j-- {
			r := s.Rune[j]
			if r >= utf8.RuneSelf || s.Flags&syntax.FoldCase != 0 && !asciiFolds(r) {
				return string(reversed(rev))
			}
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			rev = append(rev, byte(r))
		}
	}
	return string(reversed(rev))
}

func reversed(b []byte) []byte {
	slices.Reverse(b)
	return b
}

// asciiFolds reports whether every rune that r matches case-insensitively
// is ASCII.
func asciiFolds(r rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of s.
func lowerASCII(s string) string {
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
