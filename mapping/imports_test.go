package mapping

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the package pure: its non-test files may import only
// these packages. No I/O (os, net, io/fs), no clock (time), no logging, no
// HTTP, SAML, OIDC or SCIM library, and not the store. Adding to the list
// needs a reason that fits the package comment.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"bytes": true, "cmp": true, "encoding/json": true, "errors": true, "fmt": true,
		"io":   true, // io.EOF and io.Reader over in-memory bytes only
		"math": true, "mime": true, "regexp": true, "regexp/syntax": true, "slices": true,
		"sort": true, "strconv": true, "strings": true, "unicode": true, "unicode/utf8": true,
		"go.yaml.in/yaml/v3":             true,
		"golang.org/x/text/cases":        true,
		"golang.org/x/text/unicode/norm": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %q; package mapping must stay pure (see doc.go)", name, path)
			}
		}
	}
}
