package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on the shape of the source, before its meaning is read.
const (
	maxDepth        = 32      // nesting of objects and lists; a valid document needs 5
	maxNodes        = 1 << 20 // values, counting each expansion of a YAML alias
	maxAliasedNodes = 1 << 16 // values reached through YAML aliases
)

// Parse reads a rules document, validates it completely and compiles it.
//
// contentType selects the syntax: application/json (or any +json type) for
// JSON; application/yaml, application/x-yaml, text/yaml (or any +yaml type)
// for YAML; empty or text/plain to sniff (a document whose first
// non-blank byte is '{' is JSON, anything else YAML). Both syntaxes carry the
// same structure and field names; unknown fields, duplicate keys, a second
// YAML document, and a value of the wrong type (a number where a string
// belongs: quote it) are errors in both.
//
// On any fault Parse returns a *ValidationError listing every problem it
// found, each with the rule, the field path and, where known, the line.
func Parse(data []byte, contentType string) (*Rules, error) {
	if len(data) > MaxDocumentBytes {
		return nil, &ValidationError{Problems: []Problem{{Message: fmt.Sprintf("document is %d bytes, above the limit of %d", len(data), MaxDocumentBytes)}}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	isJSON, err := syntaxOf(data, contentType)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: err.Error()}}}
	}
	var root *node
	var line int
	if isJSON {
		root, line, err = jsonTree(data)
	} else {
		root, line, err = yamlTree(data)
	}
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{Line: line, Message: err.Error()}}}
	}
	return compile(root)
}

// syntaxOf reports whether data is to be read as JSON (else YAML).
func syntaxOf(data []byte, contentType string) (bool, error) {
	if strings.TrimSpace(contentType) != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return false, fmt.Errorf("content type %q does not parse: %v", contentType, err)
		}
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			return true, nil
		case mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" ||
			mt == "text/x-yaml" || strings.HasSuffix(mt, "+yaml"):
			return false, nil
		case mt == "text/plain" || mt == "application/octet-stream":
		default:
			return false, fmt.Errorf("unsupported content type %q: send application/json or application/yaml", mt)
		}
	}
	rest := bytes.TrimLeft(data, " \t\r\n")
	return len(rest) > 0 && rest[0] == '{', nil
}

// kind is the kind of a value in the syntax-neutral tree.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kList
	kMap
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "a boolean"
	case kNumber:
		return "a number"
	case kString:
		return "a string"
	case kList:
		return "a list"
	case kMap:
		return "an object"
	}
	return "a value"
}

// node is one value of the source, JSON or YAML, with its line. For kMap,
// keys, keyLines and items are parallel (items holds the values); for kList,
// items holds the elements.
type node struct {
	kind     kind
	line     int
	text     string // a string; a number as written; "true" or "false"
	items    []*node
	keys     []string
	keyLines []int
}

// jsonTree reads data as one JSON value. On error it returns the line.
func jsonTree(data []byte) (*node, int, error) {
	r := jsonReader{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	r.dec.UseNumber()
	for i, c := range data {
		if c == '\n' {
			r.newlines = append(r.newlines, i)
		}
	}
	n, err := r.value(0)
	if err != nil {
		return nil, r.errLine(err), err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, r.line(r.dec.InputOffset()), errors.New("invalid JSON: data after the document's closing brace")
	}
	return n, 0, nil
}

type jsonReader struct {
	dec      *json.Decoder
	data     []byte
	newlines []int // offsets of '\n'
	nodes    int
}

// line returns the 1-based line of byte offset off.
func (r *jsonReader) line(off int64) int {
	return sort.SearchInts(r.newlines, int(off)) + 1
}

func (r *jsonReader) errLine(err error) int {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return r.line(se.Offset)
	}
	return r.line(r.dec.InputOffset())
}

