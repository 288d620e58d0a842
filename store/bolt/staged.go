package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// Staged index keys (schema 7).
//
// A created user's userName, externalId and email index keys are not
// written by its create. Its id goes into the directory's staged bucket
// (ids are time-ordered, so this appends at the bucket's right edge), and
// its indexed values into memory (staged). Lookups read both: the index
// keys of the snapshot, and the staged users in the snapshot with the
// value (stagedUser.visible: memory knows the committed transactions that
// staged and unstaged each user; one it is unsure of is read in the
// snapshot to check its record, so memory can never make a lookup return
// a user the snapshot does not have). When a
// directory holds stageMax staged users, the create that reaches the limit
// writes all their keys in its transaction; an update or delete of a
// staged user writes (or drops) that user's keys alone.
//
// Why: index keys of names in no order land on a page each, with its
// parent branch, wherever the key falls in the file; those scattered
// pages were most of what a commit of the initial sync wrote and fsync'd.
// Written many at once, keys share their pages: at 100,000 users, 8,192
// keys touch each leaf of an index a few times instead of once per key.
//
// Memory holds every staged user of every directory (rebuilt from the
// staged buckets at Open) and, for read transactions that began before
// their keys were written, the users whose keys a committed transaction
// wrote: those are dropped once no such read is open (readers).

var (
	bucketStaged   = []byte("staged") // in a directory: user id → empty
	keyStagedCount = []byte("staged") // in counters: the staged users
)

// defaultStageMax is how many staged users a directory holds before a
// create writes their index keys. Past twice as many users in memory over
// all directories, a create writes the keys of its own directory's staged
// users, however few (so many small directories do not keep all their
// users in memory). Memory can hold more for a while: the users of one
// batch, the users kept for reads still open, and those of a failed
// commit (until a restart) count too.
const defaultStageMax = 8192

// stagedField names the three values a staged user is found by.
type stagedField int

const (
	stagedName  stagedField = iota // folded userName
	stagedExt                      // externalId as given
	stagedEmail                    // folded email
)

type stagedUser struct {
	name, ext string
	emails    []string // folded, no repeats
	// added is the transaction that staged the user, once it committed
	// (0 before, or if its commit failed; for a user loaded at Open, the
	// last transaction committed then); retired the one that wrote its
	// keys or deleted it, once it committed; retiring is set while a
	// transaction that does is in progress (or if its commit failed).
	// Between added and retired the user's record has these values: every
	// write of an indexed value unstages (retires) it first.
	added, retired uint64
	retiring       bool
}

// visible tells how u stands in the snapshot of transaction snap: sure
// (the user is in it with these values, and its keys are not), unsure
// (read the record to know), or neither (not in it, or its keys are).
func (u *stagedUser) visible(snap uint64) (sure, unsure bool) {
	switch {
	case u.added == 0 || u.retiring:
		return false, true
	case u.added <= snap && (u.retired == 0 || u.retired > snap):
		return true, false
	}
	return false, false
}

type stagedDir struct {
	users map[string]*stagedUser // id → values
	by    [3]map[string][]string // stagedField → value → ids
}

type stagedRef struct {
	dir store.DirKey
	id  string
}

// retiredRefs are users whose index keys transaction tx wrote (or who
// were deleted): they stay in memory for reads of older snapshots.
type retiredRefs struct {
	tx   uint64
	refs []stagedRef
}

// staged is the memory side of the staged users. All of it is under mu.
// The lists added and retire belong to the write transaction in progress
// (there is one at a time); settle ends them when it commits or rolls
// back. retired is what committed transactions retired, kept for reads.
type staged struct {
	mu      sync.Mutex
	dirs    map[store.DirKey]*stagedDir
	n       int            // users in dirs
	readers map[uint64]int // lower bound of a read's snapshot → reads open
	last    uint64         // id of the last committed write transaction
	retired []retiredRefs
	added   []stagedRef // by the transaction in progress
	retire  []stagedRef // by the transaction in progress
}

// enter registers a read about to begin, and returns the bound to give
// leave: its snapshot is that transaction or a later one.
func (s *staged) enter() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers == nil {
		s.readers = make(map[uint64]int)
	}
	s.readers[s.last]++
	return s.last
}

