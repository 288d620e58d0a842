package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/scimbridge/scimbridge/internal/rulescache"
	"github.com/scimbridge/scimbridge/store"
)

var _ store.Store = (*DB)(nil)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process before it fails with store.ErrLocked. Zero or negative means
	// one second; the store never waits forever.
	Timeout time.Duration
	// Now is the clock used for Created and Modified. Nil means time.Now.
	// Times are stored in UTC.
	Now func() time.Time
	// ObserveTx, when set, is told the duration of every read transaction
	// ("read") and of every write transaction from begin to commit,
	// fsync included ("write"; one per group commit batch).
	ObserveTx func(kind string, d time.Duration)
}

// DB is a store.Store on one bbolt file. It is safe for concurrent use.
type DB struct {
	bolt    *bbolt.DB
	now     func() time.Time
	observe func(kind string, d time.Duration)
	waits   waiters
	// rules keeps the compiled current rules per org by version. Entries
	// are added only for committed versions (a reader's, or a publish's
	// after its commit), never for one that a transaction that may still
	// roll back wrote. See rules.go.
	rules rulescache.Cache
	// tokens caches TokenByHash, see tokens.go; dirs the directories
	// found (store.DirKey → store.Directory), see Directory.
	tokens tokenCache
	dirs   sync.Map
	// commits queues the writes for group commit, see commit.go.
	commits committer
	// staged holds the users whose index keys are not written yet, and
	// stageMax how many a directory holds at most; see staged.go.
	staged   staged
	stageMax int
}

const (
	defaultTimeout = time.Second
	// initialMmapSize reserves address space so that a growing file does not
	// have to be remapped (a remap waits for every read transaction).
	initialMmapSize = 64 << 20
)

// Open opens or creates the database at path, takes an exclusive lock on it,
// and runs the migrations the file has not seen yet. If another process (or
// another DB in this process) holds the file, Open gives up after
// opts.Timeout with an error wrapping store.ErrLocked.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	bo := &bbolt.Options{Timeout: opts.Timeout, FreelistType: bbolt.FreelistArrayType}
	if runtime.GOOS != "windows" { // Windows grows the file to the mapped size.
		bo.InitialMmapSize = initialMmapSize
	}
	b, err := openSameFile(path, bo)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w (waited %s for the file lock; is another scimbridge running on this file?)", path, store.ErrLocked, opts.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	db := &DB{bolt: b, now: opts.Now, observe: opts.ObserveTx, stageMax: defaultStageMax}
	if db.observe == nil {
		db.observe = func(string, time.Duration) {}
	}
	if err := db.migrate(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := db.loadStaged(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("bolt: open %s: staged users: %w", path, err)
	}
	return db, nil
}

// Close releases the file and its lock. It waits for open transactions,
// and wakes every WaitEvents channel.
func (db *DB) Close() error {
	db.waits.close()
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// update runs fn in one read-write transaction after checking ctx.
func (db *DB) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(fn)
}

// view runs fn in one read-only transaction after checking ctx.
func (db *DB) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	defer func() { db.observe("read", time.Since(start)) }()
	bound := db.staged.enter() // see staged.go
	defer db.staged.leave(bound)
	return db.bolt.View(fn)
}

// stamp returns the current time in UTC, without a monotonic reading.
func (db *DB) stamp() time.Time { return db.now().UTC() }

// Layout. See doc.go.
var (
	bucketMeta      = []byte("meta")
	bucketOrgs      = []byte("orgs")
	bucketDirs      = []byte("dirs")
	bucketTokens    = []byte("tokens")
	bucketTokenHash = []byte("token_hash")

	keySchema = []byte("schema")

	// Inside a directory bucket.
	keyDirectory        = []byte("directory")
	bucketUsers         = []byte("users")
	bucketGroups        = []byte("groups")
	bucketUserName      = []byte("idx_user_name")
	bucketUserExt       = []byte("idx_user_ext")
	bucketUserEmail     = []byte("idx_user_email")
	bucketGroupName     = []byte("idx_group_name")
	bucketGroupExt      = []byte("idx_group_ext")
	bucketMembers       = []byte("members")
	bucketMemberOf      = []byte("memberof") // schemas 1 to 5; migration 6 moves its keys into users
	bucketCounters      = []byte("counters")
	keyUserCount        = []byte("users")
	keyGroupCount       = []byte("groups")
	directorySubBuckets = [][]byte{
		bucketUsers, bucketGroups, bucketUserName, bucketUserExt, bucketUserEmail,
		bucketGroupName, bucketGroupExt, bucketMembers, bucketCounters,
	}
)

// migration is one step of the schema. migrations[i] takes a file from
// schema version i to i+1, inside one transaction with the version bump.
type migration struct {
	name string
	up   func(tx *bbolt.Tx) error
}

