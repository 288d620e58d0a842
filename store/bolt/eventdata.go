package bolt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/internal/jsonscan"
	"github.com/scimbridge/scimbridge/store"
)

// The data and changes of events. See the package comment of store for
// their shape.

// memberData is the data of group.member_added and group.member_removed.
type memberData struct {
	Group struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	} `json:"group"`
	User struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	} `json:"user"`
}

func (d *dirTx) emitMember(in bool, groupID, groupName, userID, userName string) error {
	var m memberData
	m.Group.ID, m.Group.DisplayName = groupID, groupName
	m.User.ID, m.User.UserName = userID, userName
	typ := store.EventGroupMemberRemoved
	if in {
		typ = store.EventGroupMemberAdded
	}
	return d.emit(typ, resourceRecord{Type: store.ResourceGroup, ID: groupID}, &m, nil)
}

func (m *memberData) size() int {
	return 80 + len(m.Group.ID) + len(m.Group.DisplayName) + len(m.User.ID) + len(m.User.UserName)
}

func (m *memberData) appendJSON(b []byte) []byte {
	b = append(b, `{"group":{"id":`...)
	b = jsonscan.AppendString(b, m.Group.ID)
	b = append(b, `,"displayName":`...)
	b = jsonscan.AppendString(b, m.Group.DisplayName)
	b = append(b, `},"user":{"id":`...)
	b = jsonscan.AppendString(b, m.User.ID)
	b = append(b, `,"userName":`...)
	b = jsonscan.AppendString(b, m.User.UserName)
	return append(b, "}}"...)
}

type metaData struct {
	Created      time.Time `json:"created"`
	LastModified time.Time `json:"lastModified"`
	Version      uint64    `json:"version"`
}

type directoryData struct {
	Org     string    `json:"org"`
	Name    string    `json:"name"`
	Profile string    `json:"profile"`
	Created time.Time `json:"created"`
}

// tokenData is a token in its events: never its hash.
type tokenData struct {
	ID        string          `json:"id"`
	Kind      store.TokenKind `json:"kind"`
	Org       string          `json:"org,omitempty"`
	Directory string          `json:"directory,omitempty"`
	Name      string          `json:"name"`
	Prefix    string          `json:"prefix"`
	Created   time.Time       `json:"created"`
	Expires   time.Time       `json:"expires,omitzero"`
}

func newTokenData(id string, r *tokenRecord) (rawData, error) {
	return encodeData(tokenData{ID: id, Kind: r.Kind, Org: r.Org, Directory: r.Directory, Name: r.Name,
		Prefix: r.Prefix, Created: r.Created, Expires: r.Expires})
}

// document is a stored document as a map of its top-level attributes. Values
// point into the document.
type document map[string]json.RawMessage

// attrsDoc decodes a stored document without the attributes an event must
// never carry: a password, and what the store keeps beside the document
// (id, meta, and a user's groups or a group's members).
func attrsDoc(attrs []byte) (document, error) {
	m := document{}
	if len(attrs) > 0 {
		if err := json.Unmarshal(attrs, &m); err != nil {
			return nil, fmt.Errorf("attributes are not a JSON object: %w", err)
		}
		if m == nil { // null
			m = document{}
		}
	}
	for k := range m {
		switch strings.ToLower(k) {
		case "password", "id", "meta", "groups", "members":
			delete(m, k)
		}
	}
	return m, nil
}

func userDoc(r *userRecord) (document, error) {
	m, err := attrsDoc(r.Attributes)
	if err != nil {
		return nil, err
	}
	m["active"] = jsonBool(r.Active)
	return m, nil
}

func jsonBool(b bool) json.RawMessage {
	if b {
		return json.RawMessage("true")
	}
	return json.RawMessage("false")
}

