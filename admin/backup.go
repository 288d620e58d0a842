package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/internal/bearer"
	"github.com/scimbridge/scimbridge/store"
)

// BackupPath is where a super token downloads a snapshot of the database.
const BackupPath = "/admin/v1/backup"

// Headers of a backup response. The size and schema are sent before the
// body; the SHA-256 (hex) of the body follows it as a trailer.
const (
	HeaderBackupSize   = "X-Scimbridge-Backup-Size"
	HeaderBackupSchema = "X-Scimbridge-Backup-Schema"
	TrailerBackupHash  = "X-Scimbridge-Backup-Sha256"
)

// Backupper is the optional capability of a store to write a consistent
// snapshot of all its data (store/bolt: a complete bbolt file).
type Backupper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// BackupHandler serves GET BackupPath: a snapshot of the whole database as
// application/octet-stream, to super tokens only. An admin token of an org
// gets 403 (it is authenticated but a backup holds every org); no token,
// an unknown, expired or SCIM token gets 401; a store without Backupper 501.
// The snapshot is one read transaction held while the body streams (see
// bolt.DB.Backup): the server keeps serving writes, but a slow client keeps
// the transaction open, so fetch it to a local disk.
func BackupHandler(st store.Store, cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &backupHandler{store: st, now: cfg.Now}
}

// registerBackup mounts BackupHandler on s (called from New).
func (s *Server) registerBackup() {
	s.mux.Handle("GET "+BackupPath, BackupHandler(s.store, s.cfg))
}

type backupHandler struct {
	store store.Store
	now   func() time.Time
}

func (h *backupHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		fail(w, r, err)
	}
}

func (h *backupHandler) serve(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.authenticateSuper(r); err != nil {
		return err
	}
	b, ok := h.store.(Backupper)
	if !ok {
		return errorf(http.StatusNotImplemented, "not_implemented", "this store backend cannot take backups")
	}
	log := hlog.FromRequest(r)
	bw := &backupWriter{w: w, hash: sha256.New()}
	start := time.Now()
	n, err := b.Backup(r.Context(), bw)
	if err != nil {
		if !bw.started {
			return err
		}
		// The status is sent: cut the body short, so the client sees a
		// length mismatch (and no hash trailer) rather than a whole file.
		log.Error().Err(err).Int64("bytes", n).Msg("backup failed while streaming")
		panic(http.ErrAbortHandler)
	}
	bw.start(n, 0) // a store that did not announce the size
	w.Header().Set(TrailerBackupHash, hex.EncodeToString(bw.hash.Sum(nil)))
	log.Info().Int64("bytes", n).Dur("took", time.Since(start)).Msg("backup served")
	return nil
}

// authenticateSuper accepts only a valid super token.
func (h *backupHandler) authenticateSuper(r *http.Request) (store.Token, error) {
	unauthorized := errorf(http.StatusUnauthorized, "unauthorized", "a valid super token is required")
	tok, ok, err := bearer.Lookup(r, h.store)
	if err != nil {
		return store.Token{}, err
	}
	if !ok {
		return store.Token{}, unauthorized
	}
	switch {
	case tok.Expired(h.now()):
		return store.Token{}, unauthorized
	case tok.Kind == store.TokenAdmin:
		return store.Token{}, errorf(http.StatusForbidden, "forbidden", "backups need a super token; an org's admin token cannot take them")
	case tok.Kind != store.TokenSuper:
		return store.Token{}, unauthorized
	}
	hlog.FromRequest(r).UpdateContext(func(c zerologContext) zerologContext {
		return c.Str("token_id", tok.ID)
	})
	return tok, nil
}

// backupWriter sends the headers when the store announces the snapshot
// (bolt.BackupStarter) or at the first byte, and hashes the body.
type backupWriter struct {
	w       http.ResponseWriter
	hash    hash.Hash
	started bool
}

// BackupStarted implements bolt.BackupStarter.
func (b *backupWriter) BackupStarted(size int64, schema int) { b.start(size, schema) }

func (b *backupWriter) start(size int64, schema int) {
	if b.started {
		return
	}
	b.started = true
	h := b.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="scimbridge-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
	h.Set("Cache-Control", "no-store")
	// No Content-Length: the body is chunked so that the hash can follow
	// as a trailer; a body cut short lacks the last chunk, which clients
	// report as an unexpected EOF.
	h.Set("Trailer", TrailerBackupHash)
	if size > 0 {
		h.Set(HeaderBackupSize, strconv.FormatInt(size, 10))
	}
	if schema > 0 {
		h.Set(HeaderBackupSchema, strconv.Itoa(schema))
	}
	b.w.WriteHeader(http.StatusOK)
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if !b.started {
		b.start(0, 0)
	}
	// A large backup over a slow link outlasts the server's write
	// timeout: keep pushing the deadline while bytes flow, so only a
	// stalled client is cut off.
	_ = http.NewResponseController(b.w).SetWriteDeadline(time.Now().Add(time.Minute))
	b.hash.Write(p)
	return b.w.Write(p)
}