// leave ends a read registered by enter.
func (s *staged) leave(bound uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers[bound]--; s.readers[bound] <= 0 {
		delete(s.readers, bound)
	}
	s.dropRetired()
}

// dropRetired forgets the retired users that no open read can need: those
// retired by a transaction no later than every open read's snapshot.
func (s *staged) dropRetired() {
	if len(s.retired) == 0 {
		return
	}
	oldest := ^uint64(0)
	for b := range s.readers {
		oldest = min(oldest, b)
	}
	n := 0
	for _, r := range s.retired {
		if r.tx > oldest {
			break
		}
		for _, ref := range r.refs {
			s.remove(ref)
		}
		n++
	}
	s.retired = s.retired[n:]
	if len(s.retired) == 0 {
		s.retired = nil
	}
}

func (s *staged) dir(k store.DirKey) *stagedDir {
	d := s.dirs[k]
	if d == nil {
		if s.dirs == nil {
			s.dirs = make(map[store.DirKey]*stagedDir)
		}
		d = &stagedDir{users: make(map[string]*stagedUser)}
		for i := range d.by {
			d.by[i] = make(map[string][]string)
		}
		s.dirs[k] = d
	}
	return d
}

// put adds user id of directory k with r's values, staged by transaction
// added (0: not committed yet).
func (s *staged) put(k store.DirKey, id string, r *userRecord, added uint64) {
	u := &stagedUser{name: store.Fold(r.UserName), ext: r.ExternalID, added: added}
	for e := range foldedSet(r.Emails) {
		u.emails = append(u.emails, e)
	}
	d := s.dir(k)
	if _, ok := d.users[id]; ok {
		return
	}
	d.users[id] = u
	s.n++
	d.by[stagedName][u.name] = append(d.by[stagedName][u.name], id)
	if u.ext != "" {
		d.by[stagedExt][u.ext] = append(d.by[stagedExt][u.ext], id)
	}
	for _, e := range u.emails {
		d.by[stagedEmail][e] = append(d.by[stagedEmail][e], id)
	}
}

// remove forgets a user.
func (s *staged) remove(ref stagedRef) {
	d := s.dirs[ref.dir]
	if d == nil {
		return
	}
	u, ok := d.users[ref.id]
	if !ok {
		return
	}
	delete(d.users, ref.id)
	s.n--
	unlist := func(f stagedField, v string) {
		ids := d.by[f][v]
		for i, id := range ids {
			if id == ref.id {
				ids = append(ids[:i], ids[i+1:]...)
				break
			}
		}
		if len(ids) == 0 {
			delete(d.by[f], v)
		} else {
			d.by[f][v] = ids
		}
	}
	unlist(stagedName, u.name)
	if u.ext != "" {
		unlist(stagedExt, u.ext)
	}
	for _, e := range u.emails {
		unlist(stagedEmail, e)
	}
	if len(d.users) == 0 {
		delete(s.dirs, ref.dir)
	}
}

// add is put for the write transaction in progress: rolled back with it.
// It returns how many users memory holds.
func (s *staged) add(k store.DirKey, id string, r *userRecord) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(k, id, r, 0)
	s.added = append(s.added, stagedRef{k, id})
	return s.n
}

// retireLater marks a user whose keys the write transaction in progress
// writes (or who it deletes): once it commits, the user is retired.
func (s *staged) retireLater(k store.DirKey, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.user(stagedRef{k, id}); u != nil {
		u.retiring = true
	}
	s.retire = append(s.retire, stagedRef{k, id})
}

// How a write transaction ended, for settle.
type txOutcome int

const (
	txCommitted  txOutcome = iota
	txRolledBack           // before Commit: nothing of it is in the file
	// Commit failed: bbolt may have written the meta page before its
	// fsync failed, so what the transaction wrote may still be what
	// later transactions read. Its users stay in memory (reads check
	// each against their snapshot) and none is retired.
	txCommitFailed
)