// data returns the event data of a document: the attributes, id and meta.
func (m document) data(id string, version uint64, created, modified time.Time) (rawData, error) {
	out := make(document, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	idv, err := encode(id)
	if err != nil {
		return nil, err
	}
	meta, err := encode(metaData{Created: created, LastModified: modified, Version: version})
	if err != nil {
		return nil, err
	}
	out["id"], out["meta"] = idv, meta
	return encodeData(out)
}

// userData is the data of a user's events: its attributes without those
// attrsDoc drops, with active, id and meta. It splices them into the
// stored document (spliceUserData), as a create did in its transaction
// what took half of that transaction's CPU; the slow path below is what
// the splice must equal, byte for byte (a fuzz test holds it to that).
func userData(id string, r *userRecord) (rawData, error) {
	if b, ok := spliceUserData(id, r); ok {
		return b, nil
	}
	return userDataSlow(id, r)
}

// spliceUserData gives userDataSlow's bytes without decoding, or false
// for a document it does not expect (see jsonscan.TopMembers).
func spliceUserData(id string, r *userRecord) (rawData, bool) {
	attrs := []byte(r.Attributes)
	if len(attrs) == 0 {
		attrs = []byte("{}")
	}
	var buf [32]jsonscan.Member
	members, ok := jsonscan.TopMembers(attrs, buf[:0])
	if !ok || !utf8.Valid(attrs) {
		return nil, false
	}
	keep := func(k string) bool {
		switch strings.ToLower(k) {
		case "password", "id", "meta", "groups", "members":
			return false // never in events
		}
		return k != "active" // ours
	}
	out := make([]byte, 0, len(attrs)+len(id)+160)
	out = jsonscan.AppendMerged(out, members, keep, []string{"active", "id", "meta"}, func(out []byte, name string) []byte {
		switch name {
		case "active":
			return strconv.AppendBool(out, r.Active)
		case "id":
			return jsonscan.AppendString(out, id)
		}
		return appendMetaData(out, r.Created, r.Modified, r.Version)
	})
	return rawData(out), true
}

// appendMetaData appends encode(metaData{...}).
func appendMetaData(b []byte, created, modified time.Time, version uint64) []byte {
	b = append(b, `{"created":"`...)
	b = created.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","lastModified":"`...)
	b = modified.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, '}')
}

func userDataSlow(id string, r *userRecord) (rawData, error) {
	m, err := userDoc(r)
	if err != nil {
		return nil, err
	}
	return m.data(id, r.Version, r.Created, r.Modified)
}

func groupData(id string, r *groupRecord) (rawData, error) {
	m, err := attrsDoc(r.Attributes)
	if err != nil {
		return nil, err
	}
	return m.data(id, r.Version, r.Created, r.Modified)
}

// flat returns the attributes of m as they are compared: top-level
// attributes by name, and the attributes of an extension (a "urn:" key
// that holds an object) one by one as urn + ":" + name.
func (m document) flat() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if len(k) > 4 && strings.EqualFold(k[:4], "urn:") {
			var ext map[string]json.RawMessage
			if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '{' && json.Unmarshal(t, &ext) == nil {
				for sub, sv := range ext {
					out[k+":"+sub] = sv
				}
				continue
			}
		}
		out[k] = v
	}
	return out
}

var jsonNull = json.RawMessage("null")

// attrChanges lists the attributes whose values differ between old and new, in
// name order. An absent attribute equals null.
func attrChanges(old, new document) []changeRecord {
	o, n := old.flat(), new.flat()
	var out []changeRecord
	for k, ov := range o {
		if nv, ok := n[k]; ok {
			if !sameJSON(ov, nv) {
				out = append(out, changeRecord{Attribute: k, Old: ov, New: nv})
			}
		} else if !sameJSON(ov, jsonNull) {
			out = append(out, changeRecord{Attribute: k, Old: ov, New: jsonNull})
		}
	}
	for k, nv := range n {
		if _, ok := o[k]; !ok && !sameJSON(jsonNull, nv) {
			out = append(out, changeRecord{Attribute: k, Old: jsonNull, New: nv})
		}
	}
	slices.SortFunc(out, func(a, b changeRecord) int { return strings.Compare(a.Attribute, b.Attribute) })
	return out
}

// sameJSON reports whether a and b are the same JSON value, whatever their
// key order and white space. Numbers compare by their text.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, errA := canonicalJSON(a)
	cb, errB := canonicalJSON(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

func canonicalJSON(v json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	return encode(x) // maps are encoded with sorted keys
}
