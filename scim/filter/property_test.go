package filter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// memIndex simulates a backend's indexes the way store's contract describes
// them: userName, emails and group displayName keyed by store.Fold, id and
// externalId keyed exactly. A Prefix lookup takes every key that starts
// with the folded (or exact) value.
type memIndex struct {
	keys map[store.Field]map[string][]string // field → key → ids
	all  []string
}

func newMemIndex() *memIndex {
	return &memIndex{keys: map[store.Field]map[string][]string{}}
}

func (ix *memIndex) add(field store.Field, value, id string) {
	if value == "" {
		return
	}
	if indexFolded[field] {
		value = store.Fold(value)
	}
	m := ix.keys[field]
	if m == nil {
		m = map[string][]string{}
		ix.keys[field] = m
	}
	if !slices.Contains(m[value], id) {
		m[value] = append(m[value], id)
	}
}

// indexRecord indexes a record as the scim layer would fill store.User or
// store.Group from the document.
func (ix *memIndex) indexRecord(t *resource.Type, r store.Record) {
	ix.all = append(ix.all, r.ID)
	ix.add(store.FieldID, r.ID, r.ID)
	var doc map[string]any
	if json.Unmarshal(r.Attributes, &doc) != nil {
		return
	}
	str := func(v any) string { s, _ := v.(string); return s }
	ix.add(store.FieldExternalID, str(doc["externalId"]), r.ID)
	switch t.Name {
	case "User":
		ix.add(store.FieldUserName, str(doc["userName"]), r.ID)
		emails, _ := doc["emails"].([]any)
		for _, e := range emails {
			if m, ok := e.(map[string]any); ok {
				ix.add(store.FieldEmail, str(m["value"]), r.ID)
			}
		}
	case "Group":
		ix.add(store.FieldDisplayName, str(doc["displayName"]), r.ID)
	}
}

// candidates returns the ids a plan selects (nil plan: every id).
func (ix *memIndex) candidates(p *store.Plan) map[string]bool {
	out := map[string]bool{}
	if p == nil {
		for _, id := range ix.all {
			out[id] = true
		}
		return out
	}
	switch p.Op {
	case store.PlanLookup:
		v := p.Value
		if indexFolded[p.Field] {
			v = store.Fold(v)
		}
		for key, ids := range ix.keys[p.Field] {
			if key == v || p.Prefix && strings.HasPrefix(key, v) {
				for _, id := range ids {
					out[id] = true
				}
			}
		}
	case store.PlanAnd:
		for i, s := range p.Subs {
			c := ix.candidates(s)
			if i == 0 {
				out = c
				continue
			}
			for id := range out {
				if !c[id] {
					delete(out, id)
				}
			}
		}
	case store.PlanOr:
		for _, s := range p.Subs {
			for id := range ix.candidates(s) {
				out[id] = true
			}
		}
	}
	return out
}

// Names that fold alike in tricky ways: ß/SS, the Kelvin sign, composed and
// decomposed é, dotted and dotless I, final sigma.
var trickyNames = []string{
	"straße", "STRASSE", "Strasse", "\u212aelvin", "kelvin", "KELVIN", "caf\u00e9", "cafe\u0301", "CAFÉ",
	"İstanbul", "istanbul", "ISTANBUL", "ıi", "ΟΔΟΣ", "οδος", "οδοσ", "Ǆ", "ǆ", "ǅ",
	"alice", "Alice", "ALICE", "bob", "a\"b\\c", "x y", "ﬀ", "ff", "FF",
}

func mutateCase(r *rand.Rand, s string) string {
	switch r.IntN(4) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		return strings.ToLower(s)
	case 2:
		b := []rune(s)
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = []rune(strings.ToUpper(string(b[i])))[0]
			}
		}
		return string(b)
	}
	return s
}

func genUsers(r *rand.Rand, n int) []store.Record {
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := range n {
		name := trickyNames[r.IntN(len(trickyNames))]
		if r.IntN(3) > 0 {
			name = mutateCase(r, name) + fmt.Sprint(i%7)
		}
		doc := map[string]any{"userName": name}
		if r.IntN(4) > 0 {
			doc["externalId"] = mutateCase(r, fmt.Sprintf("ext-%d", r.IntN(20)))
		}
		if r.IntN(2) == 0 {
			doc["active"] = r.IntN(2) == 0
		}
		if r.IntN(3) == 0 {
			doc["title"] = trickyNames[r.IntN(len(trickyNames))]
		}
		var emails []any
		for range r.IntN(4) {
			e := map[string]any{"value": mutateCase(r, trickyNames[r.IntN(len(trickyNames))]+"@x.example")}
			if r.IntN(2) == 0 {
				e["type"] = []string{"work", "home", "Work"}[r.IntN(3)]
			}
			if r.IntN(4) == 0 {
				e["primary"] = true
			}
			emails = append(emails, e)
		}
		if len(emails) > 0 {
			doc["emails"] = emails
		}
		if r.IntN(3) == 0 {
			doc[ent] = map[string]any{"employeeNumber": fmt.Sprint(r.IntN(10))}
		}
		b, _ := json.Marshal(doc)
		ts := base.Add(time.Duration(r.IntN(1000)) * time.Hour)
		recs = append(recs, store.Record{ID: fmt.Sprintf("id-%03d", i), Attributes: b, Version: 1, Created: ts, Modified: ts})
	}
	return recs
}