// settle ends the write transaction in progress, tx: committed, its
// retirements start; rolled back, its additions are forgotten.
func (s *staged) settle(tx uint64, how txOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch how {
	case txCommitted:
		s.last = tx
		for _, ref := range s.added {
			if u := s.user(ref); u != nil {
				u.added = tx
			}
		}
		for _, ref := range s.retire {
			if u := s.user(ref); u != nil {
				u.retired, u.retiring = tx, false
			}
		}
		if len(s.retire) > 0 {
			s.retired = append(s.retired, retiredRefs{tx: tx, refs: s.retire})
		}
	case txRolledBack:
		for _, ref := range s.added {
			s.remove(ref)
		}
		for _, ref := range s.retire {
			if u := s.user(ref); u != nil {
				u.retiring = false
			}
		}
	}
	s.added, s.retire = nil, nil
	s.dropRetired()
}

func (s *staged) user(ref stagedRef) *stagedUser {
	if d := s.dirs[ref.dir]; d != nil {
		return d.users[ref.id]
	}
	return nil
}

// candidates returns the ids of directory k's users in memory whose field
// f is value (or starts with it), as they stand in the snapshot of
// transaction snap (see stagedUser.visible): sure ones, and unsure ones to
// be checked against the snapshot's records.
func (s *staged) candidates(k store.DirKey, f stagedField, value string, prefix bool, snap uint64) (sure, unsure []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dirs[k]
	if d == nil || !prefix && value == "" {
		return nil, nil
	}
	take := func(ids []string) {
		for _, id := range ids {
			switch yes, maybe := d.users[id].visible(snap); {
			case yes:
				sure = append(sure, id)
			case maybe:
				unsure = append(unsure, id)
			}
		}
	}
	if !prefix {
		take(d.by[f][value])
		return sure, unsure
	}
	for v, ids := range d.by[f] {
		if strings.HasPrefix(v, value) {
			take(ids)
		}
	}
	return sure, unsure
}

// stagedLookup returns the users of the snapshot found by memory whose
// field f is value (or starts with it), in no order; the records it reads
// and does not return count in d.examined.
func (d *dirTx) stagedLookup(f stagedField, value string, prefix bool) ([]string, error) {
	if d.db == nil {
		return nil, errors.New("staged lookup without its store")
	}
	out, unsure := d.db.staged.candidates(d.key, f, value, prefix, uint64(d.users.Tx().ID()))
	for _, id := range unsure {
		r, err := d.readUser(id)
		if errors.Is(err, errNoUser) {
			continue // not in this snapshot (yet, or any more)
		}
		if err != nil {
			return nil, err
		}
		if stagedMatch(&r, f, value, prefix) {
			out = append(out, id)
		} else {
			d.examined++
		}
	}
	return out, nil
}

func stagedMatch(r *userRecord, f stagedField, value string, prefix bool) bool {
	is := func(v string) bool {
		if prefix {
			return strings.HasPrefix(v, value)
		}
		return v != "" && v == value
	}
	switch f {
	case stagedName:
		return is(store.Fold(r.UserName))
	case stagedExt:
		return r.ExternalID != "" && is(r.ExternalID)
	}
	for _, e := range r.Emails {
		if is(store.Fold(e)) {
			return true
		}
	}
	return false
}

// withStaged adds to ids (sorted, from the index) the staged users found
// by f, and returns them sorted without repeats.
func (d *dirTx) withStaged(ids []string, f stagedField, value string, prefix bool) ([]string, error) {
	more, err := d.stagedLookup(f, value, prefix)
	if err != nil || len(more) == 0 {
		return ids, err
	}
	return sortedIDs(append(ids, more...)), nil
}

// userNameHeld returns the conflict error if the folded userName name is
// another user's than self ("": any user's): in the index or staged.
func (d *dirTx) userNameHeld(name, raw, self string) error {
	if name == "" {
		return nil
	}
	if held := d.userName.Get([]byte(name)); held != nil && string(held) != self {
		return &store.ConflictError{Field: "userName", Value: raw}
	}
	ids, err := d.stagedLookup(stagedName, name, false)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id != self {
			return &store.ConflictError{Field: "userName", Value: raw}
		}
	}
	return nil
}

// stage records user id, just created with r, as staged, and writes the
// keys of every staged user of the directory when they reach stageMax.
func (d *dirTx) stage(id string, r *userRecord) error {
	b, err := d.bucket.CreateBucketIfNotExists(bucketStaged)
	if err != nil {
		return err
	}
	b.FillPercent = appendFill
	if err := b.Put([]byte(id), empty); err != nil {
		return err
	}
	if err := addCounter(d.counters, keyStagedCount, 1); err != nil {
		return err
	}
	inMemory := d.db.staged.add(d.key, id, r)
	if counter(d.counters, keyStagedCount) >= d.db.stageMax || inMemory >= 2*d.db.stageMax {
		return d.indexStaged()
	}
	return nil
}

