package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/mapping"
	"github.com/scimbridge/scimbridge/store"
)

// Layout of rules (schema version 3). See doc.go.
var (
	bucketRules         = []byte("rules")    // org name → bucket:
	keyRulesCurrent     = []byte("current")  //   → uint64 big endian: the current version (absent: none)
	bucketRulesVersions = []byte("versions") //   version (uint64 big endian) → versionRecord
	bucketRulesDrafts   = []byte("drafts")   //   draft id → draftRecord
)

type versionRecord struct {
	Document       json.RawMessage `json:"document"`
	Published      time.Time       `json:"published"`
	Actor          actorRecord     `json:"actor"`
	Force          bool            `json:"force,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	RolledBackFrom int             `json:"rolled_back_from,omitempty"`
}

func (r *versionRecord) version(v int) store.RulesVersion {
	return store.RulesVersion{Version: v, Document: r.Document, Published: r.Published,
		Actor: store.Actor{Type: r.Actor.Type, ID: r.Actor.ID, Name: r.Actor.Name},
		Force: r.Force, Reason: r.Reason, RolledBackFrom: r.RolledBackFrom}
}

type draftRecord struct {
	Document []byte      `json:"document"`
	Created  time.Time   `json:"created"`
	Actor    actorRecord `json:"actor"`
}

// rulesPublishedData is the data of rules.published.
type rulesPublishedData struct {
	Version        int         `json:"version"`
	Actor          actorRecord `json:"actor"`
	Force          bool        `json:"force"`
	Reason         string      `json:"reason,omitempty"`
	RolledBackFrom int         `json:"rolled_back_from,omitempty"`
	// Guards are the guards the publish failed and overrode (with force).
	Guards []string `json:"guards,omitempty"`
	Diff   diffData `json:"diff"`
}

type diffData struct {
	People                 int `json:"people"`
	Gains                  int `json:"gains"`
	Losses                 int `json:"losses"`
	RoleChanges            int `json:"role_changes"`
	Downgrades             int `json:"downgrades"`
	PeopleGaining          int `json:"people_gaining"`
	PeopleLosingAccess     int `json:"people_losing_access"`
	PeopleLosingAllAccess  int `json:"people_losing_all_access"`
	PeopleWithAccessBefore int `json:"people_with_access_before"`
	PeopleWithAccessAfter  int `json:"people_with_access_after"`
	OrgAdminsBefore        int `json:"org_admins_before"`
	OrgAdminsAfter         int `json:"org_admins_after"`
}

func newDiffData(d *mapping.Diff) diffData {
	return diffData{People: d.People, Gains: d.Gains, Losses: d.Losses, RoleChanges: d.RoleChanges, Downgrades: d.Downgrades,
		PeopleGaining: d.PeopleGaining, PeopleLosingAccess: d.PeopleLosingAccess, PeopleLosingAllAccess: d.PeopleLosingAllAccess,
		PeopleWithAccessBefore: d.PeopleWithAccessBefore, PeopleWithAccessAfter: d.PeopleWithAccessAfter,
		OrgAdminsBefore: d.OrgAdminsBefore, OrgAdminsAfter: d.OrgAdminsAfter}
}

func rulesBucket(tx *bbolt.Tx, org string) *bbolt.Bucket {
	top := tx.Bucket(bucketRules)
	if top == nil || org == "" {
		return nil
	}
	return top.Bucket([]byte(org))
}

// currentRules returns the compiled current rules of org and their
// version, or nil and 0 when none were published. It parses the document
// at most once per version (db.rules, a rulescache.Cache). A write passes its outbox: the
// version it reads may be one that an earlier write of the same batch
// wrote and that may still roll back, so it is cached only after the
// commit (ob.post). A reader (nil ob) reads a committed version.
func (db *DB) currentRules(tx *bbolt.Tx, org string, ob *outbox) (*mapping.Rules, int, error) {
	b := rulesBucket(tx, org)
	if b == nil {
		return nil, 0, nil
	}
	v := int(decodeUint(b.Get(keyRulesCurrent)))
	if v == 0 {
		return nil, 0, nil
	}
	if r := db.rules.Get(org, v); r != nil {
		return r, v, nil
	}
	rec, err := readVersion(b, v)
	if err != nil {
		return nil, 0, err
	}
	r, err := mapping.Parse(rec.Document, "application/json")
	if err != nil {
		return nil, 0, fmt.Errorf("rules version %d of %q: %w", v, org, err)
	}
	if ob != nil {
		ob.post = append(ob.post, func() { db.rules.Put(org, v, r) })
	} else {
		db.rules.Put(org, v, r)
	}
	return r, v, nil
}

func readVersion(b *bbolt.Bucket, v int) (versionRecord, error) {
	var rec versionRecord
	raw := b.Bucket(bucketRulesVersions).Get(encodeUint(uint64(v)))
	if v <= 0 || raw == nil {
		return rec, fmt.Errorf("no rules version %d: %w", v, store.ErrNotFound)
	}
	if err := decode(raw, &rec); err != nil {
		return rec, fmt.Errorf("rules version %d: %w", v, err)
	}
	return rec, nil
}

// personRow is one person of an org's population.
type personRow struct {
	userName string
	p        mapping.Person
}

// population reads every person of every directory of org, in directory
// and user id order: one pass over each directory's groups and users
// (records, each followed by its memberships).
func population(tx *bbolt.Tx, org string) ([]personRow, error) {
	ob := tx.Bucket(bucketDirs).Bucket([]byte(org))
	if org == "" || ob == nil {
		return nil, errNoOrg
	}
	var rows []personRow
	err := ob.ForEachBucket(func(name []byte) error {
		dirName := string(name)
		d, err := openDir(tx, store.DirKey{Org: org, Directory: dirName})
		if err != nil {
			return err
		}
		groups := map[string]mapping.Group{}
		if err := d.groups.ForEach(func(k, v []byte) error {
			var g groupKeys
			if err := decode(v, &g); err != nil {
				return fmt.Errorf("group %s: %w", k, err)
			}
			groups[string(k)] = mapping.Group{ID: string(k), ExternalID: g.ExternalID, DisplayName: g.DisplayName, Directory: dirName}
			return nil
		}); err != nil {
			return err
		}
		// Each user's record comes first, then its memberships (user id
		// 0x00 group id), in one walk of users.
		var row *personRow
		return d.users.ForEach(func(k, v []byte) error {
			if !isRecordKey(k) {
				if len(k) != 2*idLen+1 || k[idLen] != 0 || row == nil || !bytes.Equal(k[:idLen], []byte(row.p.ID)) {
					return fmt.Errorf("membership key %q does not follow its user", k)
				}
				if !row.p.Active {
					return nil
				}
				gid := string(k[len(k)-idLen:])
				g, ok := groups[gid]
				if !ok {
					return fmt.Errorf("user %s is a member of missing group %s", row.p.ID, gid)
				}
				row.p.Groups = append(row.p.Groups, g)
				return nil
			}
			var u struct {
				UserName string `json:"userName"`
				Active   bool   `json:"active"`
			}
			if err := decode(v, &u); err != nil {
				return fmt.Errorf("user %s: %w", k, err)
			}
			rows = append(rows, personRow{userName: u.UserName, p: mapping.Person{ID: string(k), Active: u.Active, Directory: dirName}})
			row = &rows[len(rows)-1]
			return nil
		})
	})
	return rows, err
}

func people(rows []personRow) []mapping.Person {
	ps := make([]mapping.Person, len(rows))
	for i := range rows {
		ps[i] = rows[i].p
	}
	return ps
}

// parseDoc parses a rules document outside any transaction (it is pure CPU
// work, and a writer must not wait for it).
func parseDoc(doc []byte) (*mapping.Rules, error) {
	r, err := mapping.Parse(doc, "")
	if err != nil {
		return nil, err
	}
	return r, nil
}

// CreateDraft validates doc and keeps it; see store.Store. It emits no
// event. Beyond store.MaxDrafts the oldest draft is deleted.
func (db *DB) CreateDraft(ctx context.Context, org string, doc []byte) (store.Draft, error) {
	if _, err := parseDoc(doc); err != nil {
		return store.Draft{}, fmt.Errorf("bolt: create draft in %q: %w", org, err)
	}
	id := newID()
	var out store.Draft
	err := db.write(ctx, org, func(tx *bbolt.Tx, ob *outbox) error {
		b := rulesBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		drafts := b.Bucket(bucketRulesDrafts)
		n, err := keyCount(drafts) // earlier writes of the batch may have added drafts
		if err != nil {
			return err
		}
		if n >= store.MaxDrafts {
			var oldestID []byte
			var oldest time.Time
			if err := drafts.ForEach(func(k, v []byte) error {
				var r struct {
					Created time.Time `json:"created"`
				}
				if err := decode(v, &r); err != nil {
					return err
				}
				if oldestID == nil || r.Created.Before(oldest) {
					oldestID, oldest = bytes.Clone(k), r.Created
				}
				return nil
			}); err != nil {
				return err
			}
			if err := drafts.Delete(oldestID); err != nil {
				return err
			}
		}
		rec := draftRecord{Document: bytes.Clone(doc), Created: ob.now, Actor: ob.actor}
		v, err := encode(&rec)
		if err != nil {
			return err
		}
		out = store.Draft{ID: id, Document: rec.Document, Created: rec.Created,
			Actor: store.Actor{Type: ob.actor.Type, ID: ob.actor.ID, Name: ob.actor.Name}}
		return drafts.Put([]byte(id), v)
	})
	if err != nil {
		return store.Draft{}, fmt.Errorf("bolt: create draft in %q: %w", org, err)
	}
	return out, nil
}

// Draft reads one draft; see store.Store.
func (db *DB) Draft(ctx context.Context, org, id string) (store.Draft, error) {
	var out store.Draft
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := rulesBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		v := b.Bucket(bucketRulesDrafts).Get([]byte(id))
		if id == "" || v == nil {
			return fmt.Errorf("no such draft: %w", store.ErrNotFound)
		}
		var r draftRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		out = store.Draft{ID: id, Document: r.Document, Created: r.Created, Actor: store.Actor{Type: r.Actor.Type, ID: r.Actor.ID, Name: r.Actor.Name}}
		return nil
	})
	if err != nil {
		return store.Draft{}, fmt.Errorf("bolt: draft %s of %q: %w", id, org, err)
	}
	return out, nil
}

// PublishRules publishes doc as the next version; see store.Store.
func (db *DB) PublishRules(ctx context.Context, org string, doc []byte, opts store.PublishOptions) (store.RulesVersion, mapping.Diff, error) {
	if err := store.CheckPublishOptions(opts); err != nil {
		return store.RulesVersion{}, mapping.Diff{}, fmt.Errorf("bolt: publish rules of %q: %w", org, err)
	}
	proposed, err := parseDoc(doc)
	if err != nil {
		return store.RulesVersion{}, mapping.Diff{}, fmt.Errorf("bolt: publish rules of %q: %w", org, err)
	}
	v, d, err := db.publish(ctx, org, func(*bbolt.Bucket) (*mapping.Rules, error) { return proposed, nil }, opts)
	if err != nil {
		return store.RulesVersion{}, d, fmt.Errorf("bolt: publish rules of %q: %w", org, err)
	}
	return v, d, nil
}

// Rollback republishes an earlier version; see store.Store.
func (db *DB) Rollback(ctx context.Context, org string, version int, opts store.PublishOptions) (store.RulesVersion, mapping.Diff, error) {
	if err := store.CheckPublishOptions(opts); err != nil {
		return store.RulesVersion{}, mapping.Diff{}, fmt.Errorf("bolt: roll back rules of %q to %d: %w", org, version, err)
	}
	opts.RolledBackFrom = version
	v, d, err := db.publish(ctx, org, func(b *bbolt.Bucket) (*mapping.Rules, error) {
		rec, err := readVersion(b, version)
		if err != nil {
			return nil, err
		}
		return mapping.Parse(rec.Document, "application/json")
	}, opts)
	if err != nil {
		return store.RulesVersion{}, d, fmt.Errorf("bolt: roll back rules of %q to %d: %w", org, version, err)
	}
	return v, d, nil
}

// publish is PublishRules and Rollback: one transaction that simulates,
// checks the guards, writes the version, the access that changes, and the
// events (rules.published first, then the access.* events by directory and
// user id).
func (db *DB) publish(ctx context.Context, org string, load func(b *bbolt.Bucket) (*mapping.Rules, error), opts store.PublishOptions) (store.RulesVersion, mapping.Diff, error) {
	var out store.RulesVersion
	var diff mapping.Diff
	var proposed *mapping.Rules
	err := db.write(ctx, org, func(tx *bbolt.Tx, ob *outbox) error {
		diff, proposed = mapping.Diff{}, nil // the callback may run more than once (commit.go)
		b := rulesBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		var err error
		if proposed, err = load(b); err != nil {
			return err
		}
		current, curVersion, err := db.currentRules(tx, org, ob)
		if err != nil {
			return err
		}
		rows, err := population(tx, org)
		if err != nil {
			return err
		}
		diff = mapping.Simulate(current, proposed, people(rows))
		violations := mapping.Guards{MaxRevokeShare: opts.MaxRevokeShare}.Check(diff)
		if len(violations) > 0 && !opts.Force {
			return &store.GuardError{Violations: violations}
		}
		docJSON, err := proposed.MarshalJSON()
		if err != nil {
			return err
		}
		version := curVersion + 1
		rec := versionRecord{Document: docJSON, Published: ob.now, Actor: ob.actor, Force: opts.Force, Reason: opts.Reason, RolledBackFrom: opts.RolledBackFrom}
		raw, err := encode(&rec)
		if err != nil {
			return err
		}
		versions := b.Bucket(bucketRulesVersions)
		versions.FillPercent = 1.0 // keys only grow
		if err := versions.Put(encodeUint(uint64(version)), raw); err != nil {
			return err
		}
		if err := b.Put(keyRulesCurrent, encodeUint(uint64(version))); err != nil {
			return err
		}
		data := rulesPublishedData{Version: version, Actor: ob.actor, Force: opts.Force, Reason: opts.Reason,
			RolledBackFrom: opts.RolledBackFrom, Diff: newDiffData(&diff)}
		for _, v := range violations {
			data.Guards = append(data.Guards, v.Guard)
		}
		ev, err := encodeData(&data)
		if err != nil {
			return err
		}
		if err := ob.append("", store.EventRulesPublished, resourceRecord{Type: store.ResourceRules, ID: strconv.Itoa(version)}, ev, nil); err != nil {
			return err
		}
		oa, err := openOrgAccess(tx, org)
		if err != nil {
			return err
		}
		w := &accessWriter{oa: oa, ob: ob, version: version}
		for i := range rows {
			r := &rows[i]
			if err := w.apply(r.p.Directory, r.p.ID, r.userName, proposed.Evaluate(r.p)); err != nil {
				return err
			}
		}
		if err := w.finish(); err != nil {
			return err
		}
		out = rec.version(version)
		out.Actor = store.Actor{Type: ob.actor.Type, ID: ob.actor.ID, Name: ob.actor.Name}
		return nil
	})
	if err != nil {
		var ge *store.GuardError
		if errors.As(err, &ge) {
			return store.RulesVersion{}, diff, err
		}
		return store.RulesVersion{}, mapping.Diff{}, err
	}
	db.rules.Put(org, out.Version, proposed)
	return out, diff, nil
}

// Rules returns the current version; see store.Store.
func (db *DB) Rules(ctx context.Context, org string) (store.RulesVersion, error) {
	var out store.RulesVersion
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := rulesBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		v := int(decodeUint(b.Get(keyRulesCurrent)))
		if v == 0 {
			return fmt.Errorf("no rules published: %w", store.ErrNotFound)
		}
		rec, err := readVersion(b, v)
		if err != nil {
			return err
		}
		out = rec.version(v)
		return nil
	})
	if err != nil {
		return store.RulesVersion{}, fmt.Errorf("bolt: rules of %q: %w", org, err)
	}
	return out, nil
}

// RulesVersions lists every version, oldest first; see store.Store.
func (db *DB) RulesVersions(ctx context.Context, org string) ([]store.RulesVersion, error) {
	var out []store.RulesVersion
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := rulesBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		return b.Bucket(bucketRulesVersions).ForEach(func(k, v []byte) error {
			var rec versionRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			out = append(out, rec.version(int(decodeUint(k))))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: rules versions of %q: %w", org, err)
	}
	return out, nil
}

// SimulateRules compares doc with the current rules over the current
// population in one View transaction; see store.Store.
func (db *DB) SimulateRules(ctx context.Context, org string, doc []byte) (mapping.Diff, error) {
	proposed, err := parseDoc(doc)
	if err != nil {
		return mapping.Diff{}, fmt.Errorf("bolt: simulate rules of %q: %w", org, err)
	}
	var diff mapping.Diff
	err = db.view(ctx, func(tx *bbolt.Tx) error {
		if rulesBucket(tx, org) == nil {
			return errNoOrg
		}
		current, _, err := db.currentRules(tx, org, nil)
		if err != nil {
			return err
		}
		rows, err := population(tx, org)
		if err != nil {
			return err
		}
		diff = mapping.Simulate(current, proposed, people(rows))
		return nil
	})
	if err != nil {
		return mapping.Diff{}, fmt.Errorf("bolt: simulate rules of %q: %w", org, err)
	}
	return diff, nil
}
