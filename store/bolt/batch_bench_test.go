package bolt

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
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
