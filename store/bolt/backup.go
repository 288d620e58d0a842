package bolt

// Backup, verification and compaction of database files.
//
// Every file this code creates is written to a temporary file in the
// destination's directory (mode 0600: it holds token hashes and personal
// data), fsynced, verified with Verify, and only then moved to its name:
// with os.Link, which fails if the name exists, unless the caller forces an
// overwrite, then with os.Rename, which replaces atomically. The directory
// is fsynced after the move. A crash at any point leaves either the old
// file or the new verified one under the name, and at worst a temporary
// file (".NAME.tmp-*") beside it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/scimbridge/scimbridge/store"
)

// ErrInvalidFile means a file is not a sound scimbridge database: not a
// bbolt file, truncated, failing bbolt's consistency check, without the
// meta bucket, or of a schema newer than this build.
var ErrInvalidFile = errors.New("bolt: not a valid scimbridge database")

// Info describes a database file, as Verify found it.
type Info struct {
	SchemaVersion int   // schema version of the file (see doc.go)
	Orgs          int   // orgs
	Directories   int   // directories, over every org
	Users         int   // users, over every directory
	Groups        int   // groups, over every directory
	Size          int64 // size of the file in bytes
}

// SchemaVersion is the schema version this build writes; Open migrates
// older files to it and Verify refuses newer ones.
func SchemaVersion() int { return len(migrations) }

// BackupStarter is the optional interface of a Backup sink that wants to
// know, before the first byte, how many bytes will follow and the schema
// version of the snapshot (an HTTP handler sets Content-Length from it).
type BackupStarter interface {
	BackupStarted(size int64, schema int)
}

// compactTxMaxSize bounds the bytes copied per transaction by Compact.
const compactTxMaxSize = 64 << 20