// genFilter builds a random filter over the attributes the planner knows
// and a few it does not, with values drawn from the fixtures.
func genFilter(r *rand.Rand, depth int) string {
	val := func() string {
		v := trickyNames[r.IntN(len(trickyNames))]
		switch r.IntN(4) {
		case 0:
			v = mutateCase(r, v)
		case 1:
			v = mutateCase(r, v) + fmt.Sprint(r.IntN(7))
		case 2:
			if rs := []rune(v); len(rs) > 1 {
				v = string(rs[:1+r.IntN(len(rs)-1)])
			}
		}
		return quote(v)
	}
	email := func() string {
		return quote(mutateCase(r, trickyNames[r.IntN(len(trickyNames))]+"@x.example"))
	}
	if depth <= 0 || r.IntN(3) == 0 {
		switch r.IntN(17) {
		case 0:
			return "userName eq " + val()
		case 1:
			return "userName sw " + val()
		case 2:
			return "userName co " + val()
		case 3:
			return "userName ne " + val()
		case 4:
			return fmt.Sprintf("externalId eq %q", mutateCase(r, fmt.Sprintf("ext-%d", r.IntN(20))))
		case 5:
			return fmt.Sprintf("id eq \"id-%03d\"", r.IntN(320))
		case 6:
			return "emails.value eq " + email()
		case 7:
			return "emails[value eq " + email() + "]"
		case 8:
			return `emails[type eq "work" and value eq ` + email() + "]"
		case 9:
			return `emails[type eq "work"].value eq ` + email()
		case 10:
			return "emails[value eq " + email() + " or value eq " + email() + "]"
		case 11:
			return fmt.Sprintf("active eq %v", r.IntN(2) == 0)
		case 12:
			return "title pr"
		case 13:
			return "title eq " + val()
		case 14:
			return fmt.Sprintf("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"%d\"", r.IntN(10))
		case 15:
			return "userName eq " + val() + " and emails.value pr"
		default:
			return `meta.lastModified gt "2020-01-20T00:00:00Z"`
		}
	}
	l, rt := genFilter(r, depth-1), genFilter(r, depth-1)
	switch r.IntN(5) {
	case 0, 1:
		return "(" + l + ") and (" + rt + ")"
	case 2, 3:
		return "(" + l + ") or (" + rt + ")"
	}
	return "not (" + l + ")"
}

// TestPlanAgreesWithScan is the property that makes index planning safe:
// for random filters over generated users, the plan's candidates filtered
// by Match are exactly the users Match accepts in a full scan.
func TestPlanAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	recs := genUsers(r, 300)
	ix := newMemIndex()
	docs := make([]resource.Doc, len(recs))
	for i, rec := range recs {
		ix.indexRecord(resource.User(), rec)
		doc, err := resource.View(resource.User(), rec)
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = doc // Match on the view is MatchRecord without decoding each time
	}
	n := 600
	if testing.Short() {
		n = 150
	}
	planned, matchedSome := 0, 0
	for i := range n {
		s := genFilter(r, 3)
		f, err := Parse(resource.User(), s, Limits{})
		if err != nil {
			t.Fatalf("filter %d: Parse(%q) error: %v", i, s, err.Detail)
		}
		p := f.Plan()
		if p != nil {
			planned++
		}
		cand := ix.candidates(p)
		var scan, viaPlan []string
		for j, rec := range recs {
			m := f.Match(docs[j])
			if m {
				scan = append(scan, rec.ID)
			}
			if m && cand[rec.ID] {
				viaPlan = append(viaPlan, rec.ID)
			}
		}
		if len(scan) > 0 {
			matchedSome++
		}
		if !slices.Equal(scan, viaPlan) {
			t.Fatalf("filter %q with plan %s: full scan matches %v, plan ∩ Match gives %v", s, planString(p), scan, viaPlan)
		}
	}
	// The property says little unless plans and matches are common.
	t.Logf("%d of %d filters planned, %d matched some user", planned, n, matchedSome)
	if planned < n/4 || matchedSome < n/4 {
		t.Errorf("only %d of %d filters were planned and %d matched anything; the generator needs work", planned, n, matchedSome)
	}
}

func planString(p *store.Plan) string {
	if p == nil {
		return "scan"
	}
	switch p.Op {
	case store.PlanLookup:
		op := "="
		if p.Prefix {
			op = "^="
		}
		return fmt.Sprintf("%s%s%q", p.Field, op, p.Value)
	case store.PlanAnd, store.PlanOr:
		var parts []string
		for _, s := range p.Subs {
			parts = append(parts, planString(s))
		}
		sep := " AND "
		if p.Op == store.PlanOr {
			sep = " OR "
		}
		return "(" + strings.Join(parts, sep) + ")"
	}
	return "?"
}
