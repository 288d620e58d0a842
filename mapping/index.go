package mapping

import (
	"slices"
	"strings"
)

// index finds the rules (or exclusions) whose selector may match a group
// without trying every selector: exact maps for id, externalId and folded
// displayName; for patterns anchored at the start with a literal prefix, a
// map from that prefix, lower-cased (see literalPrefix); for the other
// patterns anchored at the end with a literal suffix, likewise by suffix.
// Patterns with neither are tried for every group that contains their
// required literal, if they have one. The index only narrows: every
// candidate is still matched in full.
type index struct {
	byID         map[string][]int32
	byExternalID map[string][]int32
	byName       map[string][]int32
	byPrefix     map[string][]int32
	prefixLens   []int // distinct lengths of the keys of byPrefix, ascending
	bySuffix     map[string][]int32
	suffixLens   []int
	scan         []scanned
	size         int
}

// scanned is a pattern that the maps cannot find: it is a candidate for
// every displayName that contains needle (lower-cased).
type scanned struct {
	i      int32
	needle string
}

func newIndex() index {
	return index{
		byID:         map[string][]int32{},
		byExternalID: map[string][]int32{},
		byName:       map[string][]int32{},
		byPrefix:     map[string][]int32{},
		bySuffix:     map[string][]int32{},
	}
}

func addLen(lens []int, n int) []int {
	if slices.Contains(lens, n) {
		return lens
	}
	lens = append(lens, n)
	slices.Sort(lens)
	return lens
}

func (x *index) add(i int32, s *selector) {
	x.size++
	switch s.kind {
	case selID:
		x.byID[s.value] = append(x.byID[s.value], i)
	case selExternalID:
		x.byExternalID[s.value] = append(x.byExternalID[s.value], i)
	case selDisplayName:
		x.byName[s.value] = append(x.byName[s.value], i)
	case selPattern:
		switch {
		case s.prefix != "" && len(s.prefix) >= len(s.suffix):
			x.byPrefix[s.prefix] = append(x.byPrefix[s.prefix], i)
			x.prefixLens = addLen(x.prefixLens, len(s.prefix))
		case s.suffix != "":
			x.bySuffix[s.suffix] = append(x.bySuffix[s.suffix], i)
			x.suffixLens = addLen(x.suffixLens, len(s.suffix))
		default:
			x.scan = append(x.scan, scanned{i, s.needle})
		}
	}
}

// candidates appends to dst the indexes of the selectors that may match g
// (folded is g's folded displayName, lower its displayName with ASCII
// letters lower-cased), in no particular order and each at most once;
// linear returns every index instead.
func (x *index) candidates(dst []int32, g *Group, folded, lower string, linear bool) []int32 {
	if linear {
		for i := 0; i < x.size; i++ {
			dst = append(dst, int32(i))
		}
		return dst
	}
	if g.ID != "" {
		dst = append(dst, x.byID[g.ID]...)
	}
	if g.ExternalID != "" {
		dst = append(dst, x.byExternalID[g.ExternalID]...)
	}
	if len(x.byName) > 0 {
		dst = append(dst, x.byName[folded]...)
	}
	for _, n := range x.prefixLens {
		if n > len(lower) {
			break
		}
		dst = append(dst, x.byPrefix[lower[:n]]...)
	}
	for _, n := range x.suffixLens {
		if n > len(lower) {
			break
		}
		dst = append(dst, x.bySuffix[lower[len(lower)-n:]]...)
	}
	for _, sc := range x.scan {
		if sc.needle == "" || strings.Contains(lower, sc.needle) {
			dst = append(dst, sc.i)
		}
	}
	return dst
}

// needsLower reports whether candidates reads its lower argument.
func (x *index) needsLower() bool {
	if len(x.prefixLens) > 0 || len(x.suffixLens) > 0 {
		return true
	}
	for _, sc := range x.scan {
		if sc.needle != "" {
			return true
		}
	}
	return false
}
