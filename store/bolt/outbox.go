package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// Layout of the outbox (schema version 2). See doc.go.
var (
	bucketOutbox       = []byte("outbox")        // org name → outbox bucket
	bucketOutboxSystem = []byte("outbox_system") // the outbox of org ""
	bucketEvents       = []byte("events")        // inside an outbox: seq → event
	keyLastSeq         = []byte("last")          // inside an outbox: highest seq given
	keyPrunedSeq       = []byte("pruned")        // inside an outbox: every seq ≤ it is pruned
)

// eventRecord is an event as stored: the JSON envelope consumers see. It is
// read with encoding/json and written by outbox.appendEvent, which gives
// the same bytes as encode(eventRecord) without reflection.
type eventRecord struct {
	ID         string          `json:"id"`
	Seq        uint64          `json:"seq"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Org        string          `json:"org"`
	Directory  string          `json:"directory,omitempty"`
	Actor      actorRecord     `json:"actor"`
	Resource   resourceRecord  `json:"resource"`
	Data       json.RawMessage `json:"data,omitempty"`
	Changes    []changeRecord  `json:"changes,omitempty"`
}

type actorRecord struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type resourceRecord struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type changeRecord struct {
	Attribute string          `json:"attribute"`
	Old       json.RawMessage `json:"old"`
	New       json.RawMessage `json:"new"`
}

// eventHeader is what filters and pruning read of a stored event.
type eventHeader struct {
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Directory  string    `json:"directory"`
}

func (r *eventRecord) event() store.Event {
	ev := store.Event{
		ID: r.ID, Seq: r.Seq, Type: r.Type, OccurredAt: r.OccurredAt, Org: r.Org, Directory: r.Directory,
		Actor:    store.Actor{Type: r.Actor.Type, ID: r.Actor.ID, Name: r.Actor.Name},
		Resource: store.ResourceRef{Type: r.Resource.Type, ID: r.Resource.ID},
		Data:     r.Data,
	}
	for _, c := range r.Changes {
		ev.Changes = append(ev.Changes, store.Change{Attribute: c.Attribute, Old: c.Old, New: c.New})
	}
	return ev
}

// outboxBucket returns the outbox of org ("" is the outbox of changes that
// belong to no org), or nil.
func outboxBucket(tx *bbolt.Tx, org string) *bbolt.Bucket {
	if org == "" {
		return tx.Bucket(bucketOutboxSystem)
	}
	if b := tx.Bucket(bucketOutbox); b != nil {
		return b.Bucket([]byte(org))
	}
	return nil
}

// createOutbox creates the outbox bucket name in parent (or, with a nil
// parent, at the top level) with its events bucket.
func createOutbox(tx *bbolt.Tx, parent *bbolt.Bucket, name []byte) error {
	var b *bbolt.Bucket
	var err error
	if parent == nil {
		b, err = tx.CreateBucketIfNotExists(name)
	} else {
		b, err = parent.CreateBucketIfNotExists(name)
	}
	if err != nil {
		return err
	}
	_, err = b.CreateBucketIfNotExists(bucketEvents)
	return err
}

// migrateOutbox is migration 2: an outbox for every org and the system
// outbox. Nothing that happened before it has an event.
func migrateOutbox(tx *bbolt.Tx) error {
	outboxes, err := tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return err
	}
	if err := createOutbox(tx, nil, bucketOutboxSystem); err != nil {
		return err
	}
	return tx.Bucket(bucketOrgs).ForEach(func(org, _ []byte) error {
		return createOutbox(tx, outboxes, org)
	})
}

// outbox appends the events of one write transaction to the outbox of one
// org. It opens the outbox at the first event, so that a write that emits
// nothing does not touch it, and org may be set until then.
type outbox struct {
	tx    *bbolt.Tx
	org   string
	actor actorRecord
	now   time.Time // the write's clock: Modified of what it writes, occurred_at of its events

	bucket *bbolt.Bucket // nil until the first event
	events *bbolt.Bucket
	last   uint64 // the seq of the last event appended (or before, the org's last)
	n      int    // events appended
	head   []byte // the envelope's fields that every event of the write shares
	arena  []byte // keys and values of the events: bbolt keeps them until the commit

	// post runs after the commit that holds this run of the write, and
	// only then (never for a run that was rolled back).
	post []func()
}

func (o *outbox) open() error {
	o.bucket = outboxBucket(o.tx, o.org)
	if o.bucket == nil {
		return fmt.Errorf("org %q has no outbox", o.org)
	}
	if o.events = o.bucket.Bucket(bucketEvents); o.events == nil {
		return fmt.Errorf("outbox of org %q has no events bucket", o.org)
	}
	// Keys only ever grow: full pages make a smaller file.
	o.events.FillPercent = 1.0
	o.last = decodeUint(o.bucket.Get(keyLastSeq))
	o.head = o.appendHead(nil)
	return nil
}

// eventData is the data of an event, which encodes itself.
type eventData interface {
	appendJSON(b []byte) []byte
	size() int // about how long the JSON is
}

// rawData is data that is already compact JSON without HTML escaping
// (what encode gives).
type rawData []byte

func (d rawData) appendJSON(b []byte) []byte { return append(b, d...) }
func (d rawData) size() int                  { return len(d) }

// encodeData encodes v as event data.
func encodeData(v any) (rawData, error) {
	b, err := encode(v)
	return rawData(b), err
}

// append adds one event with the next seq. data may be nil.
func (o *outbox) append(directory, typ string, res resourceRecord, data eventData, changes []changeRecord) error {
	if o.bucket == nil {
		if err := o.open(); err != nil {
			return err
		}
	}
	var changesJSON []byte
	if len(changes) > 0 {
		var err error
		if changesJSON, err = encode(changes); err != nil {
			return fmt.Errorf("event %s: %w", typ, err)
		}
	}
	need := 512 + len(directory) + len(res.ID) + len(changesJSON)
	if data != nil {
		need += data.size()
	}
	seq := o.last + 1
	room := o.alloc(need)
	kv := binary.BigEndian.AppendUint64(room, seq)
	kv = o.appendEvent(kv, seq, directory, typ, res, data, changesJSON)
	if cap(kv) == cap(room) { // written in the arena, not moved by append
		o.arena = o.arena[:len(o.arena)+len(kv)]
	}
	if err := o.events.Put(kv[:8:8], kv[8:len(kv):len(kv)]); err != nil {
		return err
	}
	o.last = seq
	o.n++
	return nil
}

// alloc returns an empty slice of the arena with room for need bytes. The
// caller appends to it and then grows o.arena by what it used. An event that
// outgrows its room is moved by append to an array of its own, which is
// fine: every slice keeps its array alive until bbolt is done with it.
func (o *outbox) alloc(need int) []byte {
	if cap(o.arena)-len(o.arena) < need {
		o.arena = make([]byte, 0, max(need, min(maxArena, 2*cap(o.arena))))
	}
	return o.arena[len(o.arena):len(o.arena)]
}

const maxArena = 64 << 10

// flush stores the org's counter if events were appended.
func (o *outbox) flush() error {
	if o.n == 0 {
		return nil
	}
	return o.bucket.Put(keyLastSeq, encodeUint(o.last))
}

// write runs fn in a read-write transaction, with the outbox of org and
// the actor of ctx, after checking ctx. The transaction may be shared with
// concurrent writes (group commit, see commit.go) and fn may run more than
// once: it must have no effect outside the transaction but through ob.
// write returns once the commit that holds fn's last run is on disk, after
// waking the waiters of the outbox that run appended to and running its
// post-commit actions.
func (db *DB) write(ctx context.Context, org string, fn func(tx *bbolt.Tx, ob *outbox) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a := store.ActorFrom(ctx)
	actor := actorRecord{Type: a.Type, ID: a.ID, Name: a.Name}
	return db.commit(&call{run: func(tx *bbolt.Tx) (*outbox, error) {
		ob := &outbox{tx: tx, org: org, actor: actor, now: db.stamp()}
		if err := fn(tx, ob); err != nil {
			return ob, err
		}
		return ob, ob.flush()
	}})
}

// writeDir is write for the users and groups of one directory.
func (db *DB) writeDir(ctx context.Context, dir store.DirKey, fn func(d *dirTx) error) error {
	return db.write(ctx, dir.Org, func(tx *bbolt.Tx, ob *outbox) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		d.now, d.ob, d.db = ob.now, ob, db
		if err := fn(d); err != nil {
			return err
		}
		return d.recomputeAccess()
	})
}

// precheck runs fn in a read transaction of dir before a write of dir is
// queued, so that what the write would refuse for certain (a userName held
// already) is refused without joining a commit: a callback that fails
// rolls back the transaction it shares, and the writes before it run again
// in a commit of their own (see commit.go), so each refusal in a batch
// would cost its neighbours a commit. fn sees committed state only; the
// write checks again in its own transaction, and that check is the one
// that decides. A directory that cannot be opened is left to the write.
func (db *DB) precheck(ctx context.Context, dir store.DirKey, fn func(d *dirTx) error) error {
	return db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return nil
		}
		d.db = db
		return fn(d)
	})
}

// heldAlready returns the conflict error of field if value's folded key is
// held in the unique index b.
func heldAlready(b *bbolt.Bucket, field, value string) error {
	if key := store.Fold(value); key != "" && b.Get([]byte(key)) != nil {
		return &store.ConflictError{Field: field, Value: value}
	}
	return nil
}

// emit appends an event of the directory.
func (d *dirTx) emit(typ string, res resourceRecord, data eventData, changes []changeRecord) error {
	return d.ob.append(d.key.Directory, typ, res, data, changes)
}

// Reading and pruning.

// Events reads a page of the outbox of org; see store.Store.
func (db *DB) Events(ctx context.Context, org string, q store.EventQuery) (store.EventPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultEventLimit
	}
	limit = min(limit, store.MaxEventLimit)
	var types map[string]bool
	if len(q.Types) > 0 {
		types = make(map[string]bool, len(q.Types))
		for _, t := range q.Types {
			types[t] = true
		}
	}
	filtered := types != nil || q.Directory != ""
	var page store.EventPage
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := outboxBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		last, pruned := decodeUint(b.Get(keyLastSeq)), decodeUint(b.Get(keyPrunedSeq))
		page.Last, page.Next = last, q.After
		switch {
		case q.After > last:
			return fmt.Errorf("%w: cursor %d, the last seq is %d", store.ErrCursorAhead, q.After, last)
		case q.After < pruned:
			return &store.CursorExpiredError{After: q.After, Oldest: pruned + 1}
		}
		c := b.Bucket(bucketEvents).Cursor()
		scanned := 0
		for k, v := c.Seek(encodeUint(q.After + 1)); k != nil && len(page.Events) < limit && scanned < store.MaxEventScan; k, v = c.Next() {
			scanned++
			seq := decodeUint(k)
			if filtered {
				var h eventHeader
				if err := decode(v, &h); err != nil {
					return fmt.Errorf("event %d: %w", seq, err)
				}
				if types != nil && !types[h.Type] || q.Directory != "" && h.Directory != q.Directory {
					page.Next = seq
					continue
				}
			}
			var r eventRecord
			if err := decode(v, &r); err != nil {
				return fmt.Errorf("event %d: %w", seq, err)
			}
			page.Events = append(page.Events, r.event())
			page.Next = seq
		}
		return nil
	})
	if err != nil {
		return store.EventPage{}, fmt.Errorf("bolt: events of %q: %w", org, err)
	}
	return page, nil
}

// PruneEvents deletes the oldest events of org; see store.Store.
func (db *DB) PruneEvents(ctx context.Context, org string, before time.Time, keepAfter uint64) (int, error) {
	var n int
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		n = 0
		b := outboxBucket(tx, org)
		if b == nil {
			return errNoOrg
		}
		events := b.Bucket(bucketEvents)
		var seqs [][]byte
		c := events.Cursor()
		for k, v := c.First(); k != nil && len(seqs) < store.MaxEventPrune; k, v = c.Next() {
			if decodeUint(k) > keepAfter {
				break
			}
			var h eventHeader
			if err := decode(v, &h); err != nil {
				return fmt.Errorf("event %d: %w", decodeUint(k), err)
			}
			if !h.OccurredAt.Before(before) {
				break
			}
			seqs = append(seqs, slices.Clone(k))
		}
		if len(seqs) == 0 {
			return nil
		}
		for _, k := range seqs {
			if err := events.Delete(k); err != nil {
				return err
			}
		}
		n = len(seqs)
		return b.Put(keyPrunedSeq, seqs[len(seqs)-1])
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: prune events of %q: %w", org, err)
	}
	return n, nil
}

// Waiting.

var _ store.EventWaiter = (*DB)(nil)

// waiters wakes the live streams of each org after a commit: one channel
// per org that someone waits on, closed (and forgotten) by the next commit
// that appends to that org. Waking is a map lookup and a close under a
// mutex that is never held during I/O, so it never holds a writer back.
type waiters struct {
	mu     sync.Mutex
	closed bool
	orgs   map[string]chan struct{}
}

var errClosed = errors.New("database is closed")

// wait returns the channel the next commit to org closes.
func (w *waiters) wait(org string) (chan struct{}, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errClosed
	}
	ch := w.orgs[org]
	if ch == nil {
		if w.orgs == nil {
			w.orgs = map[string]chan struct{}{}
		}
		ch = make(chan struct{})
		w.orgs[org] = ch
	}
	return ch, nil
}

func (w *waiters) wake(org string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch := w.orgs[org]; ch != nil {
		close(ch)
		delete(w.orgs, org)
	}
}

// close wakes every waiter for good.
func (w *waiters) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for org, ch := range w.orgs {
		close(ch)
		delete(w.orgs, org)
	}
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// WaitEvents returns a channel that is closed once an event with a seq
// greater than after is committed in org, at once if there is one, or
// when the database is closed. An unknown org is store.ErrNotFound.
func (db *DB) WaitEvents(ctx context.Context, org string, after uint64) (<-chan struct{}, error) {
	lastSeq := func() (uint64, error) {
		var last uint64
		err := db.view(ctx, func(tx *bbolt.Tx) error {
			b := outboxBucket(tx, org)
			if b == nil {
				return errNoOrg
			}
			last = decodeUint(b.Get(keyLastSeq))
			return nil
		})
		return last, err
	}
	// The org must exist before a channel is kept for it (orgs are never
	// deleted). Then the channel is taken before the last seq is read, so
	// that a commit between the two is either seen by the read or closes
	// the channel.
	if _, err := lastSeq(); err != nil {
		return nil, fmt.Errorf("bolt: wait for events of %q: %w", org, err)
	}
	ch, err := db.waits.wait(org)
	if err != nil {
		return nil, fmt.Errorf("bolt: wait for events of %q: %w", org, err)
	}
	last, err := lastSeq()
	if err != nil {
		return nil, fmt.Errorf("bolt: wait for events of %q: %w", org, err)
	}
	if last > after {
		return closedChan, nil
	}
	return ch, nil
}
