package patch

import (
	"encoding/json"
	"strconv"
	"strings"
)

// copyValue deep-copies a JSON value (maps and slices; scalars are
// immutable).
func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyValue(e)
		}
		return l
	}
	return v
}

// equal compares two JSON values; numbers compare by value whether they
// are json.Number or float64.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !equal(e, f) {
				return false
			}
		}
		return true
	}
	if n, ok := b.(json.Number); ok {
		if m, ok := a.(json.Number); ok && m == n {
			return true
		}
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	return ok1 && ok2 && x == y
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}

// jsonValue turns a filter literal into a value as encoding/json with
// UseNumber would have decoded it (the filter parser gives ints).
func jsonValue(v any) any {
	switch n := v.(type) {
	case int:
		return json.Number(strconv.Itoa(n))
	case float64:
		return json.Number(strconv.FormatFloat(n, 'g', -1, 64))
	}
	return v
}

// containsEqual reports whether list holds a value equal to v.
func containsEqual(list []any, v any) bool {
	for _, e := range list {
		if equal(e, v) {
			return true
		}
	}
	return false
}

// matchesAny reports whether e is selected by one of the values of a
// remove-with-value operation: an object selects the elements that have
// every sub-attribute it gives, with equal values (so {"value": "x"}
// selects the element whose value is x whatever else it holds); any other
// value selects equal elements. An empty object selects nothing.
func matchesAny(list []any, e any) bool {
	for _, sel := range list {
		s, ok := sel.(map[string]any)
		if !ok {
			if equal(sel, e) {
				return true
			}
			continue
		}
		m, ok := e.(map[string]any)
		if !ok || len(s) == 0 {
			continue
		}
		all := true
		for k, x := range s {
			if !equal(x, m[k]) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// fixPrimary implements RFC 7644 section 3.5.2: when an operation sets
// "primary" to true on a value (touched[i]), every other value of the
// attribute that was primary gets "primary": false.
func fixPrimary(list []any, touched []bool) {
	primary := false
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i < len(touched) && touched[i] && m["primary"] == true {
			primary = true
		}
	}
	if !primary {
		return
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && (i >= len(touched) || !touched[i]) && m["primary"] == true {
			m["primary"] = false
		}
	}
}

// lookup finds name in m, first as spelled, then without regard to case.
func lookup(m map[string]any, name string) (string, any) {
	if m == nil {
		return "", nil
	}
	if v, ok := m[name]; ok {
		return name, v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v
		}
	}
	return "", nil
}

// set sets m[name], dropping any key that differs from name only in case.
func set(m map[string]any, name string, v any) {
	del(m, name)
	m[name] = v
}

// del deletes name from m in any case.
func del(m map[string]any, name string) {
	delete(m, name)
	for k := range m {
		if strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
}
