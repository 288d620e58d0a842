package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// BenchmarkCreateUserParallel is BenchmarkCreateUser from 8 goroutines per
// CPU: concurrent writes share a commit (group commit, see doc.go).
func BenchmarkCreateUserParallel(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	dir, _, _ := fill(b, db, 0, 0)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := fakeUsers(int(next.Add(1)), 1)[0]
			if _, err := db.CreateUser(ctx, dir, u); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCreateUserParallelAt100k is the initial sync's create phase at
// the store: 16 concurrent creates (8 goroutines per CPU on 2 CPUs) into a
// directory of 100,000 users, with names in no order as a directory's are,
// so that each create's index keys land on pages all over their indexes.
// pages/op is what the commits wrote per create, the figure the disk's
// random writes follow.
func BenchmarkCreateUserParallelAt100k(b *testing.B) {
	benchCreatesAt100k(b, func(db *DB, dir store.DirKey, n uint64) error {
		_, err := db.CreateUser(context.Background(), dir, fakeUsers(spread(n), 1)[0])
		return err
	})
}

// BenchmarkCreateUserParallelConflicts is BenchmarkCreateUserParallelAt100k
// with every other create refused: its userName is held already, as when an
// IdP pushes users that a directory has from an earlier sync. A refused
// create must not split the commit its neighbours share.
func BenchmarkCreateUserParallelConflicts(b *testing.B) {
	benchCreatesAt100k(b, func(db *DB, dir store.DirKey, n uint64) error {
		i := spread(n)
		if n%2 == 0 {
			i %= 100_000 // a user of the fixture
		}
		_, err := db.CreateUser(context.Background(), dir, fakeUsers(i, 1)[0])
		if conflict := errors.As(err, new(*store.ConflictError)); conflict != (n%2 == 0) {
			return fmt.Errorf("CreateUser(%s) = %v; want a conflict: %v", userName(i), err, n%2 == 0)
		}
		return nil
	})
}

// benchCreatesAt100k calls create with n = 1, 2, … from 16 goroutines (8
// per CPU on 2 CPUs) on a directory of 100,000 users, and reports the pages
// the commits wrote per call.
func benchCreatesAt100k(b *testing.B, create func(db *DB, dir store.DirKey, n uint64) error) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	dir, _, _ := fill(b, db, 100_000, 0)
	var next atomic.Uint64
	before := writes(db)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := create(db, dir, next.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(writes(db)-before)/float64(b.N), "pages/op")
}

// spread returns the n-th user number after the fixture's 100,000, in no
// order: n times a number prime to 900,000 is a bijection of [0, 900,000).
func spread(n uint64) int { return 100_000 + int(n*2654435761%900_000) }

// writes returns how many pages the DB's commits have written.
func writes(db *DB) int64 {
	s := db.bolt.Stats()
	return s.TxStats.GetWrite()
}

// BenchmarkPing is the floor of a write: one commit of one small key, so
// its time is mostly the disk's (bbolt writes the changed pages, then fdatasyncs,
// then writes the meta page and fdatasyncs again). Every write figure is
// to be read against it: a commit cannot be faster, and group commit is
// what shares it among concurrent writes.
func BenchmarkPing(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for b.Loop() {
		if err := db.Ping(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
