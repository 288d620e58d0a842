package mapping

import (
	"bytes"
	"encoding/json"
)

// document is the rules document as written (after decoding), which
// MarshalJSON and MarshalYAML render. Parse of that rendering yields the
// same document.
type document struct {
	Version          int            `json:"version" yaml:"version"`
	Workspaces       []string       `json:"workspaces,omitempty" yaml:"workspaces,omitempty"`
	CreateWorkspaces bool           `json:"create_workspaces" yaml:"create_workspaces"`
	ProtectedRoles   *[]Role        `json:"protected_roles,omitempty" yaml:"protected_roles,omitempty"`
	Rules            []docRule      `json:"rules,omitempty" yaml:"rules,omitempty"`
	Exclusions       []docExclusion `json:"exclusions,omitempty" yaml:"exclusions,omitempty"`
	Default          *docDefault    `json:"default,omitempty" yaml:"default,omitempty"`
}

type docRule struct {
	Name        string   `json:"name,omitempty" yaml:"name,omitempty"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Match       docMatch `json:"match" yaml:"match"`
	Grant       docGrant `json:"grant" yaml:"grant"`
}

type docExclusion struct {
	Name        string   `json:"name,omitempty" yaml:"name,omitempty"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Match       docMatch `json:"match" yaml:"match"`
	Deny        []Role   `json:"deny" yaml:"deny"`
}

type docMatch struct {
	Directory string   `json:"directory,omitempty" yaml:"directory,omitempty"`
	Group     docGroup `json:"group" yaml:"group"`
}

type docGroup struct {
	ID                 string `json:"id,omitempty" yaml:"id,omitempty"`
	ExternalID         string `json:"externalId,omitempty" yaml:"externalId,omitempty"`
	DisplayName        string `json:"displayName,omitempty" yaml:"displayName,omitempty"`
	DisplayNamePattern string `json:"displayNamePattern,omitempty" yaml:"displayNamePattern,omitempty"`
}

type docGrant struct {
	Workspace string `json:"workspace,omitempty" yaml:"workspace,omitempty"`
	Role      Role   `json:"role" yaml:"role"`
}

type docDefault struct {
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Grant       docGrant `json:"grant" yaml:"grant"`
}

// MarshalJSON renders the document in its canonical JSON form: the fields
// as written, in a fixed order, without comments or formatting. Parse
// reads it back into equal Rules. Keep the source bytes as well if its
// comments matter.
func (r *Rules) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // patterns hold (?P<name>...)
	if err := enc.Encode(r.doc); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// MarshalYAML renders the document for go.yaml.in/yaml/v3, in the same
// canonical form as MarshalJSON.
func (r *Rules) MarshalYAML() (any, error) {
	if r == nil {
		return nil, nil
	}
	return r.doc, nil
}