var migrations = []migration{
	{name: "initial layout", up: func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketOrgs, bucketDirs, bucketTokens, bucketTokenHash} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}},
	{name: "event outbox", up: migrateOutbox},
	{name: "rules and access", up: migrateAccess},
	{name: "member positions", up: migrateMemberPositions},
	// The email index no longer holds a user's own userName (see
	// reindexEmails). Keys of files written before stay and are read as
	// they are, so nothing is rewritten; the version tells an older build
	// that it would miss those users in email lookups, and must refuse the
	// file.
	{name: "email index without the userName", up: func(*bbolt.Tx) error { return nil }},
	{name: "memberships beside their users", up: migrateMembershipsToUsers},
	// Creates stage their users' index keys (staged.go): the staged bucket
	// and counter are made by the first create. An older build would not
	// find staged users in its lookups, and must refuse the file.
	{name: "staged index keys", up: func(*bbolt.Tx) error { return nil }},
}

func schemaVersion(tx *bbolt.Tx) uint64 {
	if b := tx.Bucket(bucketMeta); b != nil {
		return decodeUint(b.Get(keySchema))
	}
	return 0
}

// migrate brings the file to len(migrations). A file newer than this build is
// refused rather than misread.
func (db *DB) migrate() error {
	var have uint64
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		have = schemaVersion(tx)
		return nil
	}); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	want := uint64(len(migrations))
	switch {
	case have == want:
		return nil
	case have > want:
		return fmt.Errorf("schema version %d is newer than this build supports (%d)", have, want)
	}
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		for v := schemaVersion(tx); v < want; v++ {
			m := migrations[v]
			if err := m.up(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", v+1, m.name, err)
			}
			if err := tx.Bucket(bucketMeta).Put(keySchema, encodeUint(v+1)); err != nil {
				return fmt.Errorf("migration %d (%s): %w", v+1, m.name, err)
			}
		}
		return nil
	})
}

// dirTx is one directory's buckets inside one transaction.
type dirTx struct {
	key       store.DirKey
	bucket    *bbolt.Bucket
	users     *bbolt.Bucket
	groups    *bbolt.Bucket
	userName  *bbolt.Bucket
	userExt   *bbolt.Bucket
	userEmail *bbolt.Bucket
	groupName *bbolt.Bucket
	groupExt  *bbolt.Bucket
	members   *bbolt.Bucket
	counters  *bbolt.Bucket
	now       time.Time // set by writers
	ob        *outbox   // set by writers: where their events go
	db        *DB       // set by writers: for the compiled rules
	// affected are the users whose access the write may change, set by
	// writers (accessChanged) and recomputed after their callback.
	affected map[string]bool
	// examined counts the records a lookup decoded and did not return
	// (emailLookup's checks), for the page's Examined.
	examined int
}

var (
	errNoOrg       = fmt.Errorf("no such org: %w", store.ErrNotFound)
	errNoDirectory = fmt.Errorf("no such directory: %w", store.ErrNotFound)
	errNoUser      = fmt.Errorf("no such user: %w", store.ErrNotFound)
	errNoGroup     = fmt.Errorf("no such group: %w", store.ErrNotFound)
	errNoToken     = fmt.Errorf("no such token: %w", store.ErrNotFound)
)

// directoryBucket returns the bucket of directory k, or nil.
func directoryBucket(tx *bbolt.Tx, k store.DirKey) *bbolt.Bucket {
	if k.Org == "" || k.Directory == "" {
		return nil
	}
	org := tx.Bucket(bucketDirs).Bucket([]byte(k.Org))
	if org == nil {
		return nil
	}
	return org.Bucket([]byte(k.Directory))
}

func openDir(tx *bbolt.Tx, k store.DirKey) (*dirTx, error) {
	b := directoryBucket(tx, k)
	if b == nil {
		return nil, errNoDirectory
	}
	d := &dirTx{key: k, bucket: b}
	for _, s := range []struct {
		name []byte
		dst  **bbolt.Bucket
	}{
		{bucketUsers, &d.users}, {bucketGroups, &d.groups},
		{bucketUserName, &d.userName}, {bucketUserExt, &d.userExt}, {bucketUserEmail, &d.userEmail},
		{bucketGroupName, &d.groupName}, {bucketGroupExt, &d.groupExt},
		{bucketMembers, &d.members}, {bucketCounters, &d.counters},
	} {
		if *s.dst = b.Bucket(s.name); *s.dst == nil {
			return nil, fmt.Errorf("directory %s is missing bucket %s", k, s.name)
		}
	}
	d.users.FillPercent, d.groups.FillPercent, d.members.FillPercent = appendFill, appendFill, appendFill
	return d, nil
}

