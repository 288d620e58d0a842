package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// decodeObject parses a request body strictly: valid UTF-8, one JSON
// object and nothing after it, no key given twice in one object, nesting
// at most maxJSONDepth, numbers kept as json.Number. Invalid UTF-8 is
// refused rather than replaced, since replacement characters make distinct
// names collide.
func decodeObject(body []byte) (map[string]any, *scimerrors.ScimError) {
	if !utf8.Valid(body) {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "request body is not valid UTF-8")
	}
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
