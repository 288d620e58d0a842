package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Sealer seals the secrets the server must use again (SAML SP keys, OIDC
// client secrets) with AES-256-GCM. Its key is kept outside the database,
// so a copy of the database or a backup does not hold those secrets in
// clear; the key file must be backed up separately.
type Sealer struct {
	aead cipher.AEAD
}

// sealVersion starts every sealed value, so the format can change.
const sealVersion = 1

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sso: sealing key has %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sso: sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sso: sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// LoadOrCreateKey reads the sealing key file at path (base64, one line),
// creating it with a new random key (mode 0600) when it does not exist.
func LoadOrCreateKey(path string) (*Sealer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("sso: new sealing key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sso: create sealing key %s: %w", path, err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("sso: write sealing key %s: %w", path, err)
		}
		return NewSealer(key)
	}
	if err != nil {
		return nil, fmt.Errorf("sso: read sealing key %s: %w", path, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("sso: sealing key %s is not base64: %w", path, err)
	}
	return NewSealer(key)
}

// Seal encrypts plain; label binds the sealed value to its use (a value
// sealed as one directory's client secret does not open as another's).
func (s *Sealer) Seal(plain []byte, label string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sso: seal: %w", err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(label)), nil
}

// Open decrypts what Seal returned for the same label.
func (s *Sealer) Open(sealed []byte, label string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("sso: sealed value is malformed")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(label))
	if err != nil {
		return nil, errors.New("sso: sealed value does not open with this key (was the key file replaced?)")
	}
	return plain, nil
}