// appendFill is how full bbolt fills a page it splits in the buckets keyed
// by time-ordered ids (users, groups) or by position (members): new keys go
// to the right edge (of the bucket, or of the group's range), so
// the page left behind is rarely written again, and bbolt's default (half
// full) would leave half of every page of these buckets empty. (A user's
// membership keys, which follow its record in users, go in the middle; a
// page they split is split again soon, by the next memberships.)
const appendFill = 0.9

// Keys.

// idLen is the length of every id the store generates (canonical UUID). Keys
// that end in an id are split by length, so a 0x00 inside an indexed value
// cannot shift the id.
const idLen = 36

// pairKey returns a + 0x00 + b.
func pairKey(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// empty is the value of keys whose presence is the information.
var empty = []byte{}

// has reports whether key is present in b. (Get cannot tell an empty value
// from a missing key.)
func has(b *bbolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return k != nil && bytes.Equal(k, key)
}

// scanPrefix calls fn for every key of b that starts with prefix, in key
// order, until fn returns false. k and v are valid only during the call.
func scanPrefix(b *bbolt.Bucket, prefix []byte, fn func(k, v []byte) bool) {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if !fn(k, v) {
			return
		}
	}
}

// suffixIDs returns the ids (last idLen bytes) of the keys of b under prefix;
// with exact, only keys that are prefix + id.
func suffixIDs(b *bbolt.Bucket, prefix []byte, exact bool) []string {
	var ids []string
	scanPrefix(b, prefix, func(k, _ []byte) bool {
		if len(k) < len(prefix)+idLen || exact && len(k) != len(prefix)+idLen {
			return true
		}
		ids = append(ids, string(k[len(k)-idLen:]))
		return true
	})
	return ids
}

func encodeUint(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeUint(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func counter(b *bbolt.Bucket, key []byte) int { return int(decodeUint(b.Get(key))) }

func addCounter(b *bbolt.Bucket, key []byte, delta int) error {
	n := int64(decodeUint(b.Get(key))) + int64(delta)
	if n < 0 {
		return fmt.Errorf("counter %s would drop below zero", key)
	}
	return b.Put(key, encodeUint(uint64(n)))
}

// newID returns a random (version 4) UUID in canonical lower-case form.
func newID() string {
	var s [idLen]byte
	return string(appendID(s[:0]))
}

// appendID appends a new id (see newID) to b.
func appendID(b []byte) []byte {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand crashes the program instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return appendUUID(b, &u)
}

// newTimeID returns a time-ordered UUID (version 7, RFC 9562): 48 bits of
// Unix milliseconds, then 74 random bits. Users and groups get these, so
// that a new record is appended at the right edge of its bucket instead
// of dirtying a random page: an initial sync writes a few pages per batch
// rather than one per user, and the buckets fill their pages (see
// appendFill). The time is the record's meta.created, which the API shows
// anyway; the random bits keep ids unguessable.
func newTimeID(now time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[6:])
	ms := uint64(now.UnixMilli())
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	var s [idLen]byte
	return string(appendUUID(s[:0], &u))
}

func appendUUID(b []byte, u *[16]byte) []byte {
	b = hex.AppendEncode(b, u[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, u[10:])
}

// encode is json.Marshal without HTML escaping, so that Attributes keep
// their characters (they are compacted, see compactJSON).
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decode unmarshals a stored record. encoding/json copies what it keeps, so
// v may point into the mmap.
func decode(v []byte, dst any) error {
	if r, ok := dst.(*userRecord); ok && fastDecodeUser(v, r) {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

// compactJSON returns a fresh compacted copy of a JSON document, which is
// the form Attributes are stored and returned in. Empty means nil.
func compactJSON(b []byte) (json.RawMessage, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("attributes are not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// checkVersion implements ifVersion.
func checkVersion(have, want uint64) error {
	if want != 0 && want != have {
		return fmt.Errorf("%w: expected version %d, current is %d", store.ErrVersionMismatch, want, have)
	}
	return nil
}

// openSameFile opens and locks the file at path, and makes sure that the
// file locked is still the one at path: a restore or a compaction that
// renames a new file over path while Open waits for the lock would
// otherwise leave this process serving, and fsyncing into, a file that no
// longer has a name, losing every write at the next restart.
func openSameFile(path string, bo *bbolt.Options) (*bbolt.DB, error) {
	for range 3 {
		before, statErr := os.Stat(path)
		b, err := bbolt.Open(path, 0o600, bo)
		if err != nil {
			return nil, err
		}
		after, err := os.Stat(path)
		if err == nil && (statErr != nil || os.SameFile(before, after)) {
			return b, nil
		}
		_ = b.Close() // replaced while we waited: open the new file
	}
	return nil, fmt.Errorf("%w: the file was replaced while opening it, three times", store.ErrLocked)
}