func (r *jsonReader) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("document nests deeper than %d levels", maxDepth)
	}
	if r.nodes++; r.nodes > maxNodes {
		return nil, fmt.Errorf("document has more than %d values", maxNodes)
	}
	tok, err := r.dec.Token()
	if err == io.EOF {
		return nil, errors.New("invalid JSON: unexpected end of document")
	}
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	n := &node{line: r.line(r.dec.InputOffset())}
	switch v := tok.(type) {
	case nil:
		n.kind = kNull
	case bool:
		n.kind, n.text = kBool, fmt.Sprint(v)
	case json.Number:
		n.kind, n.text = kNumber, string(v)
	case string:
		n.kind, n.text = kString, v
	case json.Delim:
		switch v {
		case '[':
			n.kind = kList
			for r.dec.More() {
				item, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, item)
			}
		case '{':
			n.kind = kMap
			seen := map[string]int{}
			for r.dec.More() {
				tok, err := r.dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %v", err)
				}
				key, _ := tok.(string)
				kl := r.line(r.dec.InputOffset())
				if first, dup := seen[key]; dup {
					return nil, fmt.Errorf("key %q appears twice in one object (lines %d and %d)", clip(key), first, kl)
				}
				seen[key] = kl
				val, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.keyLines = append(n.keyLines, kl)
				n.items = append(n.items, val)
			}
		}
		if _, err := r.dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
	}
	return n, nil
}

// yamlTree reads data as one YAML document. On error it returns the line
// when it knows it.
func yamlTree(data []byte) (n *node, line int, err error) {
	// yaml.v3 has panicked on hostile input in the past; a document that
	// makes it panic is refused, not allowed to take the caller down.
	defer func() {
		if p := recover(); p != nil {
			n, line, err = nil, 0, fmt.Errorf("invalid YAML: %v", p)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, 0, errors.New("the document is empty")
		}
		return nil, 0, fmt.Errorf("invalid YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, extra.Line, errors.New("the source holds more than one YAML document; send one")
	case err != io.EOF:
		return nil, 0, fmt.Errorf("invalid YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, 0, errors.New("the document is empty")
		}
		root = root.Content[0]
	}
	w := yamlWalker{}
	n, err = w.walk(root, 0)
	if err != nil {
		return nil, w.line, err
	}
	return n, 0, nil
}

type yamlWalker struct {
	nodes   int
	aliased int
	aliases int // aliases being expanded
	line    int // the line of the last node visited, for errors
}

func (w *yamlWalker) walk(y *yaml.Node, depth int) (*node, error) {
	w.line = y.Line
	if depth > maxDepth {
		return nil, fmt.Errorf("document nests deeper than %d levels (aliases included)", maxDepth)
	}
	if w.nodes++; w.nodes > maxNodes {
		return nil, fmt.Errorf("document has more than %d values (aliases expanded)", maxNodes)
	}
	if w.aliases > 0 {
		if w.aliased++; w.aliased > maxAliasedNodes {
			return nil, fmt.Errorf("aliases expand to more than %d values", maxAliasedNodes)
		}
	}
	n := &node{line: y.Line}
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, errors.New("alias to an unknown anchor")
		}
		w.aliases++
		a, err := w.walk(y.Alias, depth+1)
		w.aliases--
		if err != nil {
			return nil, err
		}
		c := *a
		c.line = y.Line
		return &c, nil
	case yaml.ScalarNode:
		switch tag := y.ShortTag(); tag {
		case "!!null":
			n.kind = kNull
		case "!!bool":
			n.kind, n.text = kBool, strings.ToLower(y.Value)
		case "!!int", "!!float":
			n.kind, n.text = kNumber, y.Value
		case "!!str", "!!timestamp":
			n.kind, n.text = kString, y.Value
		default:
			return nil, fmt.Errorf("value with YAML tag %s is not supported", tag)
		}
	case yaml.SequenceNode:
		n.kind = kList
		for _, c := range y.Content {
			item, err := w.walk(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, item)
		}
	case yaml.MappingNode:
		n.kind = kMap
		seen := map[string]int{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			w.line = k.Line
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				return nil, errors.New("merge keys (<<) are not supported; write the fields out")
			}
			if k.Kind != yaml.ScalarNode {
				return nil, errors.New("a key must be a plain name")
			}
			if first, dup := seen[k.Value]; dup {
				return nil, fmt.Errorf("key %q appears twice in one mapping (lines %d and %d)", clip(k.Value), first, k.Line)
			}
			seen[k.Value] = k.Line
			val, err := w.walk(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.Value)
			n.keyLines = append(n.keyLines, k.Line)
			n.items = append(n.items, val)
		}
	default:
		return nil, errors.New("unsupported YAML node")
	}
	return n, nil
}