// Backup writes a consistent snapshot of the whole database to w: a
// complete bbolt file of the state at one instant, which Verify accepts
// and Open opens. It returns the bytes written (the snapshot's size).
//
// The snapshot is taken inside one read transaction (bbolt's tx.WriteTo),
// held for the whole copy. Writers keep committing meanwhile, but the pages
// they free cannot be reused until the copy ends (the file grows), and if
// the file outgrows the mapped address space (64 MiB reserved, see doc.go)
// the next commit waits for the copy to end. So stream to a fast sink (a
// local file, a nearby client), not a slow network link. If w implements
// BackupStarter, it is told the size first. A cancelled ctx stops the copy
// at the next write, and w is left with a partial file.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = writeSnapshot(ctx, tx, w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("bolt: backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a snapshot of the database file at path to w, without
// Open: the file is opened read-only (no migration runs) and is not
// changed. If a server holds the file, BackupFile gives up after timeout
// (zero: one second) with an error wrapping store.ErrLocked: take an online
// backup through the server instead.
func BackupFile(ctx context.Context, path string, timeout time.Duration, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b, err := openReadOnly(path, timeout)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	var n int64
	err = b.View(func(tx *bbolt.Tx) error {
		if _, err := checkSchema(tx); err != nil {
			return err
		}
		n, err = writeSnapshot(ctx, tx, w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("bolt: backup %s: %w", path, err)
	}
	return n, nil
}

func writeSnapshot(ctx context.Context, tx *bbolt.Tx, w io.Writer) (int64, error) {
	if s, ok := w.(BackupStarter); ok {
		s.BackupStarted(tx.Size(), int(schemaVersion(tx)))
	}
	return tx.WriteTo(ctxWriter{ctx: ctx, w: w})
}

// ctxWriter fails writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// openReadOnly opens a bbolt file read-only with a shared lock, which a
// running server's exclusive lock refuses.
func openReadOnly(path string, timeout time.Duration) (*bbolt.DB, error) {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("bolt: %s: not a regular file: %w", path, ErrInvalidFile)
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("bolt: open %s: %w (waited %s for the file lock; is a scimbridge server running on this file?)", path, store.ErrLocked, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("bolt: open %s: %w: %v", path, ErrInvalidFile, err)
	case err != nil:
		// bbolt reports short and garbled files with plain errors.
		return nil, fmt.Errorf("bolt: open %s: %w: %v", path, ErrInvalidFile, err)
	}
	return b, nil
}

// checkSchema refuses files without the meta bucket or newer than this build.
func checkSchema(tx *bbolt.Tx) (int, error) {
	if tx.Bucket(bucketMeta) == nil {
		return 0, fmt.Errorf("%w: no meta bucket (a bbolt file, but not scimbridge's)", ErrInvalidFile)
	}
	v := schemaVersion(tx)
	if v == 0 || v > uint64(len(migrations)) {
		return 0, fmt.Errorf("%w: schema version %d; this build reads 1 to %d", ErrInvalidFile, v, len(migrations))
	}
	return int(v), nil
}

// Verify opens the file at path read-only (waiting at most one second for
// the lock: a running server's file is refused with store.ErrLocked) and
// checks that it is a complete bbolt file (not shorter than its pages),
// that bbolt's consistency check (every page reachable or free, exactly
// once; keys in order) passes, and that it is a scimbridge database of a
// schema this build can open. Any failure wraps ErrInvalidFile. It reads
// every page: about as long as copying the file.
func Verify(path string) (Info, error) {
	b, err := openReadOnly(path, defaultTimeout)
	if err != nil {
		return Info{}, err
	}
	defer b.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("bolt: verify: %w", err)
	}
	info := Info{Size: fi.Size()}
	err = b.View(func(tx *bbolt.Tx) (err error) {
		// A damaged page can make bbolt index out of range, or fault.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: reading the file failed: %v", ErrInvalidFile, r)
			}
		}()
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: truncated: its pages need %d bytes, the file has %d", ErrInvalidFile, tx.Size(), fi.Size())
		}
		var problems []error
		for e := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, e)
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: consistency check failed: %w", ErrInvalidFile, errors.Join(problems...))
		}
		v, err := checkSchema(tx)
		if err != nil {
			return err
		}
		info.SchemaVersion = v
		return count(tx, &info, v)
	})
	if err != nil {
		return Info{}, fmt.Errorf("bolt: verify %s: %w", path, err)
	}
	return info, nil
}

// count fills the counts of info from the orgs bucket and every
// directory's counters, which it cross-checks with the key counts, in the
// layout of the file's schema version (a backup taken before an upgrade is
// restored as it is, and migrated when it is opened).
func count(tx *bbolt.Tx, info *Info, version int) error {
	orgs, dirs := tx.Bucket(bucketOrgs), tx.Bucket(bucketDirs)
	if orgs == nil || dirs == nil {
		return fmt.Errorf("%w: missing the orgs or dirs bucket", ErrInvalidFile)
	}
	info.Orgs = orgs.Stats().KeyN
	return dirs.ForEachBucket(func(org []byte) error {
		return dirs.Bucket(org).ForEachBucket(func(dir []byte) error {
			d, err := openDir(tx, store.DirKey{Org: string(org), Directory: string(dir)})
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidFile, err)
			}
			users, groups := counter(d.counters, keyUserCount), counter(d.counters, keyGroupCount)
			n, memberships, err := countUsers(d, version)
			if err != nil {
				return fmt.Errorf("%w: directory %s/%s: %v", ErrInvalidFile, org, dir, err)
			}
			if n != users {
				return fmt.Errorf("%w: directory %s/%s counts %d users but holds %d", ErrInvalidFile, org, dir, users, n)
			}
			if m := d.members.Stats().KeyN; m != memberships {
				return fmt.Errorf("%w: directory %s/%s holds %d members keys but %d memberships of users", ErrInvalidFile, org, dir, m, memberships)
			}
			if n := d.groups.Stats().KeyN; n != groups {
				return fmt.Errorf("%w: directory %s/%s counts %d groups but holds %d", ErrInvalidFile, org, dir, groups, n)
			}
			if version >= 4 { // members keyed by position since schema 4
				if err := d.checkMemberPositions(); err != nil {
					return fmt.Errorf("%w: directory %s/%s: %v", ErrInvalidFile, org, dir, err)
				}
			}
			if err := checkStaged(d); err != nil { // staged users since schema 7
				return fmt.Errorf("%w: directory %s/%s: %v", ErrInvalidFile, org, dir, err)
			}
			info.Directories++
			info.Users += users
			info.Groups += groups
			return nil
		})
	})
}

