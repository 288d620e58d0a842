package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// Usage lines of the backup commands.
const (
	backupUsage  = "usage: scimbridge backup --out FILE (--url URL --token SUPER_TOKEN | --data PATH) [--force]"
	restoreUsage = "usage: scimbridge restore --in FILE --data PATH [--force]"
	compactUsage = "usage: scimbridge compact --data PATH [--keep=false]"
)

// describe is the one-line summary of a database file.
func describe(info bolt.Info) string {
	return fmt.Sprintf("%s, schema %d: %d orgs, %d directories, %d users, %d groups",
		humanBytes(info.Size), info.SchemaVersion, info.Orgs, info.Directories, info.Users, info.Groups)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// fileError turns the errors of store/bolt's file operations into what a
// person can act on.
func fileError(cmd, path string, err error) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		hint := "stop it first"
		if cmd == "backup" {
			hint = "take an online backup with --url and --token instead"
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %s is in use by a running scimbridge server (%s): %v", cmd, path, hint, err)}
	case errors.Is(err, os.ErrExist):
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %s already exists; choose another path or pass --force", cmd, path)}
	case errors.Is(err, bolt.ErrInvalidFile):
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", cmd, err)}
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// backupCommand writes a verified snapshot of the database to --out:
// online through a running server's admin API (--url, --token: a super
// token), or offline from the file (--data; fails fast if a server holds
// it). The file appears under --out only once it is complete and verified.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "server URL for an online backup, e.g. http://127.0.0.1:8080 (env SCIMBRIDGE_URL)")
	token := fs.String("token", "", "super token, for an online backup (env SCIMBRIDGE_TOKEN)")
	data := fs.String("data", "", "database file, for an offline backup (server stopped)")
	out := fs.String("out", "", "backup file to create (required)")
	force := fs.Bool("force", false, "replace --out if it exists")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rawURL == "" && *data == "" {
		*rawURL = getenv("SCIMBRIDGE_URL")
	}
	if *token == "" {
		*token = getenv("SCIMBRIDGE_TOKEN")
	}
	if *out == "" || fs.NArg() > 0 || (*rawURL == "") == (*data == "") || (*rawURL != "" && *token == "") {
		return &exitError{code: 2, msg: backupUsage}
	}
	start := time.Now()
	var (
		info bolt.Info
		err  error
		from string
	)
	if *data != "" {
		from = *data
		info, err = bolt.WriteFile(*out, *force, func(w io.Writer) error {
			_, err := bolt.BackupFile(ctx, *data, time.Second, w)
			return err
		})
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				return fileError("backup", *out, err)
			}
			return fileError("backup", *data, err)
		}
	} else {
		from = strings.TrimRight(*rawURL, "/")
		info, err = bolt.WriteFile(*out, *force, func(w io.Writer) error {
			return download(ctx, from+admin.BackupPath, *token, w)
		})
		if err != nil {
			return fileError("backup", *out, err)
		}
	}
	fmt.Fprintf(stdout, "backup of %s written to %s in %s (%s), verified\n", from, *out, time.Since(start).Round(time.Millisecond), describe(info))
	return nil
}

// download fetches a snapshot from the admin API into w and checks its
// announced size and its hash trailer.
func download(ctx context.Context, url, token string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// No overall timeout: a large database takes as long as it takes;
	// ctx (Ctrl-C) stops it.
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		if res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusUnauthorized {
			return &exitError{code: 1, msg: fmt.Sprintf("backup: %s: %v (backups need a super token)", url, apiErr(res.StatusCode, raw))}
		}
		return fmt.Errorf("GET %s: %w", url, apiErr(res.StatusCode, raw))
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), res.Body)
	if err != nil {
		return fmt.Errorf("download %s after %d bytes: %w", url, n, err)
	}
	if size := res.Header.Get(admin.HeaderBackupSize); size != "" && size != strconv.FormatInt(n, 10) {
		return fmt.Errorf("download %s: got %d bytes; the server announced %s", url, n, size)
	}
	if want := res.Trailer.Get(admin.TrailerBackupHash); want != "" && want != hex.EncodeToString(h.Sum(nil)) {
		return fmt.Errorf("download %s: the SHA-256 of the %d bytes received differs from the server's", url, n)
	}
	return nil
}

// restoreCommand puts a backup in place as a database file after
// verifying it. It refuses an existing --data unless --force, and a --data
// that a running server holds in any case.
func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "backup file (required)")
	data := fs.String("data", "", "database file to create (env SCIMBRIDGE_DATA; default scimbridge.db)")
	force := fs.Bool("force", false, "replace --data if it exists (never while a server runs on it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || fs.NArg() > 0 {
		return &exitError{code: 2, msg: restoreUsage}
	}
	path := dataPath(*data, getenv)
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := bolt.Restore(*in, path, *force)
	if err != nil {
		if errors.Is(err, bolt.ErrInvalidFile) {
			return &exitError{code: 1, msg: fmt.Sprintf("restore: %s is not a usable backup, nothing was changed: %v", *in, err)}
		}
		return fileError("restore", path, err)
	}
	note := ""
	if info.SchemaVersion < bolt.SchemaVersion() {
		note = fmt.Sprintf("; the server migrates it to schema %d when it starts", bolt.SchemaVersion())
	}
	fmt.Fprintf(stdout, "restored %s to %s (%s)%s\n", *in, path, describe(info), note)
	return nil
}

// compactCommand rewrites a database file without its free pages. The
// server must be stopped. The compacted copy is verified, then replaces the
// file atomically; the original is kept as PATH.bak (a hard link: no extra
// space until the compacted file replaces it) unless --keep=false.
func compactCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "database file (env SCIMBRIDGE_DATA; default scimbridge.db)")
	keep := fs.Bool("keep", true, "keep the original file as PATH.bak (it must not exist yet)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, msg: compactUsage}
	}
	path := dataPath(*data, getenv)
	if err := ctx.Err(); err != nil {
		return err
	}
	bak := ""
	if *keep {
		bak = path + ".bak"
		if _, err := os.Lstat(bak); err == nil {
			return &exitError{code: 1, msg: fmt.Sprintf("compact: %s exists (an earlier compaction's original?); remove it or pass --keep=false", bak)}
		}
	}
	start := time.Now()
	before, after, err := bolt.CompactInPlace(path, bak)
	if err != nil {
		return fileError("compact", path, err)
	}
	kept := ""
	if bak != "" {
		kept = "; the original is kept as " + bak
	}
	fmt.Fprintf(stdout, "compacted %s from %s to %s in %s, verified%s\n", path, humanBytes(before), humanBytes(after), time.Since(start).Round(time.Millisecond), kept)
	return nil
}