// unstage reports whether user id is staged (its index keys were never
// written), and if so makes it no longer staged.
func (d *dirTx) unstage(id string) (bool, error) {
	b := d.bucket.Bucket(bucketStaged)
	if b == nil || b.Get([]byte(id)) == nil {
		return false, nil
	}
	if err := b.Delete([]byte(id)); err != nil {
		return false, err
	}
	if err := addCounter(d.counters, keyStagedCount, -1); err != nil {
		return false, err
	}
	d.db.staged.retireLater(d.key, id)
	return true, nil
}

// indexStaged writes the index keys of every staged user of the directory.
func (d *dirTx) indexStaged() error {
	b := d.bucket.Bucket(bucketStaged)
	if b == nil {
		return nil
	}
	var ids []string
	if err := b.ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		r, err := d.readUser(id)
		if err != nil {
			return fmt.Errorf("staged user %s: %w", id, err)
		}
		if err := d.indexUser(id, nil, &r); err != nil {
			return fmt.Errorf("staged user %s: %w", id, err)
		}
		d.db.staged.retireLater(d.key, id)
	}
	if err := d.bucket.DeleteBucket(bucketStaged); err != nil {
		return err
	}
	return d.counters.Delete(keyStagedCount)
}

// loadStaged fills memory with the staged users of every directory, and
// the last committed transaction, at Open.
func (db *DB) loadStaged() error {
	return db.bolt.View(func(tx *bbolt.Tx) error {
		db.staged.last = uint64(tx.ID())
		return eachDirKey(tx, func(k store.DirKey, dir *bbolt.Bucket) error {
			b := dir.Bucket(bucketStaged)
			if b == nil {
				return nil
			}
			d, err := openDir(tx, k)
			if err != nil {
				return err
			}
			return b.ForEach(func(id, _ []byte) error {
				r, err := d.readUser(string(id))
				if err != nil {
					return fmt.Errorf("staged user %s: %w", id, err)
				}
				db.staged.put(k, string(id), &r, db.staged.last)
				return nil
			})
		})
	})
}

// eachDirKey calls fn with every directory's key and bucket.
func eachDirKey(tx *bbolt.Tx, fn func(k store.DirKey, dir *bbolt.Bucket) error) error {
	dirs := tx.Bucket(bucketDirs)
	if dirs == nil {
		return nil
	}
	return dirs.ForEachBucket(func(org []byte) error {
		ob := dirs.Bucket(org)
		return ob.ForEachBucket(func(name []byte) error {
			k := store.DirKey{Org: string(org), Directory: string(name)}
			if err := fn(k, ob.Bucket(name)); err != nil {
				return fmt.Errorf("directory %s: %w", k, err)
			}
			return nil
		})
	})
}

// checkStaged checks that every staged key of d is a user with a record
// whose userName no user holds in the index nor another staged user, and
// that the staged counter counts them.
func checkStaged(d *dirTx) error {
	n := 0
	names := map[string][]byte{}
	if b := d.bucket.Bucket(bucketStaged); b != nil {
		if err := b.ForEach(func(k, _ []byte) error {
			if !isRecordKey(k) || d.users.Get(k) == nil {
				return fmt.Errorf("staged key %q is not a user", k)
			}
			r, err := d.readUser(string(k))
			if err != nil {
				return fmt.Errorf("staged user %s: %w", k, err)
			}
			name := store.Fold(r.UserName)
			if held := d.userName.Get([]byte(name)); held != nil {
				return fmt.Errorf("staged user %s has userName %q, which the index gives to %s", k, r.UserName, held)
			}
			if other, ok := names[name]; ok {
				return fmt.Errorf("staged users %s and %s have the same userName %q", other, k, r.UserName)
			}
			names[name] = bytes.Clone(k)
			n++
			return nil
		}); err != nil {
			return err
		}
	}
	if c := counter(d.counters, keyStagedCount); c != n {
		return fmt.Errorf("counts %d staged users but holds %d", c, n)
	}
	return nil
}
