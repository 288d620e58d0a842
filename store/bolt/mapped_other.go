//go:build !linux

package bolt

// ReleaseMapped does nothing outside Linux; see mapped_linux.go.
func (db *DB) ReleaseMapped() (int64, error) { return 0, nil }
