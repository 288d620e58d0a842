package bolt

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkFlush is the disk alone, without bbolt: one page written in
// place in a file of 4 MiB, then fdatasync, as bbolt does on Linux. A
// commit makes two such flushes (BenchmarkPing), after writing its pages.
// The disk's flush time varies from day to day on a shared virtual disk,
// and every write figure of README varies with it.
func BenchmarkFlush(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "flush"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const pages = 1024
	page := make([]byte, 4096)
	if _, err := f.Write(make([]byte, pages*len(page))); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		n++
		if _, err := f.WriteAt(page, int64(n*7%pages*len(page))); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
