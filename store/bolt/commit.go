package bolt

import (
	"errors"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Group commit. See doc.go, "Transactions and durability".
//
// Every write (db.write) is a call queued on the DB's committer. A call
// that finds no commit in progress becomes the leader and at once runs
// what is queued (itself at first) in one read-write transaction and
// commits it: a lone writer waits for nobody. Calls that arrive while the
// leader works queue up; when the leader is done it hands the lead to the
// oldest of them, which runs them all as the next batch, and returns. No
// call returns before the commit that holds it is on disk.
//
// A call's callback may run more than once: when a callback fails, the
// transaction is rolled back (bbolt has no savepoints), the calls before
// it run again and are committed, and the failing one then runs first in
// a transaction of its own, where its result is its own, whatever its
// neighbours did. So a callback must leave no trace outside its
// transaction except through the outbox it is given (events, post-commit
// actions), and must set its captured outputs afresh on every run.

// maxBatch bounds how many calls share one transaction.
const maxBatch = 1000

// call is one write waiting for its commit.
type call struct {
	run func(tx *bbolt.Tx) (*outbox, error)

	// Set by every run; what the last run left is the result.
	ob       *outbox // the outbox of the run: events and post-commit actions
	err      error
	panicked any
	hasPanic bool

	// wake gets false when the call is settled, true when it must lead.
	wake chan bool
}

// errPanicked stands in for a callback that panicked; the panic is raised
// again in the goroutine of its caller.
var errPanicked = errors.New("write callback panicked")

func (c *call) exec(tx *bbolt.Tx) {
	c.ob, c.err, c.panicked, c.hasPanic = nil, nil, nil, false
	defer func() {
		if p := recover(); p != nil {
			c.panicked, c.hasPanic, c.err = p, true, errPanicked
		}
	}()
	c.ob, c.err = c.run(tx)
}

type committer struct {
	mu    sync.Mutex
	busy  bool // a leader is running batches
	queue []*call
}

// commit queues c, waits until it is settled (leading batches when its turn
// comes), and returns its result.
func (db *DB) commit(c *call) error {
	c.wake = make(chan bool, 1)
	cm := &db.commits
	cm.mu.Lock()
	cm.queue = append(cm.queue, c)
	if cm.busy {
		cm.mu.Unlock()
		if lead := <-c.wake; !lead {
			return c.result()
		}
		cm.mu.Lock()
	}
	cm.busy = true
	n := min(len(cm.queue), maxBatch)
	batch := cm.queue[:n:n]
	cm.queue = cm.queue[n:]
	if len(cm.queue) == 0 {
		cm.queue = nil
	}
	cm.mu.Unlock()

	for len(batch) > 0 {
		batch = batch[db.runBatch(batch):]
	}

	cm.mu.Lock()
	if len(cm.queue) > 0 {
		next := cm.queue[0]
		cm.mu.Unlock()
		next.wake <- true // busy stays set: the lead passes on
	} else {
		cm.busy = false
		cm.mu.Unlock()
	}
	return c.result()
}

func (c *call) result() error {
	if c.hasPanic {
		panic(c.panicked)
	}
	return c.err
}

// runBatch runs calls in one transaction and settles a prefix of them: all
// of them if every callback succeeded (committed together, or failed
// together if the commit failed), else the calls before the first that
// failed (run again without it), or that one alone if it was the first. It
// returns how many calls it settled.
func (db *DB) runBatch(calls []*call) int {
	limit := len(calls)
	start := time.Now()
	defer func() { db.observe("write", time.Since(start)) }()
	for {
		tx, err := db.bolt.Begin(true)
		if err != nil {
			for _, c := range calls[:limit] {
				c.ob, c.err, c.panicked, c.hasPanic = nil, err, nil, false
			}
			db.settle(calls[:limit], false)
			return limit
		}
		failed := -1
		for i, c := range calls[:limit] {
			if c.exec(tx); c.err != nil {
				failed = i
				break
			}
		}
		if failed < 0 {
			id := uint64(tx.ID())
			err := tx.Commit()
			how := txCommitted
			if err != nil {
				how = txCommitFailed
				for _, c := range calls[:limit] {
					c.err = err
				}
			}
			db.staged.settle(id, how)
			db.settle(calls[:limit], err == nil)
			return limit
		}
		_ = tx.Rollback()
		db.staged.settle(0, txRolledBack)
		if failed == 0 {
			// It ran first, alone in the transaction: its result is its own.
			db.settle(calls[:1], false)
			return 1
		}
		limit = failed
	}
}

// settle runs the post-commit actions of committed calls (once: only the
// run that was committed has them), then releases their callers.
func (db *DB) settle(calls []*call, committed bool) {
	for _, c := range calls {
		if committed && c.ob != nil {
			if c.ob.n > 0 {
				db.waits.wake(c.ob.org)
			}
			for _, f := range c.ob.post {
				f()
			}
		}
		c.wake <- false
	}
}