// countUsers counts the user records and the memberships of users of d:
// since schema 6 the keys that follow each record in users (user id 0x00
// group id, the record's own id), before it the keys of the memberof
// bucket, beside users that hold records only.
func countUsers(d *dirTx, version int) (users, memberships int, err error) {
	var last []byte
	err = d.users.ForEach(func(k, _ []byte) error {
		switch {
		case isRecordKey(k):
			users++
			last = k
		case version < 6:
			return fmt.Errorf("users key %q is not a user id", k)
		case len(k) != 2*idLen+1 || k[idLen] != 0 || last == nil || !bytes.Equal(k[:idLen], last):
			return fmt.Errorf("users key %q is neither a user id nor a membership of the user before it", k)
		default:
			memberships++
		}
		return nil
	})
	if err != nil || version >= 6 {
		return users, memberships, err
	}
	memberOf := d.bucket.Bucket(bucketMemberOf)
	if memberOf == nil {
		return 0, 0, fmt.Errorf("missing bucket %s", bucketMemberOf)
	}
	return users, memberOf.Stats().KeyN, nil
}

// WriteFile creates the file path from what write writes: into a temporary
// file beside it (mode 0600), fsynced, checked with Verify, then moved to
// path atomically. If path exists, WriteFile fails with an error wrapping
// os.ErrExist unless force is set, in which case path is replaced. On any
// failure the temporary file is removed and path is untouched. It returns
// what Verify found.
func WriteFile(path string, force bool, write func(w io.Writer) error) (Info, error) {
	return createFile(path, force, func(f *os.File) error { return write(f) })
}

// createFile is WriteFile with the temporary file itself.
func createFile(path string, force bool, fill func(f *os.File) error) (Info, error) {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return Info{}, fmt.Errorf("bolt: %s: %w (choose another name, or force)", path, os.ErrExist)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return Info{}, fmt.Errorf("bolt: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name) // after a successful move, name no longer exists
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return Info{}, fmt.Errorf("bolt: %w", err)
	}
	if err := fill(tmp); err != nil {
		tmp.Close()
		return Info{}, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Info{}, fmt.Errorf("bolt: sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, fmt.Errorf("bolt: close %s: %w", name, err)
	}
	info, err := Verify(name)
	if err != nil {
		return Info{}, err
	}
	if err := install(name, path, force); err != nil {
		return Info{}, err
	}
	return info, nil
}

// install moves the finished file tmp to path (both in one directory):
// without force it never replaces an existing path, even one created
// meanwhile.
func install(tmp, path string, force bool) error {
	if force {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("bolt: %w", err)
		}
	} else {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("bolt: %s: %w (choose another name, or force)", path, os.ErrExist)
			}
			return fmt.Errorf("bolt: %w", err)
		}
		_ = os.Remove(tmp)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename or link in dir durable. Not every platform can
// fsync a directory; there the error is ignored.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}

