package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/resource"
)

// maxJSONDepth is how deeply objects and arrays may nest in a request body.
// SCIM documents nest three levels at most (extension → complex → value).
const maxJSONDepth = 32

// readBody reads the request body under the size cap. A body above the cap
// is refused with 413 without being read further.
func readBody(r *http.Request, max int64) ([]byte, *scimerrors.ScimError) {
	tooLarge := &scimerrors.ScimError{
		Status: http.StatusRequestEntityTooLarge,
		Detail: fmt.Sprintf("request body is larger than the limit of %d bytes", max),
	}
	if r.ContentLength > max {
		return nil, tooLarge
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return nil, &scimerrors.ScimError{
			Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("content type %q is not supported; send application/scim+json", ct),
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "could not read the request body")
	}
	if int64(len(body)) > max {
		return nil, tooLarge
	}
	return body, nil
}

// decodeObject parses a request body strictly: valid UTF-8, no lone
// surrogate escape, one JSON object and nothing after it, no key given
// twice in one object, nesting at most maxJSONDepth, numbers kept as
// json.Number. Invalid UTF-8 and lone surrogates are refused rather than
// replaced, since replacement characters make distinct names collide.
func decodeObject(body []byte) (map[string]any, *scimerrors.ScimError) {
	if !utf8.Valid(body) {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "request body is not valid UTF-8")
	}
	if esc, ok := loneSurrogate(body); ok {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "request body has the escape %s, half of a UTF-16 surrogate pair without the other half", esc)
	}
	if obj, ok := fastDecodeObject(body); ok {
		return obj, nil
	}
	return decodeObjectSlow(body)
}

// decodeObjectSlow walks the body token by token: it finds the duplicate
// key or the nesting that fastDecodeObject refused, and words every error.
func decodeObjectSlow(body []byte) (map[string]any, *scimerrors.ScimError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "request body is not valid JSON: %s", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "request body has data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "request body must be a JSON object")
	}
	return obj, nil
}

// fastDecodeObject decodes a body that is valid JSON, one object, with no
// key twice in an object and no nesting deeper than maxJSONDepth, in one
// pass of encoding/json, which is several times faster than the token walk
// (the walk was 10% of the CPU of a create). For anything else it returns
// false and decodeObjectSlow decides and words the error; the fuzz test
// checks both give the same answer.
func fastDecodeObject(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	// Decode read one valid value; with only white space after it the
	// whole body is valid JSON, which uniqueKeys relies on.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) != 0 || !uniqueKeys(body) {
		return nil, false
	}
	return obj, true
}

// uniqueKeys reports whether valid JSON b has no object with a key twice
// (keys compared as decoded strings) and no container nested deeper than
// maxJSONDepth.
func uniqueKeys(b []byte) bool {
	type frame struct {
		obj       bool
		expectKey bool
		keys      []string        // the first few keys: a scan is cheapest
		many      map[string]bool // from the 17th on: an object may have 100,000 keys
	}
	var stack []frame
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return false
			}
			stack = append(stack, frame{obj: b[i] == '{', expectKey: b[i] == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := &stack[len(stack)-1]; top.obj {
				top.expectKey = true
			}
		case '"':
			start, escaped := i, false
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					escaped = true
					i++
				}
			}
			if len(stack) == 0 {
				continue
			}
			top := &stack[len(stack)-1]
			if !top.obj || !top.expectKey {
				continue
			}
			top.expectKey = false
			key := string(b[start+1 : i])
			if escaped {
				if err := json.Unmarshal(b[start:i+1], &key); err != nil {
					return false
				}
			}
			switch {
			case top.many != nil:
				if top.many[key] {
					return false
				}
				top.many[key] = true
			case slices.Contains(top.keys, key):
				return false
			case len(top.keys) < 16:
				top.keys = append(top.keys, key)
			default:
				top.many = make(map[string]bool, 64)
				for _, k := range top.keys {
					top.many[k] = true
				}
				top.many[key] = true
			}
		}
	}
	return true
}

// loneSurrogate returns the first \uXXXX escape in body that is half of a
// UTF-16 surrogate pair without its other half. encoding/json decodes such
// an escape to U+FFFD, so "\ud800" and "\udfff" would become the same
// name, as invalid UTF-8 would; filter literals refuse them for the same
// reason (filter.ParseValueString). Escapes occur only inside strings (a
// backslash elsewhere is a syntax error the decoder reports), and each is
// a backslash and one byte, or \u and four hex digits, so a walk from
// escape to escape finds them without parsing the JSON.
func loneSurrogate(body []byte) (string, bool) {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		switch {
		case !ok:
			i++ // a two-byte escape; a malformed \u is the decoder's to report
		case utf16.IsSurrogate(r) && r < 0xDC00:
			if low, ok := hex4(i + 6); !ok || low < 0xDC00 || low > 0xDFFF {
				return string(body[i : i+6]), true
			}
			i += 11
		case utf16.IsSurrogate(r):
			return string(body[i : i+6]), true
		default:
			i += 5
		}
	}
	return "", false
}

var errTooDeep = errors.New("nested too deeply")

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end of input")
		}
		return nil, simplifyJSONError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, errTooDeep
		}
		switch t {
		case '{':
			obj := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, simplifyJSONError(err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("key %q is given twice", key)
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, simplifyJSONError(err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, simplifyJSONError(err)
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %q", t)
	default:
		return t, nil
	}
}

// simplifyJSONError keeps the parser's message (it names the offending
// character and offset) without Go type names.
func simplifyJSONError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return errors.New("malformed JSON")
}