// Restore copies the backup file src to dst after verifying it, and returns
// what the copy holds. If dst exists, Restore fails with an error wrapping
// os.ErrExist unless force is set; with force, it first takes the lock of
// dst (failing with store.ErrLocked if a server holds it, after one second)
// and keeps it until dst is replaced. The copy is verified again before it
// takes dst's name. A file of an older schema is restored as it is; Open
// migrates it.
func Restore(src, dst string, force bool) (Info, error) {
	if _, err := Verify(src); err != nil {
		return Info{}, err
	}
	if _, err := os.Lstat(dst); err == nil {
		if !force {
			return Info{}, fmt.Errorf("bolt: restore: %s: %w (remove it, restore elsewhere, or force)", dst, os.ErrExist)
		}
		held, err := openReadOnly(dst, defaultTimeout)
		if errors.Is(err, store.ErrLocked) {
			return Info{}, fmt.Errorf("bolt: restore: %w", err)
		}
		if err == nil { // an unreadable dst is replaced all the same
			defer held.Close()
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return Info{}, fmt.Errorf("bolt: restore: %w", err)
	}
	defer in.Close()
	return WriteFile(dst, force, func(w io.Writer) error {
		if _, err := io.Copy(w, in); err != nil {
			return fmt.Errorf("bolt: restore: copy %s: %w", src, err)
		}
		return nil
	})
}

// Compact copies the database src into a new file dst without its free
// pages (bbolt.Compact), verifies it, and returns both files' sizes. src
// is opened with an exclusive lock, so a running server makes Compact fail
// (store.ErrLocked) rather than copy a moving file; dst must not exist
// (os.ErrExist). The file never shrinks in place: this is how deleted
// space is given back.
func Compact(src, dst string) (before, after int64, err error) {
	b, err := openExclusive(src)
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	return compactTo(b, dst, false)
}

// CompactInPlace compacts the database file at path (see Compact) and
// replaces it atomically with the compacted, verified copy. When keep is
// not empty, the original file is first kept under that name (a hard link:
// no copy; it must not exist). The exclusive lock on the original is held
// until it is replaced, so no server can start on it meanwhile.
func CompactInPlace(path, keep string) (before, after int64, err error) {
	b, err := openExclusive(path)
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	if keep != "" {
		if err := os.Link(path, keep); err != nil {
			return 0, 0, fmt.Errorf("bolt: compact: keep the original: %w", err)
		}
	}
	before, after, err = compactTo(b, path, true)
	if err != nil && keep != "" {
		_ = os.Remove(keep) // path is untouched
	}
	return before, after, err
}

// openExclusive opens a database file for compaction without running
// migrations, failing with store.ErrLocked if a server holds it.
func openExclusive(path string) (*bbolt.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("bolt: compact: %w", err)
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: defaultTimeout, FreelistType: bbolt.FreelistArrayType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: compact %s: %w (waited %s for the file lock; stop the server first)", path, store.ErrLocked, defaultTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: compact %s: %w: %v", path, ErrInvalidFile, err)
	}
	if err := b.View(func(tx *bbolt.Tx) error { _, err := checkSchema(tx); return err }); err != nil {
		b.Close()
		return nil, fmt.Errorf("bolt: compact %s: %w", path, err)
	}
	return b, nil
}

func compactTo(src *bbolt.DB, dst string, force bool) (before, after int64, err error) {
	fi, err := os.Stat(src.Path())
	if err != nil {
		return 0, 0, fmt.Errorf("bolt: compact: %w", err)
	}
	before = fi.Size()
	info, err := createFile(dst, force, func(f *os.File) error {
		// bbolt writes the copy through its own handle on the empty
		// temporary file; createFile fsyncs and verifies it afterwards.
		out, err := bbolt.Open(f.Name(), 0o600, &bbolt.Options{Timeout: defaultTimeout, NoSync: true, FreelistType: bbolt.FreelistArrayType})
		if err != nil {
			return fmt.Errorf("bolt: compact: %w", err)
		}
		if err := bbolt.Compact(out, src, compactTxMaxSize); err != nil {
			out.Close()
			return fmt.Errorf("bolt: compact: %w", err)
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return fmt.Errorf("bolt: compact: %w", err)
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("bolt: compact: %w", err)
		}
		return nil
	})
	if err != nil {
		return before, 0, err
	}
	return before, info.Size, nil
}
